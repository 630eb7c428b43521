// The CLI's flag reading (util.parseArgs underneath): what a user types and the error each mistake gets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fractionFlag, intFlag, parseFlags } from "../../src/cli/args";

const spec = { values: ["data", "max-steps", "hot"], booleans: ["if-missing"] };

test("values with a space or =, booleans, positionals", () => {
  const a = parseFlags(["run", "--data", "d", "--max-steps=5", "--if-missing", "--hot", "0.3"], spec);
  assert.deepEqual([...a.values], [["data", "d"], ["max-steps", "5"], ["hot", "0.3"]]);
  assert.deepEqual([...a.booleans], ["if-missing"]);
  assert.deepEqual(a.positional, ["run"]);
  assert.equal(intFlag(a, "max-steps", 1), 5);
  assert.equal(fractionFlag(a, "hot"), 0.3);
  assert.equal(parseFlags(["--data=--odd"], spec).values.get("data"), "--odd", "an = value may start with --");
});

test("every mistake is a usage error that names the flag", () => {
  for (const [argv, message] of [
    [["--bogus", "1"], /unknown option --bogus/],
    [["-d", "x"], /unknown option -d/],
    [["--", "x"], /unknown option --/],
    [["--data"], /--data needs a value/],
    [["--data", "--max-steps", "3"], /--data needs a value/],
    [["--data", "a", "--data", "b"], /--data given twice/],
    [["--if-missing=yes"], /--if-missing takes no value/],
  ] as const) {
    assert.throws(() => parseFlags(argv, spec), message, argv.join(" "));
  }
  assert.throws(() => intFlag(parseFlags(["--max-steps", "-5"], spec), "max-steps", 1), /--max-steps must be an integer >= 1/);
  assert.throws(() => fractionFlag(parseFlags(["--hot", "2"], spec), "hot"), /--hot must be a fraction/);
});
