// A folder of text -> token files: which files are read and in what order, .gz sources, the train/val split,
// clear errors for bad input, and cancellation that leaves nothing behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { prepareDataset } from "../../src/data/prepareDataset";
import { decodeGpt2, readMeta, readTokens, tempDir } from "./dataTestHelpers";

const EOT = 50256;

function write(root: string, rel: string, content: string | Buffer): void {
  const path = join(root, rel);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
}

/** Documents of a split: its text cut at <|endoftext|>. */
function documentsOf(file: string): string[] {
  const ids = readTokens(file);
  assert.equal(ids.at(-1), EOT, `${file} ends with <|endoftext|>`);
  return decodeGpt2(ids).split("<|endoftext|>").slice(0, -1);
}

test("reads .txt, .md, .rst and .gz sources in nested folders, in path order, and nothing else", async (t) => {
  const { dir, cleanup } = tempDir("hima-folder-");
  t.after(cleanup);
  const src = join(dir, "src");
  write(src, "b.txt", "Bravo plain text file.\n");
  write(src, "a/deeper/c.md", "# Charlie\n\nMarkdown *text*.\n");
  write(src, "a/z.rst.gz", gzipSync("Zulu\n====\n\nCompressed reStructuredText.\n"));
  write(src, "a/n.txt.gz", gzipSync("November compressed plain text.\n"));
  write(src, "d.rst", "Delta\n-----\nreStructuredText.\r\nWindows line ends.\r\n");
  write(src, "ignored.py", "print('python is not corpus text')\n");
  write(src, ".git/notes.txt", "hidden folder text\n");
  write(src, "empty.txt", "  \n\n");

  const out = join(dir, "out");
  const result = await prepareDataset({ source: { kind: "folder", path: src }, outDir: out, valFraction: 0.5 });
  // Order by relative path: a/deeper/c.md, a/n.txt.gz, a/z.rst.gz, b.txt, d.rst; every 2nd goes to val.
  const train = documentsOf(join(out, "train.bin"));
  const val = documentsOf(join(out, "val.bin"));
  assert.deepEqual(train, [
    "# Charlie\n\nMarkdown *text*.\n",
    "Zulu\n====\n\nCompressed reStructuredText.\n",
    "Delta\n-----\nreStructuredText.\nWindows line ends.\n",
  ]);
  assert.deepEqual(val, ["November compressed plain text.\n", "Bravo plain text file.\n"]);
  assert.equal(result.stats.emptyDocuments, 1);
  const meta = readMeta(out);
  assert.equal(meta.source, `folder:${src}`);
  assert.equal(meta.n_train, readTokens(join(out, "train.bin")).length);
  assert.equal(meta.n_val, readTokens(join(out, "val.bin")).length);
});

test("POD files (Perl's documentation markup) are read as text, plain or .gz; look-alike names are not", async (t) => {
  const { dir, cleanup } = tempDir("hima-folder-");
  t.after(cleanup);
  const src = join(dir, "src");
  write(src, "perlintro.pod", "=head1 NAME\n\nperlintro - a brief introduction\n");
  write(src, "perlfaq.pod.gz", gzipSync("=head1 NAME\n\nperlfaq - frequently asked questions\n"));
  write(src, "Module.pm", "package Module; 1;\n");
  write(src, "notes.podcast", "not a POD file\n");
  const result = await prepareDataset({ source: { kind: "folder", path: src }, outDir: join(dir, "out"), valFraction: 0.5 });
  assert.equal(result.stats.trainDocuments + result.stats.valDocuments, 2);
  // Path order: perlfaq.pod.gz, perlintro.pod; the 2nd goes to val.
  assert.deepEqual(documentsOf(join(dir, "out", "train.bin")), ["=head1 NAME\n\nperlfaq - frequently asked questions\n"]);
  assert.deepEqual(documentsOf(join(dir, "out", "val.bin")), ["=head1 NAME\n\nperlintro - a brief introduction\n"]);
});

test("val.bin is never empty: a few documents give the last one to val, a single document its tail", async (t) => {
  const { dir, cleanup } = tempDir("hima-folder-");
  t.after(cleanup);
  write(dir, "two/one.txt", "First document.");
  write(dir, "two/two.txt", "Second document.");
  await prepareDataset({ source: { kind: "folder", path: join(dir, "two") }, outDir: join(dir, "out2") });
  assert.deepEqual(documentsOf(join(dir, "out2", "train.bin")), ["First document."]);
  assert.deepEqual(documentsOf(join(dir, "out2", "val.bin")), ["Second document."]);

  const sentence = "A single long document about kernels and schedulers. ";
  write(dir, "one/only.txt", sentence.repeat(40));
  const single = await prepareDataset({ source: { kind: "folder", path: join(dir, "one") }, outDir: join(dir, "out1") });
  assert.ok(single.n_train > 0 && single.n_val > 0, JSON.stringify(single));
  assert.ok(single.n_val < single.n_train / 5, "the val tail is about valFraction of the tokens");
  const joined = [...readTokens(join(dir, "out1", "train.bin")), ...readTokens(join(dir, "out1", "val.bin"))];
  assert.equal(decodeGpt2(joined), sentence.repeat(40) + "<|endoftext|>", "no token lost or duplicated by the split");
});

test("text that spells <|endoftext|> is encoded as text, so only real document ends are id 50256", async (t) => {
  const { dir, cleanup } = tempDir("hima-folder-");
  t.after(cleanup);
  write(dir, "src/a.txt", "The separator is written <|endoftext|> in docs.");
  write(dir, "src/b.txt", "Second.");
  await prepareDataset({ source: { kind: "folder", path: join(dir, "src") }, outDir: join(dir, "out") });
  const train = readTokens(join(dir, "out", "train.bin"));
  assert.equal(train.filter((id) => id === EOT).length, 1);
  assert.equal(decodeGpt2(train), "The separator is written <|endoftext|> in docs.<|endoftext|>");
});

test("bad input gives a clear error and writes nothing", async (t) => {
  const { dir, cleanup } = tempDir("hima-folder-");
  t.after(cleanup);
  const out = join(dir, "out");
  const run = (path: string, extra: object = {}) =>
    prepareDataset({ source: { kind: "folder", path }, outDir: out, ...extra });

  await assert.rejects(run(join(dir, "missing")), /Dataset folder not found: .*missing/);
  mkdirSync(join(dir, "empty"));
  await assert.rejects(run(join(dir, "empty")), /No text files in .*empty \(looked for \.txt, \.rst, \.md, \.pod/);
  write(dir, "blank/a.txt", "\n \n");
  await assert.rejects(run(join(dir, "blank")), /No text to prepare: all 1 files .* are empty/);
  write(dir, "file.txt", "not a folder");
  await assert.rejects(run(join(dir, "file.txt")), /not a folder/);
  write(dir, "bad/broken.txt.gz", "this is not gzip");
  await assert.rejects(run(join(dir, "bad")), /Cannot decompress .*broken\.txt\.gz/);
  write(dir, "ok/a.txt", "Some text.");
  await assert.rejects(run(join(dir, "ok"), { vocabSize: 1 }), /vocabSize must be an integer from 2 to 50257, got 1/);
  await assert.rejects(run(join(dir, "ok"), { vocabSize: 60000 }), /vocabSize must be an integer/);
  await assert.rejects(run(join(dir, "ok"), { valFraction: 0 }), /valFraction must be greater than 0/);
  await assert.rejects(prepareDataset({ source: { kind: "web" } as never, outDir: out }), /Unknown dataset source: "web"/);
  assert.equal(existsSync(out), false, "no output folder after failures");
});

test("cancelling leaves no output, in any phase, and keeps a previous complete dataset intact", async (t) => {
  const { dir, cleanup } = tempDir("hima-folder-");
  t.after(cleanup);
  const src = join(dir, "src");
  for (let i = 0; i < 30; i++) write(src, `doc${String(i).padStart(2, "0")}.txt`, `Document number ${i}. `.repeat(200));

  for (const phase of ["reading", "tokenizing", "writing"] as const) {
    const out = join(dir, `out-${phase}`);
    const controller = new AbortController();
    const cancelled = prepareDataset({ source: { kind: "folder", path: src }, outDir: out }, (p) => {
      if (p.phase === phase) controller.abort();
    }, controller.signal);
    await assert.rejects(cancelled, (e: Error) => e.name === "AbortError", `cancel while ${phase}`);
    assert.equal(existsSync(out), false, `no output folder after cancelling while ${phase}`);
  }

  const kept = join(dir, "kept");
  await prepareDataset({ source: { kind: "folder", path: src }, outDir: kept });
  const before = readdirSync(kept).sort().map((f) => [f, readFileSync(join(kept, f))] as const);
  const controller = new AbortController();
  await assert.rejects(
    prepareDataset({ source: { kind: "folder", path: src }, outDir: kept, valFraction: 0.5 }, (p) => {
      if (p.phase === "writing") controller.abort();
    }, controller.signal),
    { name: "AbortError" },
  );
  const afterFiles = readdirSync(kept).sort();
  assert.deepEqual(afterFiles, ["meta.json", "train.bin", "val.bin"], "no partial files left next to the dataset");
  for (const [f, bytes] of before) assert.ok(readFileSync(join(kept, f)).equals(bytes), `${f} unchanged`);

  const already = new AbortController();
  already.abort();
  await assert.rejects(prepareDataset({ source: { kind: "folder", path: src }, outDir: join(dir, "never") }, undefined, already.signal), {
    name: "AbortError",
  });
  assert.equal(existsSync(join(dir, "never")), false);
});

test("preparing again into the same folder replaces the dataset", async (t) => {
  const { dir, cleanup } = tempDir("hima-folder-");
  t.after(cleanup);
  write(dir, "v1/a.txt", "Version one.");
  write(dir, "v1/b.txt", "Version one, second file.");
  write(dir, "v2/a.txt", "Version two is a different and longer text.");
  write(dir, "v2/b.txt", "Version two, second file.");
  const out = join(dir, "out");
  await prepareDataset({ source: { kind: "folder", path: join(dir, "v1") }, outDir: out });
  const second = await prepareDataset({ source: { kind: "folder", path: join(dir, "v2") }, outDir: out });
  assert.deepEqual(readdirSync(out).sort(), ["meta.json", "train.bin", "val.bin"]);
  assert.equal(readMeta(out).n_train, second.n_train);
  assert.deepEqual(documentsOf(join(out, "train.bin")), ["Version two is a different and longer text."]);
});
