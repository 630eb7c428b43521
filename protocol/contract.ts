// The parts of the trainer-extension contract that are rules rather than shapes, for TypeScript: the run id
// check and `x-ordered` (hot <= warm: Hot tensors are a subset of Hot+Warm), which no standard schema keyword
// can state. hima/protocol.py is the Python side; protocol/vectors/ holds the cases both must agree on.
// No DOM and no Node here: the host, the CLI and the webview all import it.
import { RUN_ID_PATTERN } from "./protocol.generated";

/** Whether `value` is a run id ($defs/RunId): safe as a folder name under the runs folder. */
export function isRunId(value: unknown): value is string {
  return typeof value === "string" && RUN_ID_PATTERN.test(value);
}

/**
 * `x-ordered: [a, b]`: the reason the object's field `a` exceeds its field `b`, or null when it does not
 * (or when either is not a number: other keywords say that).
 */
export function orderProblem(value: Readonly<Record<string, unknown>>, [a, b]: readonly [string, string]): string | null {
  const x = value[a];
  const y = value[b];
  return typeof x === "number" && typeof y === "number" && x > y ? `${a} (${x}) must not exceed ${b} (${y})` : null;
}

/** The cutoff invariant hot <= warm: its reason when broken, else null. */
export function cutoffOrderProblem(hot: number, warm: number): string | null {
  return orderProblem({ hot, warm }, ["hot", "warm"]);
}
