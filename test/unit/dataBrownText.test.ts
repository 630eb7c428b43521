// How one tagged Brown sample becomes readable text (hand-written sample, exact expected output).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { brownTaggedToText } from "../../src/data/brownCorpus";
import { prepareDataset } from "../../src/data/prepareDataset";
import { decodeGpt2, readTokens, tempDir } from "./dataTestHelpers";

const SAMPLE = [
  "",
  "",
  "\tMerger/nn-hl proposed/vbn-hl",
  "",
  "",
  "\tThe/at jury/nn said/vbd ``/`` it/pps did/dod n't/* agree/vb ''/'' (/( as/cs reported/vbn )/) ;/. its/pp$ 1/2/cd share/nn ,/, 25/cd %/nn --/-- the/at boys'/nns$ claim/nn ,/, was/bedz made/vbn by/in Ivan/np Allen/np Jr./np ./.",
  "\tDid/dod he/pps win/vb ?/.",
  "",
  "",
  "\tSecond/od paragraph/nn !/.",
  "",
].join("\n");

test("tags are stripped, punctuation hugs its word, quotes become plain, headlines and paragraphs are kept", () => {
  assert.equal(
    brownTaggedToText(SAMPLE),
    "Merger proposed\n\n" +
      'The jury said "it didn\'t agree" (as reported); its 1/2 share, 25%--the boys\' claim, was made by Ivan Allen Jr. Did he win?\n\n' +
      "Second paragraph!",
  );
});

test("a Brown folder given by path is read like the package: one document per sample file", async (t) => {
  const { dir, cleanup } = tempDir("hima-brown-path-");
  t.after(cleanup);
  const brown = join(dir, "brown");
  mkdirSync(brown);
  writeFileSync(join(brown, "ca01"), SAMPLE);
  writeFileSync(join(brown, "cb01"), "\tAnother/at sample/nn ./.\n");
  writeFileSync(join(brown, "README"), "not a sample\n");
  const result = await prepareDataset({ source: { kind: "brown", path: brown }, outDir: join(dir, "out") });
  assert.equal(result.stats.trainDocuments + result.stats.valDocuments, 2);
  assert.equal(decodeGpt2(readTokens(join(dir, "out", "val.bin"))), "Another sample.<|endoftext|>");
  await assert.rejects(prepareDataset({ source: { kind: "brown", path: dir }, outDir: join(dir, "x") }), /No Brown corpus sample files/);
});
