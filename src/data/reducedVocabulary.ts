// A smaller vocabulary for the tiny CPU demo: a 50257-row embedding would dominate a tiny model, so we keep
// the (vocabSize - 1) most frequent GPT-2 ids of the TRAIN split and map everything else to one `<unk>`.
//
// Layout of the local vocabulary (what meta.json's token_map describes):
// - local ids 0 .. vocabSize-2 are the kept GPT-2 ids in ascending GPT-2 id order (so the map is stable
//   and easy to read, independent of how frequencies happen to tie);
// - local id vocabSize-1 is `<unk>`, written as -1 in token_map.
// `<|endoftext|>` is always kept, because it is the document separator the model must see.
// Which ids are kept: count every GPT-2 id in train, rank by count (descending), ties by id (ascending).
// Ids that never occur rank after all that do, so vocab_size is always exactly the size asked for.
import { END_OF_TEXT, GPT2_VOCAB_SIZE } from "./gpt2Tokenizer";

export const MIN_REDUCED_VOCAB = 2;

export interface ReducedVocabulary {
  /** token_map[local] = GPT-2 id; the last entry is -1 (`<unk>`). */
  tokenMap: number[];
  /** Local id of every GPT-2 id (the unk id for those not kept). */
  localIdOf: Uint16Array;
  unkId: number;
}

export function buildReducedVocabulary(train: Uint16Array, vocabSize: number): ReducedVocabulary {
  if (!Number.isInteger(vocabSize) || vocabSize < MIN_REDUCED_VOCAB || vocabSize > GPT2_VOCAB_SIZE) {
    throw new Error(`vocabSize must be an integer from ${MIN_REDUCED_VOCAB} to ${GPT2_VOCAB_SIZE}, got ${vocabSize}`);
  }
  const counts = new Float64Array(GPT2_VOCAB_SIZE);
  for (let i = 0; i < train.length; i++) counts[train[i]]++;

  const byFrequency = Array.from({ length: GPT2_VOCAB_SIZE }, (_, id) => id)
    .filter((id) => id !== END_OF_TEXT)
    .sort((a, b) => counts[b] - counts[a] || a - b);
  const kept = [END_OF_TEXT, ...byFrequency.slice(0, vocabSize - 2)].sort((a, b) => a - b);

  const unkId = vocabSize - 1;
  const localIdOf = new Uint16Array(GPT2_VOCAB_SIZE).fill(unkId);
  kept.forEach((gpt2Id, local) => (localIdOf[gpt2Id] = local));
  return { tokenMap: [...kept, -1], localIdOf, unkId };
}

/** Rewrites GPT-2 ids to local ids in place; returns how many became `<unk>`. */
export function mapToLocalIds(tokens: Uint16Array, vocab: ReducedVocabulary): number {
  let unknown = 0;
  for (let i = 0; i < tokens.length; i++) {
    const local = vocab.localIdOf[tokens[i]];
    tokens[i] = local;
    if (local === vocab.unkId) unknown++;
  }
  return unknown;
}
