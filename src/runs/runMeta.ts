// What the user keeps about a run next to it: a display name, tags and a note, in <run>/meta.json. The run's
// id (its folder name, the trainer's run_id) never changes; "rename" sets the display name. Written through the
// run-folder helpers (0600, never through a symbolic link); a missing or unreadable file is an empty meta.
import { join } from "node:path";
import { readRunFile, writePrivateFile } from "../run/runFolderCheck";

export const META_FILE = "meta.json";
export const MAX_TAGS = 32;
export const MAX_TAG_LENGTH = 40;
export const MAX_NOTE_LENGTH = 4000;
export const MAX_NAME_LENGTH = 120;

export interface RunMeta {
  /** Display name; null shows the run id. */
  name: string | null;
  tags: string[];
  note: string;
}

/** The meta as stored, checked: a reason string when it is not acceptable (shown to the user). */
export function checkRunMeta(raw: unknown): RunMeta | string {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "meta must be an object";
  const m = raw as Record<string, unknown>;
  const name = m.name === undefined || m.name === null ? null : m.name;
  if (name !== null && (typeof name !== "string" || name.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name))) {
    return `name must be text of at most ${MAX_NAME_LENGTH} characters without control characters`;
  }
  const tags = m.tags === undefined ? [] : m.tags;
  if (!Array.isArray(tags) || tags.length > MAX_TAGS) return `tags must be a list of at most ${MAX_TAGS}`;
  for (const t of tags) {
    if (typeof t !== "string" || t.trim() === "" || t.length > MAX_TAG_LENGTH || /[\u0000-\u001f\u007f,]/.test(t)) {
      return `a tag must be 1 to ${MAX_TAG_LENGTH} characters, without commas or control characters`;
    }
  }
  const note = m.note === undefined ? "" : m.note;
  if (typeof note !== "string" || note.length > MAX_NOTE_LENGTH) return `note must be text of at most ${MAX_NOTE_LENGTH} characters`;
  const trimmed = typeof name === "string" ? name.trim() : null;
  return { name: trimmed ? trimmed : null, tags: [...new Set(tags.map((t: string) => t.trim()))], note };
}

/** Splits "a, b ,c" into tags. */
export function parseTags(text: string): string[] {
  return [...new Set(text.split(",").map((t) => t.trim()).filter((t) => t !== ""))];
}

export async function readRunMeta(runDir: string): Promise<RunMeta> {
  try {
    const checked = checkRunMeta(JSON.parse(await readRunFile(join(runDir, META_FILE))));
    return typeof checked === "string" ? { name: null, tags: [], note: "" } : checked;
  } catch {
    return { name: null, tags: [], note: "" };
  }
}

/** Stores the meta; throws with the reason when it is not acceptable. */
export async function writeRunMeta(runDir: string, meta: RunMeta): Promise<RunMeta> {
  const checked = checkRunMeta(meta);
  if (typeof checked === "string") throw new Error(checked);
  await writePrivateFile(join(runDir, META_FILE), `${JSON.stringify(checked, null, 2)}\n`);
  return checked;
}
