// Reads what the trainer left in the workspace (.hima/runs/<id>/events.jsonl), so the journey can check the
// panel against the trainer's own record rather than against numbers the test made up.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { DoneEvent, HelloEvent, TiersEvent } from "../../protocol/protocol.generated";

export interface RunRecord {
  id: string;
  dir: string;
  /** Parsed complete lines (a torn last line, still being written, is left out). */
  events: Array<{ type: string } & Record<string, unknown>>;
  hello: HelloEvent | undefined;
  tiers: TiersEvent[];
  done: DoneEvent | undefined;
  /** Lines that are not JSON (other than a torn last line). */
  badLines: number;
}

export function runIds(runsDir: string): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir).filter((d) => statSync(join(runsDir, d)).isDirectory());
}

export function readRun(runsDir: string, id: string): RunRecord {
  const dir = join(runsDir, id);
  const file = join(dir, "events.jsonl");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const lines = text.split("\n");
  const complete = text.endsWith("\n") ? lines.slice(0, -1) : lines.slice(0, -1); // last piece is "" or torn
  const events: RunRecord["events"] = [];
  let badLines = 0;
  for (const line of complete) {
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line));
    } catch {
      badLines++;
    }
  }
  return {
    id,
    dir,
    events,
    hello: events.find((e) => e.type === "hello") as HelloEvent | undefined,
    tiers: events.filter((e) => e.type === "tiers") as unknown as TiersEvent[],
    done: events.find((e) => e.type === "done") as DoneEvent | undefined,
    badLines,
  };
}
