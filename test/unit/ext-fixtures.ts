// Where the shared test fixtures are, from the bundled test file (dist-test/unit/) or the source (test/unit/).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const FIXTURES_DIR = [resolve(__dirname, "..", "..", "test", "fixtures"), resolve(__dirname, "..", "fixtures")].find((d) =>
  existsSync(join(d, "fake-run.events.jsonl")),
) ?? resolve(__dirname, "..", "fixtures");
