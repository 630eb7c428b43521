// Text of the status bar item while a run is live (no `vscode` import, unit-tested). Fed from the events
// directly, so the status bar never asks RunModel for a snapshot (that would reset the panel's update diff).
import type { TierCounts } from "../../protocol/protocol.generated";

export interface LiveStatus {
  state: "starting" | "running" | "paused" | "stopping";
  step: number;
  maxSteps: number | null;
  loss: number | null;
  counts: TierCounts | null;
}

export function statusBarText(s: LiveStatus): string {
  if (s.state === "starting") return "$(loading~spin) HiMA starting";
  const icon = s.state === "paused" ? "$(debug-pause)" : "$(pulse)";
  const parts = [`${icon} HiMA step ${s.step}/${s.maxSteps ?? "?"}`];
  if (s.loss !== null && Number.isFinite(s.loss)) parts.push(`loss ${s.loss.toFixed(2)}`);
  if (s.counts) parts.push(`H${s.counts.hot.tensors} W${s.counts.warm.tensors} C${s.counts.cold.tensors}`);
  if (s.state !== "running") parts.push(s.state);
  return parts.join(" · ");
}

const MB = 1024 * 1024;

/** One-line summary of a finished run for the "done" notification. */
export function doneSummary(done: {
  step: number;
  reason: string;
  summary: { wall_time_s: number; first_loss: number | null; last_loss: number | null; counts: TierCounts; optimizer_state_bytes: number; full_optimizer_state_bytes: number; transitions: number };
}): string {
  const s = done.summary;
  const parts = [`${done.reason} after ${done.step} steps in ${Math.round(s.wall_time_s)} s`];
  if (s.first_loss !== null && s.last_loss !== null) parts.push(`loss ${s.first_loss.toFixed(2)} → ${s.last_loss.toFixed(2)}`);
  parts.push(`Hot/Warm/Cold ${s.counts.hot.tensors}/${s.counts.warm.tensors}/${s.counts.cold.tensors} tensors`);
  if (s.full_optimizer_state_bytes > 0) {
    const saved = 1 - s.optimizer_state_bytes / s.full_optimizer_state_bytes;
    parts.push(`optimizer state ${(s.optimizer_state_bytes / MB).toFixed(1)} MB of ${(s.full_optimizer_state_bytes / MB).toFixed(1)} MB (${(saved * 100).toFixed(0)}% saved)`);
  }
  parts.push(`${s.transitions} tier transitions`);
  return parts.join(", ");
}

export interface RunEnd {
  runId: string;
  /** How the process ended, e.g. "exit code 1" (describeExit). */
  how: string;
  /** Anything but "exit code 0 after a done event". */
  crashed: boolean;
  done: Parameters<typeof doneSummary>[0] | null;
  /** The message of the first fatal `error` event of this run segment. */
  fatalError: string | null;
  stderrTail: string[];
}

/** The notification at the end of a run: an error (offered with Show Log) or a plain information. */
export function endOfRunNotice(end: RunEnd): { severity: "error" | "info"; text: string } {
  const run = `HiMA run ${end.runId}`;
  const error = (what: string) => {
    const tail = end.stderrTail.join("\n");
    return { severity: "error" as const, text: `${what}.${tail ? `\n${tail}` : " The trainer wrote nothing to stderr."}` };
  };
  // Training failed and the trainer said why (exit code 1 after error + done): that is the news, not the exit code.
  if (end.done?.reason === "error") return error(`${run} failed: ${end.fatalError ?? `the trainer reported an error at step ${end.done.step}`}`);
  if (end.crashed && end.done) return error(`${run} finished (${doneSummary(end.done)}) but the trainer then exited abnormally (${end.how})`);
  if (end.crashed && end.fatalError !== null) return error(`${run} failed: ${end.fatalError} (${end.how})`);
  if (end.crashed) return error(`${run} crashed (${end.how})`);
  if (end.done) return { severity: "info", text: `${run} ${doneSummary(end.done)}.` };
  return { severity: "info", text: `${run} ended (${end.how}).` };
}
