// Validation for the two HiMA: Set Cutoffs input boxes (no `vscode` import, unit-tested). The messages are
// what the input box shows under the field while the user types.
import { cutoffOrderProblem } from "../../protocol/contract";

/** Parses one cutoff as typed: a fraction 0..1 ("0.3", ".3") or a percentage ("30%"). */
export function parseCutoff(text: string): number | string {
  const t = text.trim();
  if (t === "") return "Enter a fraction between 0 and 1 (e.g. 0.3) or a percentage (e.g. 30%).";
  const percent = t.endsWith("%");
  const body = percent ? t.slice(0, -1).trim() : t;
  if (!/^[+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(body)) return `"${t.slice(0, 30)}" is not a number.`;
  const value = Number(body) / (percent ? 100 : 1);
  if (!Number.isFinite(value) || value < 0 || value > 1) return "A cutoff is a fraction of parameter elements: it must be between 0 and 1.";
  return value;
}

/** Input-box validator for the Hot cutoff: undefined means valid. */
export function validateHot(text: string): string | undefined {
  const v = parseCutoff(text);
  return typeof v === "string" ? v : undefined;
}

/** Input-box validator for the Warm cutoff, which must not be below the Hot cutoff already entered. */
export function validateWarm(text: string, hot: number): string | undefined {
  const v = parseCutoff(text);
  if (typeof v === "string") return v;
  if (cutoffOrderProblem(hot, v)) return `Warm (${formatCutoff(v)}) must be at least Hot (${formatCutoff(hot)}): Hot tensors count towards Warm.`;
  return undefined;
}

export function formatCutoff(v: number): string {
  return String(Math.round(v * 10000) / 10000);
}
