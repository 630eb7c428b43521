// A trainer that outlives the window that started it. It runs detached (its own process group, stdout
// ignored, stderr straight into <runDir>/stderr.log, unref'd); its events.jsonl is the source of truth and
// is followed like `tail -f`; controls go through the Unix socket in the run folder. The same object
// attaches to a trainer that an earlier window started (found through <runDir>/trainer.json).
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, promises as fs, statSync } from "node:fs";
import { join } from "node:path";
import type { Event } from "../../protocol/protocol.generated";
import { RUN_FOLDER } from "../../protocol/protocol.generated";
import { ControlChannel } from "./ControlChannel";
import { EventLogFollower } from "./EventLogFollower";
import { clipStderrLine, exitLogLine, STDERR_TAIL_LINES, TrainerProcess, type TrainerExit, type TrainerLaunch } from "./TrainerHandle";
import { isTrainerOf, leadsProcessGroup, readTrainerRecord, type TrainerRecord } from "./TrainerRecord";
import { safeKill, signalLaunch } from "./launchSignals";
import { controlSocketArgs } from "./trainerCommand";
import { appendPrivateFile, makePrivateRunFolder, openForAppendSync, openForRead } from "./runFolderCheck";

/**
 * What to launch: the same fields as a piped trainer (`args` gets `--control-socket <runDir>/control.sock`
 * appended); a detached trainer always leads its own process group.
 */
export type DetachedLaunch = Omit<TrainerLaunch, "newProcessGroup">;

export interface DetachedRunOptions {
  /** How often an attached trainer's pid is checked (ms). */
  livenessPollMs?: number;
  /** The follower's polling interval (ms). */
  followPollMs?: number;
  /** How long a control waits for the trainer's socket to accept a connection (ms). */
  connectTimeoutMs?: number;
  /** After SIGTERM, how long before SIGKILL (ms). */
  termGraceMs?: number;
}

const STDERR_TAIL_BYTES = 64 * 1024;
const DEFAULT_LIVENESS_POLL_MS = 1000;


export class DetachedRun extends TrainerProcess {
  readonly exited: Promise<TrainerExit>;
  private readonly follower: EventLogFollower;
  private readonly channel: ControlChannel;
  private resolveExit!: (e: TrainerExit) => void;
  private finishing = false;
  private sawDone = false;
  private released = false;
  private livenessTimer: NodeJS.Timeout | null = null;
  private spawnError: string | null = null;

  /** Starts the trainer detached. Spawn failures are reported through `exited`, never thrown. */
  static launch(launch: DetachedLaunch, opts: DetachedRunOptions = {}): DetachedRun {
    return new DetachedRun(launch.runId, launch.runDir, null, launch, opts);
  }

  /**
   * Follows a trainer that another process started. The caller found `record` with findLiveRun (the pid is
   * this run's trainer); the whole log is replayed, then new events follow.
   */
  static attach(runId: string, runDir: string, record: TrainerRecord, opts: DetachedRunOptions = {}): DetachedRun {
    return new DetachedRun(runId, runDir, record, null, opts);
  }

  private child: ChildProcess | null = null;
  private pid: number | null;
  private readonly startedMs: number | null;

  private constructor(
    readonly runId: string,
    readonly runDir: string,
    record: TrainerRecord | null,
    launch: DetachedLaunch | null,
    private readonly opts: DetachedRunOptions,
  ) {
    super(opts.termGraceMs);
    this.exited = new Promise((r) => (this.resolveExit = r));
    this.channel = new ControlChannel(runDir, opts.connectTimeoutMs);
    this.pid = record?.pid ?? null;
    this.startedMs = record?.startedMs ?? null;
    // What the log holds already is history: an earlier segment of a resumed run, or what an attached
    // trainer did before this window came. It is replayed into the panel, flagged as such.
    const replayUntil = fileSizeSync(join(runDir, RUN_FOLDER.events));
    this.follower = new EventLogFollower(join(runDir, RUN_FOLDER.events), (e, replayed) => this.deliver(e, replayed), (t, r) => this.reportNoise(t, r), {
      pollMs: opts.followPollMs,
      replayUntil,
    });
    this.follower.start();
    if (launch) this.spawnTrainer(launch);
    else this.watchPid();
  }

  get attached(): boolean {
    return this.child === null && this.spawnError === null;
  }

  /** The trainer's pid (undefined when it could not be started). */
  get trainerPid(): number | undefined {
    return this.pid ?? undefined;
  }

  protected canSend(): boolean {
    return !this.finishing;
  }

  /**
   * Through the run's socket; when it is gone (a trainer from before sockets, or a hung one) the control
   * failed, and a stop in progress goes on to the signals at once.
   */
  protected writeControl(id: string, line: string): void {
    this.channel.send(line).catch((err: Error) => {
      this.controlFailedListeners.emit(id, err.message);
    });
  }

  stderrTail(): string[] {
    return this.spawnError ? [this.spawnError] : [];
  }

  /** Stops following; the trainer keeps training and can be attached again. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.stopSequence.cancel();
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.channel.close();
    void this.follower.close();
    this.eventListeners.clear();
    this.exitListeners.clear();
    this.noiseListeners.clear();
  }

  private spawnTrainer(launch: DetachedLaunch): void {
    let stderrFd: number | null = null;
    try {
      makePrivateRunFolder(launch.runDir);
      stderrFd = openForAppendSync(join(launch.runDir, RUN_FOLDER.stderr));
      this.child = spawn(launch.command, [...launch.args, ...controlSocketArgs(launch.runDir)], {
        cwd: launch.cwd,
        env: { ...(launch.env ?? process.env), PYTHONUNBUFFERED: "1", PYTHONIOENCODING: "utf-8" },
        // No pipes: nothing ties the trainer to this process, so it survives a window reload.
        stdio: ["ignore", "ignore", stderrFd],
        shell: false,
        detached: true,
        windowsHide: true,
      });
    } catch (e) {
      this.failToStart(launch.command, e as Error);
      return;
    } finally {
      if (stderrFd !== null) closeSync(stderrFd);
    }
    const child = this.child;
    this.pid = child.pid ?? null;
    child.unref();
    child.on("error", (err) => {
      if (child.pid === undefined) this.failToStart(launch.command, err);
    });
    child.on("exit", (code, signal) => void this.finish(code, signal, true));
  }

  private failToStart(command: string, err: Error): void {
    this.child = null;
    this.pid = null;
    this.spawnError = `failed to start ${JSON.stringify(command)}: ${err.message}`;
    void this.finish(null, null, true);
  }

  /** An attached trainer is not our child: its end is seen by polling its pid. */
  private watchPid(): void {
    const check = () => {
      if (this.pid === null || !isTrainerOf(this.pid, this.runDir, this.startedMs)) void this.finish(null, null, false);
    };
    this.livenessTimer = setInterval(check, this.opts.livenessPollMs ?? DEFAULT_LIVENESS_POLL_MS);
    check();
  }

  private async finish(code: number | null, signal: string | null, observed: boolean): Promise<void> {
    if (this.finishing || this.released) return;
    this.finishing = true;
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.stopSequence.cancel();
    this.channel.close();
    // Every event the trainer wrote is delivered before the exit; a line it never finished is reported torn.
    await this.follower.close({ final: true });
    const stderrTail = this.spawnError ? [this.spawnError] : await readStderrTail(this.runDir);
    const exit: TrainerExit = {
      code,
      signal,
      crashed: observed ? !(code === 0 && signal === null && this.sawDone) : !this.sawDone,
      stderrTail,
      sawDone: this.sawDone,
      ...(observed ? {} : { unobserved: true }),
    };
    this.exit = exit;
    if (this.child) await appendPrivateFile(join(this.runDir, RUN_FOLDER.stderr), exitLogLine(exit)).catch(() => {});
    this.resolveExit(exit);
    this.exitListeners.emit(exit);
  }

  protected signal(sig: "SIGTERM" | "SIGKILL"): void {
    if (this.exit !== null || this.pid === null) return;
    if (this.child) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return;
      // SIGTERM asks the trainer (rank 0 under torchrun) to stop; SIGKILL takes the launch: the child's
      // group (data loader workers) and, under torchrun, every rank.
      signalLaunch(this.pid, this.runDir, sig, true);
      return;
    }
    // Not our child: make sure the pid is still this run's trainer before signalling it.
    if (!isTrainerOf(this.pid, this.runDir, this.startedMs)) return;
    safeKill(sig === "SIGKILL" && leadsProcessGroup(this.pid) ? -this.pid : this.pid, sig);
  }

  private deliver(event: Event, replayed: boolean): void {
    // sawDone speaks of the trainer process being followed: a launched one's own events, or, attached,
    // the log's last segment (a resumed run's log holds earlier segments that ended with done).
    if (event.type === "hello") this.sawDone = false;
    if (event.type === "done" && (!replayed || this.attached)) this.sawDone = true;
    this.eventListeners.emit(event, replayed);
  }

  private reportNoise(text: string, reason: string): void {
    this.noiseListeners.emit(text, reason);
  }
}

function fileSizeSync(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The last lines of <runDir>/stderr.log (the trainer writes it directly, so this is where they are). */
export async function readStderrTail(runDir: string, lines = STDERR_TAIL_LINES): Promise<string[]> {
  let handle: fs.FileHandle | null = null;
  try {
    handle = await openForRead(join(runDir, RUN_FOLDER.stderr));
    const size = (await handle.stat()).size;
    const start = Math.max(0, size - STDERR_TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    const all = buf.toString("utf8").split(/\r?\n/);
    if (start > 0) all.shift(); // cut mid-line
    if (all.at(-1) === "") all.pop();
    return all.slice(-lines).map(clipStderrLine);
  } catch {
    return [];
  } finally {
    await handle?.close();
  }
}

