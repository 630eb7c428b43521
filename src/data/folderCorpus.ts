// Any folder of text: every .txt, .rst, .md, .pod (optionally .gz-compressed) file below it, walked
// recursively. POD is Perl's documentation markup: plain English prose with light markup, like reST.
// Files are ordered by their relative path with a plain code-unit comparison (not the locale's), so the
// same folder gives the same token files on every machine.
import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { DocumentRef } from "./documents";

export const TEXT_EXTENSIONS = [".txt", ".rst", ".md", ".pod"];

function formatOf(fileName: string): DocumentRef["format"] | null {
  const lower = fileName.toLowerCase();
  const gz = lower.endsWith(".gz");
  const base = gz ? lower.slice(0, -3) : lower;
  if (!TEXT_EXTENSIONS.some((ext) => base.endsWith(ext))) return null;
  return gz ? "gzip" : "plain";
}

export async function listFolderDocuments(root: string): Promise<DocumentRef[]> {
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new Error(`Dataset folder not found: ${root}`);
  }
  if (!info.isDirectory()) throw new Error(`Dataset source is not a folder: ${root}`);

  const docs: DocumentRef[] = [];
  await walk(root, root, docs);
  if (docs.length === 0) {
    throw new Error(`No text files in ${root} (looked for ${TEXT_EXTENSIONS.join(", ")} and their .gz forms, recursively)`);
  }
  docs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return docs;
}

async function walk(root: string, dir: string, out: DocumentRef[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue; // .git, editor folders and the like are not corpus text
    const path = join(dir, entry.name);
    // Symlinked folders are not followed (they can form cycles); symlinked files are read.
    const isFile = entry.isFile() || (entry.isSymbolicLink() && (await stat(path).catch(() => null))?.isFile() === true);
    if (entry.isDirectory()) {
      await walk(root, path, out);
    } else if (isFile) {
      const format = formatOf(entry.name);
      if (format) out.push({ name: relative(root, path).split(sep).join("/"), path, format });
    }
  }
}
