import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { JsonLinesReader } from "../../src/run/JsonLinesReader";

/** Feeds `bytes` cut at `cuts` (byte offsets, any order) and collects what the reader reports. */
function feed(bytes: Buffer, cuts: number[], maxLineBytes?: number) {
  const lines: unknown[] = [];
  const noise: Array<{ text: string; reason: string }> = [];
  const reader = new JsonLinesReader((v) => lines.push(v), (text, reason) => noise.push({ text, reason }), { maxLineBytes });
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const p of [...points, bytes.length]) {
    reader.push(bytes.subarray(start, p));
    start = p;
  }
  reader.end();
  return { lines, noise, reader };
}

const unicodeText = fc.string({ unit: "grapheme", maxLength: 30 });
const jsonObject = fc.dictionary(unicodeText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 });
/** Text a trainer might print by mistake: never a JSON object, never a newline. */
const garbage = fc
  .oneof(unicodeText, fc.constantFrom("{", "{\"v\":1,", "[1,2]", "42", "null", "Traceback (most recent call last):", "\u0000\u0001", "{'a': 1}"))
  .map((s) => s.replace(/\n/g, " "))
  .filter((s) => {
    try {
      const v = JSON.parse(s);
      return typeof v !== "object" || v === null || Array.isArray(v);
    } catch {
      return true;
    }
  });
const item = fc.oneof(jsonObject.map((o) => ({ obj: o })), garbage.map((g) => ({ garbage: g })));
const canonical = (v: unknown) => JSON.parse(JSON.stringify(v));

test("arbitrary chunking of valid lines and garbage: every object delivered once, in order, never a throw", () => {
  fc.assert(
    fc.property(fc.array(item, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), fc.boolean(), (items, cuts, crlf, finalNewline) => {
      const eol = crlf ? "\r\n" : "\n";
      const text = items.map((i) => ("obj" in i ? JSON.stringify(i.obj) : i.garbage)).join(eol) + (finalNewline ? eol : "");
      const { lines, noise } = feed(Buffer.from(text, "utf8"), cuts);
      const expected = items.filter((i) => "obj" in i).map((i) => canonical((i as { obj: unknown }).obj));
      assert.deepEqual(lines.map(canonical), expected);
      const nonBlankGarbage = items.filter((i) => "garbage" in i && i.garbage.trim() !== "").length;
      assert.equal(noise.length, nonBlankGarbage, "each non-blank garbage line is reported exactly once");
    }),
    { numRuns: 300 },
  );
});

test("a multi-byte UTF-8 character split between chunks arrives intact", () => {
  const line = Buffer.from(`${JSON.stringify({ name: "größe 🚀 训练" })}\n`, "utf8");
  for (let cut = 1; cut < line.length; cut++) {
    const { lines, noise } = feed(line, [cut]);
    assert.deepEqual(lines, [{ name: "größe 🚀 训练" }], `cut at byte ${cut}`);
    assert.equal(noise.length, 0);
  }
});

test("lines over the cap are skipped and reported while the next line is still read", () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 120 }), { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (payloads, cuts) => {
      const max = 64;
      const text = payloads.map((p) => JSON.stringify({ p })).join("\n") + "\n";
      const { lines, noise } = feed(Buffer.from(text, "utf8"), cuts, max);
      const fits = (p: string) => Buffer.byteLength(JSON.stringify({ p })) <= max;
      assert.deepEqual(lines, payloads.filter(fits).map((p) => ({ p })));
      assert.equal(noise.length, payloads.filter((p) => !fits(p)).length);
      for (const n of noise) assert.match(n.reason, /line too long/);
    }),
    { numRuns: 200 },
  );
});

test("a giant line streamed in chunks keeps memory bounded by the cap", () => {
  const lines: unknown[] = [];
  const noise: string[] = [];
  const max = 1024 * 1024;
  const reader = new JsonLinesReader((v) => lines.push(v), (_t, r) => noise.push(r), { maxLineBytes: max });
  const chunk = Buffer.alloc(64 * 1024, "x".charCodeAt(0));
  reader.push('{"big":"');
  for (let i = 0; i < 80; i++) {
    reader.push(chunk); // 5 MiB in total
    const held = (reader as unknown as { pendingBytes: number }).pendingBytes;
    assert.ok(held <= max, `holds ${held} bytes`);
  }
  reader.push('"}\n{"after":true}\n');
  reader.end();
  assert.deepEqual(lines, [{ after: true }]);
  assert.equal(noise.length, 1);
  assert.match(noise[0], /line too long \(5242890 bytes/);
});

test("a torn final line is reported, a complete unterminated one is delivered", () => {
  const torn = feed(Buffer.from('{"a":1}\n{"type":"step","lo'), []);
  assert.deepEqual(torn.lines, [{ a: 1 }]);
  assert.equal(torn.noise.length, 1);
  assert.match(torn.noise[0].reason, /torn final line/);

  const whole = feed(Buffer.from('{"a":1}\r\n{"b":2}'), []);
  assert.deepEqual(whole.lines, [{ a: 1 }, { b: 2 }]);
  assert.equal(whole.noise.length, 0);
});

test("strings, blank lines and a BOM are handled", () => {
  const lines: unknown[] = [];
  const noise: string[] = [];
  const reader = new JsonLinesReader((v) => lines.push(v), (_t, r) => noise.push(r));
  reader.push('\uFEFF{"a":1}\n\n   \n');
  reader.push("loading weights...\n");
  reader.push('{"b":"é"}\n');
  reader.end();
  assert.deepEqual(lines, [{ a: 1 }, { b: "é" }]);
  assert.deepEqual(noise, ["not JSON"]);
  assert.throws(() => reader.push("{}\n"), /after end/);
  assert.throws(() => new JsonLinesReader(() => {}, () => {}, { maxLineBytes: 0 }), /positive integer/);
});
