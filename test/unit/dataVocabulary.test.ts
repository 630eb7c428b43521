// Which GPT-2 ids a reduced vocabulary keeps, and how ids are mapped (small hand-checked cases).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildReducedVocabulary, mapToLocalIds } from "../../src/data/reducedVocabulary";

const EOT = 50256;

test("keeps the most frequent train ids in GPT-2 id order, <|endoftext|> always, <unk> last", () => {
  const train = Uint16Array.from([900, 900, 900, 17, 17, 5, 5, 5, 5, 42]);
  const vocab = buildReducedVocabulary(train, 4);
  // Top 2 by count besides EOT: 5 (4x), 900 (3x); 17 (2x) and 42 (1x) become <unk>.
  assert.deepEqual(vocab.tokenMap, [5, 900, EOT, -1]);
  const tokens = Uint16Array.from([5, 17, 900, EOT, 42]);
  const unknown = mapToLocalIds(tokens, vocab);
  assert.deepEqual(Array.from(tokens), [0, 3, 1, 2, 3]);
  assert.equal(unknown, 2);
});

test("ties are broken by the smaller GPT-2 id, and unseen ids fill the vocabulary up to its size", () => {
  const vocab = buildReducedVocabulary(Uint16Array.from([300, 300, 200, 200, 100]), 3);
  assert.deepEqual(vocab.tokenMap, [200, EOT, -1], "200 and 300 tie at 2: the smaller id wins");
  const padded = buildReducedVocabulary(Uint16Array.from([7, 7]), 5);
  assert.deepEqual(padded.tokenMap, [0, 1, 7, EOT, -1], "vocab_size is exactly what was asked for");
});

test("rejects a vocabulary size that cannot hold <|endoftext|> and <unk>", () => {
  assert.throws(() => buildReducedVocabulary(new Uint16Array(3), 1), /vocabSize must be an integer from 2 to 50257/);
  assert.throws(() => buildReducedVocabulary(new Uint16Array(3), 2.5), /vocabSize must be an integer/);
});
