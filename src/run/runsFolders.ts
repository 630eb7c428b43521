// Which runs folders HiMA lists: hima.runsFolder (where new runs go) and the folders of hima.runsFolders
// (a user's own scripts, `python -m hima train --out runs/...`). A setting is input like any other: an entry
// that is not a path, a folder that is missing or is a file is skipped with a reason the user reads, never a
// crash; the same folder named twice is listed once. Plain Node, so the rules are unit-tested without VS Code.
import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";

export interface RunsFolders {
  /** Folders to list, hima.runsFolder first; each an absolute path to an existing folder (or the default, maybe not made yet). */
  folders: string[];
  /** Why an entry of the settings is skipped, one sentence each. */
  problems: string[];
}

/**
 * `primary`: hima.runsFolder resolved (absolute); listed even before it exists (no runs yet).
 * `extra`: hima.runsFolders as read (anything: settings.json may hold any JSON); `base`: the workspace folder
 * that relative entries are resolved against (none open: relative entries cannot be resolved).
 */
export function resolveRunsFolders(primary: string, extra: unknown, base: string | undefined): RunsFolders {
  const folders = [resolve(primary)];
  const problems: string[] = [];
  const primaryProblem = folderProblem(folders[0], true);
  if (primaryProblem) {
    problems.push(`hima.runsFolder: ${primaryProblem}`);
    folders.pop();
  }
  if (extra === undefined || extra === null) return { folders, problems };
  if (!Array.isArray(extra)) return { folders, problems: [...problems, `hima.runsFolders must be a list of folder paths, not ${describe(extra)}`] };
  extra.forEach((entry, i) => {
    const where = `hima.runsFolders[${i}]`;
    if (typeof entry !== "string" || entry.trim() === "") {
      problems.push(`${where} is ${typeof entry === "string" ? "empty" : describe(entry)}, not a folder path`);
      return;
    }
    const value = entry.trim();
    if (!isAbsolute(value) && !base) {
      problems.push(`${where} (${value}) is relative and no workspace folder is open to resolve it against`);
      return;
    }
    const dir = resolve(base ?? "/", value);
    const problem = folderProblem(dir, false);
    if (problem) problems.push(`${where}: ${problem}`);
    else if (!folders.includes(dir)) folders.push(dir);
  });
  return { folders, problems };
}

/** Why `dir` cannot be listed, or null. A missing default runs folder is fine: it holds no runs yet. */
function folderProblem(dir: string, missingIsFine: boolean): string | null {
  let st;
  try {
    st = statSync(dir); // the user named this folder: a link to a folder is theirs to make (run folders inside are checked)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return missingIsFine ? null : `${dir} does not exist`;
    return `${dir} cannot be read (${code ?? String(e)})`;
  }
  return st.isDirectory() ? null : `${dir} is not a folder`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
