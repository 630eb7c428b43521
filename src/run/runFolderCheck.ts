// A run folder holds a model, its optimizer state and the event log: another local user must not read or
// swap them (folders 0700, files 0600, whatever the umask), and a symbolic link inside it (a cloned
// repository's .hima/runs) must not make HiMA read or write somewhere the user never named. The trainer
// side is trainer/hima/app/run_folder.py; both check the entries the protocol schema lists ($defs/RunFolder).
import { chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, promises as fs } from "node:fs";
import { dirname, join } from "node:path";
import { RUN_FOLDER } from "../../protocol/protocol.generated";

/** Every entry of a run folder ($defs/RunFolder in the protocol schema). */
export const RUN_ENTRIES: readonly string[] = Object.values(RUN_FOLDER);
const NOFOLLOW = constants.O_NOFOLLOW ?? 0; // absent on Windows

export function linkRefused(path: string): string {
  return `${path} is a symbolic link; HiMA does not follow links inside a run folder (remove it)`;
}

/** Why HiMA will not use this run folder (a symbolic link among its entries), or null. */
export async function runFolderProblem(runDir: string): Promise<string | null> {
  for (const entry of [...RUN_ENTRIES, join(RUN_FOLDER.checkpoints, "latest")]) {
    const st = await fs.lstat(join(runDir, entry)).catch(() => null);
    if (st?.isSymbolicLink()) return linkRefused(join(runDir, entry));
  }
  return null;
}

/** Creates `runDir` (and missing parents); a run folder created here is 0700 whatever the umask. */
export function makePrivateRunFolder(runDir: string): void {
  mkdirSync(dirname(runDir), { recursive: true });
  try {
    mkdirSync(runDir, { mode: 0o700 });
    chmodSync(runDir, 0o700); // mkdir's mode is masked by the umask
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const st = lstatSync(runDir);
  if (st.isSymbolicLink()) throw new Error(linkRefused(runDir));
  if (!st.isDirectory()) throw new Error(`${runDir} exists and is not a folder`);
}

function refuseLink(path: string, e: unknown): never {
  if ((e as NodeJS.ErrnoException).code === "ELOOP") throw new Error(linkRefused(path));
  throw e;
}

/** A descriptor for appending to a run folder's file: never through a link, created 0600. */
export function openForAppendSync(path: string): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | NOFOLLOW, 0o600);
  } catch (e) {
    refuseLink(path, e);
  }
}

/** Appends `text` to a run folder's file: never through a link, created 0600. */
export function appendPrivateFile(path: string, text: string): Promise<void> {
  return writeRunFile(path, constants.O_APPEND, text);
}

/** Replaces a run folder's file with `text`: never through a link, 0600. */
export function writePrivateFile(path: string, text: string): Promise<void> {
  return writeRunFile(path, constants.O_TRUNC, text);
}

async function writeRunFile(path: string, mode: number, text: string): Promise<void> {
  const handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | mode | NOFOLLOW, 0o600).catch((e) => refuseLink(path, e));
  try {
    await handle.writeFile(text); // at the end of the file with O_APPEND
  } finally {
    await handle.close();
  }
}

/** Opens a run folder's file for reading, never through a link (a link to a FIFO or /dev/zero would hang us). */
export async function openForRead(path: string): Promise<fs.FileHandle> {
  return fs.open(path, constants.O_RDONLY | NOFOLLOW).catch((e) => refuseLink(path, e));
}

/** Reads a run folder's (small) text file, never through a link. */
export async function readRunFile(path: string): Promise<string> {
  const handle = await openForRead(path);
  try {
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/** readRunFile, synchronously (for a signal that must go out now). */
export function readRunFileSync(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
  } catch (e) {
    refuseLink(path, e);
  }
  try {
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
