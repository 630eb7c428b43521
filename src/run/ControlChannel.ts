// The control side of a detached trainer: newline-delimited control JSON written to the Unix socket in
// its run folder. Acks and rejections come back through events.jsonl, not here. One connection is kept
// and reused so controls reach the trainer in the order they were sent; it is reopened after the trainer
// closes it. Right after a launch the socket may not exist yet, so connecting is retried for a while.
import { promises as fs } from "node:fs";
import { connect, type Socket } from "node:net";
import { isAbsolute, join } from "node:path";
import { RUN_FOLDER } from "../../protocol/protocol.generated";
import { readTrainerRecord } from "./TrainerRecord";
import { readRunFile } from "./runFolderCheck";

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const RETRY_MS = 100;

/**
 * Where the trainer of `runDir` listens: trainer.json's control_socket (written by the running trainer),
 * else the path in control.path (the trainer's fallback for run folders too deep for a socket path), else
 * <runDir>/control.sock. Re-read at every connection attempt: a resumed trainer rewrites these files.
 */
export async function controlSocketPath(runDir: string): Promise<string> {
  const record = await readTrainerRecord(runDir);
  if (record?.controlSocket && isAbsolute(record.controlSocket)) return record.controlSocket;
  try {
    const named = (await readRunFile(join(runDir, RUN_FOLDER.control_path))).split("\n")[0].trim();
    if (named && isAbsolute(named)) return named;
  } catch {
    // no fallback file
  }
  return join(runDir, RUN_FOLDER.control_socket);
}

/** Refuses anything but a socket owned by this user: the paths come from files in the workspace. */
async function checkSocket(path: string): Promise<void> {
  const st = await fs.lstat(path); // a link is refused like any other non-socket
  if (!st.isSocket()) throw new Error(`${path} is not a socket`);
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) throw new Error(`${path} belongs to another user`);
}

export class ControlChannel {
  private socket: Socket | null = null;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly runDir: string,
    private readonly connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
  ) {}

  /** Writes one line (a newline is added); resolves once it is handed to the socket. Calls are delivered in order. */
  send(line: string): Promise<void> {
    if (line.includes("\n")) return Promise.reject(new Error("a control line must not contain a newline"));
    const next = this.queue.then(() => this.write(`${line}\n`));
    this.queue = next.catch(() => {});
    return next;
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.socket = null;
  }

  private async write(text: string): Promise<void> {
    const socket = await this.connected();
    await new Promise<void>((resolve, reject) => {
      socket.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  private async connected(): Promise<Socket> {
    if (this.closed) throw new Error("the control channel is closed");
    if (this.socket && !this.socket.destroyed && this.socket.writable) return this.socket;
    const deadline = Date.now() + this.connectTimeoutMs;
    let lastError: unknown;
    while (!this.closed) {
      try {
        const path = await controlSocketPath(this.runDir);
        await checkSocket(path);
        const socket = await open(path);
        socket.on("error", () => socket.destroy());
        socket.on("close", () => {
          if (this.socket === socket) this.socket = null;
        });
        if (this.closed) socket.destroy();
        this.socket = socket;
        return socket;
      } catch (e) {
        lastError = e;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
    throw new Error(`cannot reach the trainer's control socket: ${lastError instanceof Error ? lastError.message : String(lastError ?? "closed")}`);
  }
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}
