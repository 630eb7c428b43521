// A document is read only when it is tokenized, so at most one document's text is in memory at a time.
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { brownTaggedToText } from "./brownCorpus";

export interface DocumentRef {
  /** Name for messages and ordering: the file name (Brown) or the path relative to the folder. */
  name: string;
  path: string;
  format: "plain" | "gzip" | "brown-tagged";
}

const utf8 = new TextDecoder("utf-8"); // invalid bytes become U+FFFD instead of failing the whole run

/** The readable text of one document. */
export async function readDocument(doc: DocumentRef): Promise<string> {
  let bytes: Buffer = await readFile(doc.path);
  if (doc.format === "gzip") {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new Error(`Cannot decompress ${doc.path}: ${(e as Error).message}`);
    }
  }
  const text = utf8.decode(bytes).replace(/\r\n?/g, "\n");
  return doc.format === "brown-tagged" ? brownTaggedToText(text) : text;
}
