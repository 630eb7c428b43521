// Shared by the data*.test.ts files: read token files back and decode them with js-tiktoken directly
// (not through src/data), so a bug in our wrapper cannot hide itself.
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tiktoken } from "js-tiktoken/lite";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";

const gpt2 = new Tiktoken(gpt2Ranks);

export function readTokens(file: string): number[] {
  const bytes = readFileSync(file);
  const ids: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) ids.push(bytes.readUInt16LE(i));
  return ids;
}

export function decodeGpt2(ids: number[]): string {
  return gpt2.decode(ids);
}

export function readMeta(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
}

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
