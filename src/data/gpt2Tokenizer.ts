// GPT-2 BPE from js-tiktoken. The "lite" entry plus the gpt2 ranks module keeps the bundle to the one
// vocabulary we use, and the ranks ship inside the package, so nothing is fetched at run time.
import { Tiktoken } from "js-tiktoken/lite";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";

/** GPT-2's `<|endoftext|>`: the separator written after every document. */
export const END_OF_TEXT = 50256;
/** Number of GPT-2 token ids (0..50256). */
export const GPT2_VOCAB_SIZE = 50257;

let shared: Tiktoken | undefined;

function encoder(): Tiktoken {
  // Building the rank table takes ~0.2 s, so it is done once per process.
  shared ??= new Tiktoken(gpt2Ranks);
  return shared;
}

/**
 * Token ids of one document followed by `<|endoftext|>`. Text that merely looks like a special token
 * (a document quoting "<|endoftext|>") is encoded as ordinary text, so only our separators are 50256.
 */
export function encodeDocument(text: string): number[] {
  const ids = encoder().encode(text, [], []);
  ids.push(END_OF_TEXT);
  return ids;
}
