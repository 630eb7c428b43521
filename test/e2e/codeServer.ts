// Starts a real VS Code (code-server) for one test session, isolated from the user's own VS Code: its own config
// file, user-data and extensions folders, a seeded settings.json, auth off, bound to 127.0.0.1 on a free port.
// The server runs in its own process group so stop() takes its extension host and trainer children with it.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export interface CodeServerOptions {
  /** code-server's out/node/entry.js (printed by setup.sh). */
  entry: string;
  /** Folder for this session's config, user-data, extensions and log. */
  stateDir: string;
  /** Extensions folder shared between sessions (the .vsix is installed there once). */
  extensionsDir: string;
  /** User settings merged over the defaults below. */
  userSettings?: Record<string, unknown>;
  /** Keep workspace trust on (for the trust test); every other session disables it. */
  workspaceTrust?: boolean;
  /** A file that records the process-group id, so run.sh can kill it even if this process dies hard. */
  pidFile?: string;
  readyTimeoutMs?: number;
}

export interface CodeServer {
  url: string;
  port: number;
  logFile: string;
  /** http URL that opens a folder in the workbench (optionally with a `payload` for extension-host tests). */
  folderUrl(folder: string, payload?: Array<[string, string]>): string;
  /** The vscode-remote:// URI code-server's workbench uses for a path on this machine. */
  remoteUri(path: string): string;
  stop(): Promise<void>;
}

const DEFAULT_SETTINGS: Record<string, unknown> = {
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "chat.disableAIFeatures": true,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "git.enabled": false,
  "security.workspace.trust.enabled": false,
  "window.restoreWindows": "none",
};

const running = new Set<ChildProcess>();

/** Signals the server's whole process group: the server may be gone while its extension host or a trainer lives. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* the group is empty */
  }
}

const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

// Last line of defence: whatever way this process ends, no code-server (or trainer under it) outlives it.
process.on("exit", () => {
  for (const child of running) killGroup(child, "SIGKILL");
});
// A signal would end Node without "exit" handlers; turn it into an exit so the handler above runs.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1)));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Installs a .vsix into an extensions folder with code-server's own CLI. */
export function installVsix(entry: string, extensionsDir: string, vsix: string, userDataDir: string): void {
  mkdirSync(extensionsDir, { recursive: true });
  const r = spawnSync(
    process.execPath,
    [entry, "--extensions-dir", extensionsDir, "--user-data-dir", userDataDir, "--install-extension", vsix, "--force"],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (r.status !== 0) {
    throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
}

export async function startCodeServer(opts: CodeServerOptions): Promise<CodeServer> {
  const port = await freePort();
  const userDataDir = join(opts.stateDir, "user-data");
  const configFile = join(opts.stateDir, "config.yaml");
  const logFile = join(opts.stateDir, "code-server.log");
  mkdirSync(join(userDataDir, "User"), { recursive: true });
  mkdirSync(opts.extensionsDir, { recursive: true });
  writeFileSync(configFile, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const settings = {
    ...DEFAULT_SETTINGS,
    ...(opts.workspaceTrust ? { "security.workspace.trust.enabled": true } : {}),
    ...opts.userSettings,
  };
  writeFileSync(join(userDataDir, "User", "settings.json"), JSON.stringify(settings, null, 2));

  const args = [
    opts.entry,
    "--config", configFile,
    "--user-data-dir", userDataDir,
    "--extensions-dir", opts.extensionsDir,
    "--disable-telemetry",
    "--disable-update-check",
    "--disable-getting-started-override",
    ...(opts.workspaceTrust ? [] : ["--disable-workspace-trust"]),
  ];
  writeFileSync(logFile, `$ node ${args.join(" ")}\n`);
  // detached: a new process group, so one kill(-pid) reaches the extension host and any trainer it spawned.
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, VSCODE_PROXY_URI: "", CS_DISABLE_FILE_DOWNLOADS: "" },
  });
  running.add(child);
  if (opts.pidFile && child.pid !== undefined) appendFileSync(opts.pidFile, `${child.pid}\n`);

  const ready = new Promise<void>((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`code-server did not print "HTTP server listening on" within ${opts.readyTimeoutMs ?? 60_000} ms; log: ${logFile}`)),
      opts.readyTimeoutMs ?? 60_000,
    );
    const onData = (chunk: Buffer) => {
      appendFileSync(logFile, chunk);
      seen = (seen + chunk.toString("utf8")).slice(-4096);
      if (seen.includes("HTTP server listening on")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited before it was ready (code ${code}, signal ${signal}); log: ${logFile}`));
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });

  const stop = async () => {
    if (!hasExited(child)) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      killGroup(child, "SIGTERM");
      const graceful = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      killGroup(child, "SIGKILL");
      if (!graceful) await exited;
    }
    killGroup(child, "SIGKILL"); // whatever of the group outlived the server
    running.delete(child);
  };

  try {
    await ready;
  } catch (err) {
    await stop();
    throw err;
  }

  const url = `http://127.0.0.1:${port}`;
  const remoteUri = (path: string) => `vscode-remote://127.0.0.1:${port}${path}`;
  return {
    url,
    port,
    logFile,
    remoteUri,
    folderUrl(folder, payload) {
      let u = `${url}/?folder=${encodeURIComponent(folder)}`;
      if (payload) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
      return u;
    },
    stop,
  };
}
