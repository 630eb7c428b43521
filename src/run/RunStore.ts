// Run folders: .hima/runs/<run-id>/ with events.jsonl (written by the trainer), config.json (what was
// launched), stderr.log and checkpoints/. A run id is validated before it becomes a path, so a run id
// read from anywhere can never point outside the runs folder.
import { promises as fs } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { isRunId } from "../../protocol/contract";
import { RUN_FOLDER, type Event } from "../../protocol/protocol.generated";
import { JsonLinesReader } from "./JsonLinesReader";
import { makePrivateRunFolder, openForRead, readRunFile, writePrivateFile } from "./runFolderCheck";
import { validateEvent } from "./validateEvent";

/** How much of the end of events.jsonl listRuns reads to find the last step and a `done`. */
const TAIL_BYTES = 64 * 1024;

/** What config.json records about a launch. */
export interface RunConfig {
  runId: string;
  createdAt: string;
  command: string;
  args: string[];
  cwd: string;
  preset: string | null;
  configFile: string | null;
  method: string | null;
  dataDir: string;
  maxSteps: number | null;
  /** Training processes (torch.distributed.run when > 1), so a resume launches as many. Absent in runs
   * recorded before it was: 1. */
  processes?: number;
  /** Which front end started it ("cli", "vscode"). */
  /** Base weights the run started from (fine-tuning), or null. Absent in runs recorded before it existed. */
  initFrom?: string | null;
  launchedBy: string;
}

export interface RunListing {
  id: string;
  dir: string;
  method: string | null;
  preset: string | null;
  steps: number | null;
  status: "done" | "incomplete";
  mtime: number;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** A sortable, unique-enough id: 20261126-123456-ab12 (local time). */
export function newRunId(now: Date = new Date()): string {
  const date = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return `${date}-${time}-${randomBytes(2).toString("hex")}`;
}

export function runDirFor(runsDir: string, runId: string): string {
  if (typeof runId !== "string" || !isRunId(runId)) {
    throw new Error(`invalid run id ${JSON.stringify(String(runId).slice(0, 140))}: expected letters, digits, '.', '_' or '-'`);
  }
  return join(resolve(runsDir), runId);
}

export async function writeRunConfig(runDir: string, config: RunConfig): Promise<void> {
  makePrivateRunFolder(runDir);
  await writePrivateFile(join(runDir, RUN_FOLDER.config), `${JSON.stringify(config, null, 2)}\n`);
}

export async function readRunConfig(runDir: string): Promise<Partial<RunConfig> | null> {
  try {
    const value: unknown = JSON.parse(await readRunFile(join(runDir, RUN_FOLDER.config)));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Partial<RunConfig>) : null;
  } catch {
    return null;
  }
}

/** Runs under runsDir, newest first. Folders that are not runs (bad names, no files) are left out. */
export async function listRuns(runsDir: string): Promise<RunListing[]> {
  let names: string[];
  try {
    names = await fs.readdir(runsDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const runs: RunListing[] = [];
  for (const id of names) {
    if (!isRunId(id)) continue;
    const dir = runDirFor(runsDir, id);
    // lstat: a symbolic link could lead out of the runs folder; run folders are real directories.
    const dirStat = await fs.lstat(dir).catch(() => null);
    if (!dirStat?.isDirectory()) continue;
    const config = await readRunConfig(dir);
    // lstat: a linked event log is never read (the run is listed; runFolderProblem says what is wrong).
    const eventsEntry = await fs.lstat(join(dir, RUN_FOLDER.events)).catch(() => null);
    const eventsStat = eventsEntry?.isFile() ? eventsEntry : null;
    if (!config && !eventsEntry) continue;
    const head = eventsStat ? await readHello(join(dir, RUN_FOLDER.events)) : null;
    const tail = eventsStat ? await readLogTail(join(dir, RUN_FOLDER.events), eventsStat.size) : { steps: null, done: false };
    runs.push({
      id,
      dir,
      method: config?.method ?? head?.method ?? null,
      preset: config?.preset ?? head?.model.preset ?? null,
      steps: tail.steps,
      status: tail.done ? "done" : "incomplete",
      mtime: (eventsStat ?? dirStat).mtimeMs,
    });
  }
  return runs.sort((a, b) => b.mtime - a.mtime);
}

/** Every valid event of a run, in order; `skipped` counts lines that were not valid events. */
export async function readRunEvents(runDir: string): Promise<{ events: Event[]; skipped: number; torn: boolean }> {
  const events: Event[] = [];
  let skipped = 0;
  let torn = false;
  const reader = new JsonLinesReader(
    (value) => {
      const e = validateEvent(value);
      if (typeof e === "string") skipped++;
      else events.push(e);
    },
    (_text, reason) => {
      skipped++;
      if (reason.startsWith("torn")) torn = true;
    },
  );
  const handle = await openForRead(join(runDir, RUN_FOLDER.events));
  const stream = handle.createReadStream();
  for await (const chunk of stream) reader.push(chunk as Buffer);
  reader.end();
  return { events, skipped, torn };
}

async function readHello(file: string): Promise<Extract<Event, { type: "hello" }> | null> {
  // The hello line carries every tensor, so it can be long; read lines until the first event.
  const stream = (await openForRead(file)).createReadStream({ highWaterMark: 64 * 1024 });
  let hello: Extract<Event, { type: "hello" }> | null = null;
  let sawEvent = false;
  const reader = new JsonLinesReader((value) => {
    if (sawEvent) return;
    const e = validateEvent(value);
    if (typeof e === "string") return;
    sawEvent = true;
    if (e.type === "hello") hello = e;
  }, () => {});
  for await (const chunk of stream) {
    reader.push(chunk as Buffer);
    if (sawEvent) break;
  }
  stream.destroy();
  return hello;
}

/**
 * The last step and whether the log's LAST segment ended: its last hello-or-done is a done. A resumed run's
 * log holds an earlier segment's done followed by a new hello, which is not finished.
 */
export async function readLogTail(file: string, size: number): Promise<{ steps: number | null; done: boolean }> {
  const start = Math.max(0, size - TAIL_BYTES);
  const handle = await openForRead(file);
  try {
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    let steps: number | null = null;
    let done = false;
    // The first line of the tail may be cut; the reader reports it as noise and moves on.
    const reader = new JsonLinesReader((value) => {
      const e = validateEvent(value);
      if (typeof e === "string") return;
      if ("step" in e && typeof e.step === "number") steps = Math.max(steps ?? 0, e.step);
      if (e.type === "done") done = true;
      else if (e.type === "hello") done = false;
    }, () => {});
    reader.push(buf);
    reader.end();
    return { steps, done };
  } finally {
    await handle.close();
  }
}
