// The tier map's and controls' logic that needs no page: requested vs achieved shares when pins block the
// cutoffs, tier colours contrast-checked against the default light, dark and high-contrast themes, user pins
// told from policy pins, controls marked as sent from this window, and how a re-attached run's end is told.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EventOf, TierCounts } from "../../protocol/protocol.generated";
import { RunModel } from "../../src/run/RunModel";
import { describeEnding } from "../../src/run/endingText";
import { contrastRatio, ensureContrast, shadeFloor, SHADE_CONTRAST, TIER_CONTRAST } from "../../common/contrast";
import { mix } from "../../common/color";
import { shareGap } from "../../common/tierShares";

const counts = (hot: number, warm: number, cold: number): TierCounts => ({
  hot: { tensors: 1, elements: hot }, warm: { tensors: 1, elements: warm }, cold: { tensors: 1, elements: cold },
});

test("pinning the embedding Cold and asking warm=0.8 explains why Cold stays at the embedding's share", () => {
  // 39% of the elements pinned Cold; warm=0.8 asks for 20% Cold.
  const gap = shareGap(counts(300, 310, 390), { hot: 0.3, warm: 0.8 }, { hot: 0, warm: 0, cold: 390 });
  assert.ok(gap);
  assert.match(gap.text, /Cold 39% \(asked 20%\)/);
  assert.match(gap.text, /pins hold 39% of the elements Cold, more than asked/);
  assert.equal(shareGap(counts(300, 300, 400), { hot: 0.3, warm: 0.6 }, { hot: 10, warm: 0, cold: 0 }), null, "on target: nothing to say");
  assert.equal(shareGap(counts(250, 300, 450), { hot: 0.3, warm: 0.6 }, { hot: 0, warm: 0, cold: 0 }), null, "5 points off without pins: whole tensors, no note");
  assert.match(shareGap(counts(200, 300, 500), { hot: 0.3, warm: 0.6 }, { hot: 0, warm: 0, cold: 0 })!.text, /tiered whole/);
});

// VS Code's default chart colours and editor backgrounds (Light+, Dark+, High Contrast, High Contrast Light).
const THEMES = {
  light: { bg: "#ffffff", hot: "#e51400", warm: "#d18616", cold: "#1a85ff" },
  dark: { bg: "#1e1e1e", hot: "#f14c4c", warm: "#d18616", cold: "#3794ff" },
  highContrast: { bg: "#000000", hot: "#f14c4c", warm: "#d18616", cold: "#3794ff" },
  highContrastLight: { bg: "#ffffff", hot: "#b5200d", warm: "#895503", cold: "#0f4a85" },
};

test("tier colours reach 3:1 against the background in light, dark and high-contrast themes; shading keeps cells visible", () => {
  for (const [name, t] of Object.entries(THEMES)) {
    const tiers = { hot: ensureContrast(t.hot, t.bg), warm: ensureContrast(t.warm, t.bg), cold: ensureContrast(t.cold, t.bg) };
    for (const [tier, c] of Object.entries(tiers)) {
      assert.ok(contrastRatio(c, t.bg) >= TIER_CONTRAST, `${name} ${tier} ${c}: ${contrastRatio(c, t.bg).toFixed(2)}:1`);
      const faintest = mix(c, t.bg, shadeFloor(c, t.bg));
      assert.ok(contrastRatio(faintest, t.bg) >= SHADE_CONTRAST, `${name} ${tier}: faintest shade ${faintest}`);
    }
  }
  // The light theme's orange is too faint on white as it is: it is darkened, keeping its hue.
  assert.ok(contrastRatio("#d18616", "#ffffff") < 3);
  assert.notEqual(ensureContrast("#d18616", "#ffffff"), "#d18616");
  assert.equal(ensureContrast("#3794ff", "#1e1e1e"), "#3794ff", "a colour with enough contrast is kept");
});

const TENSORS = [
  { name: "wte", layer: null, group: "embeddings", kind: "wte", shape: [4], numel: 4 },
  { name: "ln", layer: 0, group: "block 0", kind: "ln_1", shape: [4], numel: 4 },
  { name: "fc", layer: 0, group: "block 0", kind: "mlp.in", shape: [4], numel: 4 },
];

function hello(): EventOf<"hello"> {
  return {
    v: 1, type: "hello", run_id: "r", method: "hima", device: "cpu", dtype: "float32", max_steps: 10, start_step: 0,
    cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "tiny", n_params: 12, n_layer: 1 }, config: {}, tensors: TENSORS,
  };
}

function tiers(step: number, pins: string[]): EventOf<"tiers"> {
  return {
    v: 1, type: "tiers", step, cutoffs: { hot: 0.3, warm: 0.6 }, counts: counts(4, 4, 4), transitions: [],
    tensors: TENSORS.map((t, i) => ({ name: t.name, tier: (["hot", "warm", "cold"] as const)[i], score: 1, pinned: pins.includes(t.name) })),
  };
}

test("the pins a run starts with are the policy's; a pin set later is the user's", () => {
  const m = new RunModel();
  m.apply(hello());
  m.apply(tiers(0, ["ln"]));
  m.apply(tiers(5, ["ln", "wte"]));
  const s = m.snapshot().tiers;
  assert.deepEqual(s.map((x) => x.pinSource ?? null), ["user", "policy", null]);
});

test("controls sent from this window are 'mine'; acks read from the log are not", () => {
  const m = new RunModel();
  m.apply(hello());
  m.trackControl("c1", { v: 1, id: "c1", type: "pin", name: "wte", tier: "cold" });
  m.apply({ v: 1, type: "ack", id: "c1", control: "pin", effective_step: 3 });
  m.apply({ v: 1, type: "ack", id: "other-9", control: "set_cutoffs", effective_step: 4 });
  m.apply({ v: 1, type: "rejected", id: null, reason: "bad line" });
  assert.deepEqual(m.snapshot().controls.map((c) => [c.label, c.state, c.mine]), [
    ["pin wte to cold", "acked", true],
    ["set_cutoffs", "acked", false],
    ["unreadable control", "rejected", false],
  ]);
});

test("a re-attached run's end is told by its done event, not 'exit status not seen'", () => {
  const done = (reason: "completed" | "stopped" | "error"): EventOf<"done"> => ({
    v: 1, type: "done", step: 42, reason,
    summary: { wall_time_s: 1, first_loss: null, last_loss: null, last_val_loss: null, counts: counts(1, 1, 1), optimizer_state_bytes: 0, full_optimizer_state_bytes: 0, transitions: 0, checkpoint: null },
  });
  assert.equal(describeEnding({ code: null, signal: null, unobserved: true }, done("stopped")), "stopped at step 42");
  assert.equal(describeEnding({ code: null, signal: null, unobserved: true }, done("error")), "ended with an error at step 42");
  assert.match(describeEnding({ code: null, signal: null, unobserved: true }, null), /exit status not seen/);
  assert.equal(describeEnding({ code: 0, signal: null }, done("stopped")), "exit code 0");
});
