// Writes train.bin / val.bin / meta.json so that a cancelled or crashed run never leaves a dataset that looks
// complete: everything is written under temporary names first, the old meta.json is removed, the token
// files are renamed into place, and meta.json is renamed LAST. meta.json present => the three files agree.
import { mkdir, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { tokensToLittleEndianBytes } from "./tokenBuffer";

export const DATASET_FILES = ["train.bin", "val.bin", "meta.json"] as const;

export interface DatasetContent {
  train: Uint16Array;
  val: Uint16Array;
  meta: object;
}

/**
 * `checkpoint` is called between the writes (it throws to cancel); `onWritten(bytesDone, bytesTotal)`
 * reports progress.
 */
export async function writeDatasetFiles(
  outDir: string,
  content: DatasetContent,
  checkpoint: () => void,
  onWritten: (done: number, total: number) => void,
): Promise<void> {
  const createdDir = !(await exists(outDir));
  await mkdir(outDir, { recursive: true });

  const suffix = `.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
  const payloads: Array<[string, Uint8Array]> = [
    ["train.bin", tokensToLittleEndianBytes(content.train)],
    ["val.bin", tokensToLittleEndianBytes(content.val)],
    ["meta.json", Buffer.from(JSON.stringify(content.meta, null, 2) + "\n", "utf8")],
  ];
  const total = payloads.reduce((n, [, bytes]) => n + bytes.length, 0);
  const temps = payloads.map(([name]) => join(outDir, name + suffix));
  try {
    let done = 0;
    for (let i = 0; i < payloads.length; i++) {
      checkpoint();
      await writeFile(temps[i], payloads[i][1]);
      done += payloads[i][1].length;
      onWritten(done, total);
    }
    checkpoint(); // the last point where cancelling is honoured: after this the renames always complete
    await rm(join(outDir, "meta.json"), { force: true });
    for (let i = 0; i < payloads.length; i++) await rename(temps[i], join(outDir, payloads[i][0]));
  } catch (e) {
    await Promise.all(temps.map((t) => rm(t, { force: true }).catch(() => undefined)));
    if (createdDir) await rmdir(outDir).catch(() => undefined); // only if still empty
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
