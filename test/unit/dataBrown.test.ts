// Brown corpus -> GPT-2 token files: readable English, correct meta.json, deterministic, reduced vocabulary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { prepareDataset, type PrepareProgress, type PreparedDataset } from "../../src/data/prepareDataset";
import { decodeGpt2, readMeta, readTokens, tempDir } from "./dataTestHelpers";

const EOT = 50256;
const tmp = tempDir("hima-brown-");
const fullDir = join(tmp.dir, "full");
const progress: PrepareProgress[] = [];
let full: PreparedDataset;

before(async () => {
  full = await prepareDataset({ source: { kind: "brown" }, outDir: fullDir }, (p) => progress.push(p));
});
after(() => tmp.cleanup());

test("meta.json describes the token files exactly", () => {
  const meta = readMeta(fullDir);
  assert.deepEqual(Object.keys(meta).sort(), ["n_train", "n_val", "source", "token_map", "tokenizer", "vocab_size"]);
  assert.equal(meta.tokenizer, "gpt2");
  assert.equal(meta.vocab_size, 50257);
  assert.equal(meta.token_map, null);
  assert.equal(meta.source, "brown");
  assert.equal(meta.n_train, statSync(join(fullDir, "train.bin")).size / 2);
  assert.equal(meta.n_val, statSync(join(fullDir, "val.bin")).size / 2);
  assert.ok((meta.n_train as number) > 1_000_000, `Brown should give over 1M train tokens, got ${meta.n_train}`);
  const { stats, ...returned } = full;
  assert.deepEqual(returned, meta, "the returned meta is what was written");
  assert.equal(stats.trainDocuments + stats.valDocuments, 500);
  assert.equal(stats.valDocuments, 25, "default valFraction 0.05 sends every 20th document to val");
});

test("every one of the 500 documents ends with <|endoftext|>", () => {
  const train = readTokens(join(fullDir, "train.bin"));
  const val = readTokens(join(fullDir, "val.bin"));
  const count = (ids: number[]) => ids.filter((id) => id === EOT).length;
  assert.equal(count(train), 475);
  assert.equal(count(val), 25);
  assert.equal(train.at(-1), EOT);
  assert.equal(val.at(-1), EOT);
});

test("decoded text is readable English with the POS tags stripped", () => {
  const text = decodeGpt2(readTokens(join(fullDir, "train.bin")).slice(0, 200_000));
  assert.ok(text.startsWith("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election"), text.slice(0, 120));
  assert.match(text, /produced "no evidence" that any irregularities took place\./);
  assert.doesNotMatch(text, /\w\/(at|nn|np|vbd|in|jj|cc|nns)\b/, "no word/TAG left");
  assert.doesNotMatch(text, /``|''/, "Brown's quote tokens become plain double quotes");
  const spacedPunctuation = (text.match(/ [.,;:?!]/g) ?? []).length;
  assert.ok(spacedPunctuation < text.length / 2000, `punctuation should hug the word before it (${spacedPunctuation} spaced)`);
});

test("val.bin decodes to readable English too", () => {
  const text = decodeGpt2(readTokens(join(fullDir, "val.bin")).slice(0, 5000));
  assert.match(text, /\b(the|and|of)\b/);
  assert.doesNotMatch(text, /\w\/(at|nn|in)\b/);
});

test("progress goes reading -> tokenizing -> writing, ends complete, and is rate-limited", () => {
  const phases = progress.map((p) => p.phase).filter((ph, i, all) => ph !== all[i - 1]);
  assert.deepEqual(phases, ["reading", "tokenizing", "writing"]);
  for (const p of progress) assert.ok(p.done <= p.total, JSON.stringify(p));
  const lastTokenizing = progress.filter((p) => p.phase === "tokenizing").at(-1);
  assert.deepEqual(lastTokenizing, { phase: "tokenizing", done: 500, total: 500 });
  const last = progress.at(-1)!;
  assert.equal(last.done, last.total);
  assert.ok(progress.length < 200, `${progress.length} progress reports for 500 documents`);
});

test("two runs produce byte-identical files", async () => {
  const againDir = join(tmp.dir, "again");
  await prepareDataset({ source: { kind: "brown" }, outDir: againDir });
  for (const f of ["train.bin", "val.bin", "meta.json"]) {
    assert.ok(readFileSync(join(fullDir, f)).equals(readFileSync(join(againDir, f))), `${f} differs between runs`);
  }
});

test("a reduced vocabulary maps back to the same GPT-2 tokens, everything else to the last id <unk>", async () => {
  const smallDir = join(tmp.dir, "small");
  const small = await prepareDataset({ source: { kind: "brown" }, outDir: smallDir, vocabSize: 4096 });
  const meta = readMeta(smallDir);
  const tokenMap = meta.token_map as number[];
  assert.equal(meta.vocab_size, 4096);
  assert.equal(tokenMap.length, 4096);
  assert.equal(tokenMap[4095], -1, "the last local id is <unk>");
  const kept = tokenMap.slice(0, -1);
  assert.ok(kept.every((id, i) => i === 0 || id > kept[i - 1]), "kept GPT-2 ids are in ascending order");
  assert.ok(kept.includes(EOT), "<|endoftext|> is always kept");
  const keptSet = new Set(kept);
  assert.equal(meta.n_train, full.n_train, "same documents, same token count");

  for (const split of ["train.bin", "val.bin"]) {
    const original = readTokens(join(fullDir, split));
    const local = readTokens(join(smallDir, split));
    assert.equal(local.length, original.length);
    let unk = 0;
    for (let i = 0; i < local.length; i++) {
      assert.ok(local[i] < 4096, `local id ${local[i]} out of range`);
      if (local[i] === 4095) {
        unk++;
        assert.ok(!keptSet.has(original[i]), `GPT-2 id ${original[i]} is kept but was written as <unk>`);
      } else if (tokenMap[local[i]] !== original[i]) {
        assert.fail(`${split}[${i}]: local ${local[i]} maps to ${tokenMap[local[i]]}, expected ${original[i]}`);
      }
    }
    const rate = split === "train.bin" ? small.stats.unkRate!.train : small.stats.unkRate!.val;
    assert.equal(rate, unk / local.length, `${split} unk rate reported`);
  }
  assert.ok(small.stats.unkRate!.train > 0 && small.stats.unkRate!.train < 0.25, `train unk rate ${small.stats.unkRate!.train}`);
  // The kept ids are the most frequent ones: the text survives the round trip mostly intact.
  const roundTrip = decodeGpt2(readTokens(join(smallDir, "train.bin")).slice(0, 300).filter((id) => id !== 4095).map((id) => tokenMap[id]));
  assert.match(roundTrip, /said Friday an investigation of Atlanta.s recent primary election/);
});
