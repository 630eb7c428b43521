// The CLI's flags, read with Node's util.parseArgs: `--name value` or `--name=value`, boolean flags, and a
// clear error for anything unknown, missing or repeated (exit code 2 in main.ts).
import { parseArgs } from "node:util";

export class UsageError extends Error {}

export interface FlagSpec {
  /** Flags that take a value. */
  values: readonly string[];
  /** Flags that take none. */
  booleans?: readonly string[];
}

export interface ParsedArgs {
  values: Map<string, string>;
  booleans: Set<string>;
  positional: string[];
}

export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const name of spec.values) options[name] = { type: "string" };
  for (const name of spec.booleans ?? []) options[name] = { type: "boolean" };
  // Not strict: Node's own errors do not name a flag the way a user types it; tokens let us say it.
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<string, string>();
  const booleans = new Set<string>();
  const positional: string[] = [];
  for (const t of tokens) {
    if (t.kind === "positional") {
      positional.push(t.value);
      continue;
    }
    if (t.kind === "option-terminator" || !Object.hasOwn(options, t.name) || !t.rawName.startsWith("--")) {
      throw new UsageError(`unknown option ${t.kind === "option-terminator" ? "--" : t.rawName}`);
    }
    if (options[t.name].type === "boolean") {
      if (t.value !== undefined) throw new UsageError(`--${t.name} takes no value`);
      booleans.add(t.name);
      continue;
    }
    // `--data --max-steps 5`: the next flag is not a value (`--data=--odd` still is).
    if (t.value === undefined || (t.inlineValue === false && t.value.startsWith("--"))) throw new UsageError(`--${t.name} needs a value`);
    if (values.has(t.name)) throw new UsageError(`--${t.name} given twice`);
    values.set(t.name, t.value);
  }
  return { values, booleans, positional };
}

export function intFlag(args: ParsedArgs, name: string, min: number, max?: number): number | undefined {
  const raw = args.values.get(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    throw new UsageError(`--${name} must be an integer ${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function fractionFlag(args: ParsedArgs, name: string): number | undefined {
  const raw = args.values.get(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--${name} must be a fraction in [0, 1], got ${JSON.stringify(raw)}`);
  return n;
}
