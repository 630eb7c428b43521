// One trainer child process with a visible life: spawned without a shell, its stdout parsed into
// validated protocol events, its stderr kept (a tail in memory, all of it in <runDir>/stderr.log),
// control lines written to its stdin, and an exit that says whether it crashed.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import type { Event } from "../../protocol/protocol.generated";
import { RUN_FOLDER } from "../../protocol/protocol.generated";
import { JsonLinesReader } from "./JsonLinesReader";
import { clipStderrLine, exitLogLine, STDERR_TAIL_LINES, TrainerProcess, type TrainerExit, type TrainerLaunch } from "./TrainerHandle";
import { validateEvent } from "./validateEvent";
import { signalLaunch } from "./launchSignals";
import { makePrivateRunFolder, openForAppendSync } from "./runFolderCheck";

/** Runs still going when Node exits are killed, so no trainer outlives the window or CLI that started it. */
const liveRuns = new Set<RunManager>();
let exitHookInstalled = false;
function trackRun(run: RunManager): void {
  liveRuns.add(run);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const r of liveRuns) r.kill();
  });
}

export class RunManager extends TrainerProcess {
  readonly runId: string;
  readonly runDir: string;
  readonly exited: Promise<TrainerExit>;

  private readonly child: ChildProcess;
  private readonly ownGroup: boolean;
  private readonly tail: string[] = [];
  private stderrPartial = "";
  private readonly stderrDecoder = new StringDecoder("utf8");
  private readonly stderrLog: WriteStream;
  private sawDone = false;

  static start(launch: TrainerLaunch): RunManager {
    return new RunManager(launch);
  }

  private constructor(launch: TrainerLaunch) {
    super();
    this.runId = launch.runId;
    this.runDir = launch.runDir;
    makePrivateRunFolder(launch.runDir);
    this.stderrLog = createWriteStream("", { fd: openForAppendSync(join(launch.runDir, RUN_FOLDER.stderr)) });
    this.stderrLog.on("error", () => {}); // a full disk must not take the run down with it

    let resolveExit!: (e: TrainerExit) => void;
    this.exited = new Promise((r) => (resolveExit = r));

    this.ownGroup = launch.newProcessGroup === true;
    this.child = spawn(launch.command, launch.args, {
      cwd: launch.cwd,
      // Events must arrive as they happen (not in 8 KB blocks) and in UTF-8 whatever the locale says.
      env: { ...(launch.env ?? process.env), PYTHONUNBUFFERED: "1", PYTHONIOENCODING: "utf-8" },
      stdio: ["pipe", "pipe", "pipe"],
      shell: false,
      detached: this.ownGroup,
      windowsHide: true,
    });
    trackRun(this);

    const reader = new JsonLinesReader(
      (value) => {
        const event = validateEvent(value);
        if (typeof event === "string") this.reportNoise(JSON.stringify(value).slice(0, 200), event);
        else this.deliver(event);
      },
      (text, reason) => this.reportNoise(text, reason),
    );
    this.child.stdout!.on("data", (chunk: Buffer) => reader.push(chunk));
    this.child.stderr!.on("data", (chunk: Buffer) => this.onStderr(chunk));
    // Writing to a trainer that just died gives EPIPE; the exit tells the story, not this error.
    this.child.stdin!.on("error", () => {});

    let finished = false;
    const finish = (code: number | null, signal: string | null) => {
      if (finished) return;
      finished = true;
      liveRuns.delete(this);
      this.stopSequence.cancel();
      reader.end();
      if (this.stderrPartial) this.pushTail(this.stderrPartial);
      this.stderrPartial = "";
      const exit: TrainerExit = {
        code,
        signal,
        crashed: !(code === 0 && signal === null && this.sawDone),
        stderrTail: this.stderrTail(),
        sawDone: this.sawDone,
      };
      this.exit = exit;
      this.stderrLog.end(exitLogLine(exit), () => {
        resolveExit(exit);
        this.exitListeners.emit(exit);
      });
    };
    this.child.on("error", (err) => {
      // Spawn failures (ENOENT, EACCES) arrive here and no "close" may follow.
      if (this.child.pid === undefined) {
        this.pushTail(`failed to start ${JSON.stringify(launch.command)}: ${err.message}`);
        finish(null, null);
      } else {
        this.pushTail(`[hima] process error: ${err.message}`);
      }
    });
    // "close" comes after stdout and stderr are drained, so every event is delivered before the exit.
    this.child.on("close", (code, signal) => finish(code, signal));
  }

  /** The trainer is this process's child: it does not outlive us. */
  get attached(): boolean {
    return false;
  }

  release(): void {
    this.kill();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  protected canSend(): boolean {
    const stdin = this.child.stdin;
    return !!stdin && !stdin.destroyed && stdin.writable;
  }

  /** To the trainer's stdin, synchronously (a failure to deliver ends the trainer, which the exit reports). */
  protected writeControl(_id: string, line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  stderrTail(): string[] {
    return this.stderrPartial ? [...this.tail, this.stderrPartial].slice(-STDERR_TAIL_LINES) : [...this.tail];
  }

  protected signal(sig: "SIGTERM" | "SIGKILL"): void {
    if (this.exit !== null || this.child.exitCode !== null || this.child.signalCode !== null || this.child.pid === undefined) return;
    // SIGTERM asks the trainer (rank 0 under torchrun) to stop; SIGKILL takes the launch: the child, its
    // group when it leads one, and under torchrun every rank.
    signalLaunch(this.child.pid, this.runDir, sig, this.ownGroup);
  }

  private deliver(event: Event): void {
    if (event.type === "done") {
      this.sawDone = true;
      // No control can matter after `done`; closing stdin also lets a reader thread blocked on it finish
      // before the trainer's interpreter shuts down.
      this.child.stdin?.end();
    }
    this.eventListeners.emit(event, false); // our child's stdout carries only its own events
  }

  private reportNoise(text: string, reason: string): void {
    this.stderrLog.write(`[hima] skipped a stdout line (${reason}): ${text}\n`);
    this.noiseListeners.emit(text, reason);
  }

  private onStderr(chunk: Buffer): void {
    this.stderrLog.write(chunk);
    const text = this.stderrPartial + this.stderrDecoder.write(chunk);
    const lines = text.split(/\r?\n/);
    this.stderrPartial = lines.pop() ?? "";
    // A progress bar that never prints a newline must not grow without bound.
    if (this.stderrPartial.length > 64 * 1024) this.stderrPartial = this.stderrPartial.slice(-4096);
    for (const line of lines) this.pushTail(line);
  }

  private pushTail(line: string): void {
    this.tail.push(clipStderrLine(line));
    if (this.tail.length > STDERR_TAIL_LINES) this.tail.splice(0, this.tail.length - STDERR_TAIL_LINES);
  }
}

