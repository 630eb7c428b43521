// A synthetic but protocol-valid training run: a small GPT's tensor list, steps with a decaying loss, tiers
// re-ranked every N steps with real cumulative-element cutoffs, memory and eval events. Used by the panel
// benchmark (100k steps) and to make small fixtures; deterministic for a given seed.
import type { Event, TensorInfo, TensorTier, Tier, TierCounts, Transition } from "../../protocol/protocol.generated";
import { seededRandom } from "../fixtures/seededRandom";

export interface SyntheticRunOptions {
  steps: number;
  nLayer?: number;
  nEmbd?: number;
  vocab?: number;
  blockSize?: number;
  tierEvery?: number;
  memoryEvery?: number;
  evalEvery?: number;
  hot?: number;
  warm?: number;
  seed?: number;
  /** Emit a final `done` event. */
  done?: boolean;
  /** Memory events carry NVML figures (`gpu`), as on a CUDA machine with nvidia-ml-py. */
  gpu?: boolean;
}


/** The parameter tensors of a nanoGPT-style model, named and placed as the trainer's tensor_layout does. */
export function gptTensors(nLayer: number, nEmbd: number, vocab: number, blockSize: number): TensorInfo[] {
  const t = (name: string, layer: number | null, group: string, kind: string, shape: number[]): TensorInfo => ({
    name, layer, group, kind, shape, numel: shape.reduce((a, b) => a * b, 1),
  });
  const out = [t("transformer.wte.weight", null, "embeddings", "wte", [vocab, nEmbd]), t("transformer.wpe.weight", null, "embeddings", "wpe", [blockSize, nEmbd])];
  for (let i = 0; i < nLayer; i++) {
    const p = `transformer.h.${i}.`;
    const g = `block ${i}`;
    out.push(
      t(`${p}ln_1.weight`, i, g, "ln_1", [nEmbd]), t(`${p}ln_1.bias`, i, g, "ln_1.bias", [nEmbd]),
      t(`${p}attn.c_attn.weight`, i, g, "attn.qkv", [3 * nEmbd, nEmbd]), t(`${p}attn.c_attn.bias`, i, g, "attn.qkv.bias", [3 * nEmbd]),
      t(`${p}attn.c_proj.weight`, i, g, "attn.proj", [nEmbd, nEmbd]), t(`${p}attn.c_proj.bias`, i, g, "attn.proj.bias", [nEmbd]),
      t(`${p}ln_2.weight`, i, g, "ln_2", [nEmbd]), t(`${p}ln_2.bias`, i, g, "ln_2.bias", [nEmbd]),
      t(`${p}mlp.c_fc.weight`, i, g, "mlp.in", [4 * nEmbd, nEmbd]), t(`${p}mlp.c_fc.bias`, i, g, "mlp.in.bias", [4 * nEmbd]),
      t(`${p}mlp.c_proj.weight`, i, g, "mlp.out", [nEmbd, 4 * nEmbd]), t(`${p}mlp.c_proj.bias`, i, g, "mlp.out.bias", [nEmbd]),
    );
  }
  out.push(t("transformer.ln_f.weight", null, "final norm", "ln_f", [nEmbd]), t("transformer.ln_f.bias", null, "final norm", "ln_f.bias", [nEmbd]));
  return out;
}

/** Tiers by score rank: cumulative element share within `hot` is Hot, within `warm` Warm, the rest Cold. */
function assignTiers(tensors: TensorInfo[], scores: number[], hot: number, warm: number): Tier[] {
  const total = tensors.reduce((s, t) => s + t.numel, 0);
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const tiers: Tier[] = new Array(tensors.length);
  let cumulative = 0;
  for (const i of order) {
    cumulative += tensors[i].numel;
    const share = cumulative / total;
    tiers[i] = share <= hot + 1e-12 ? "hot" : share <= warm + 1e-12 ? "warm" : "cold";
  }
  return tiers;
}

export function* syntheticEvents(o: SyntheticRunOptions): Generator<Event> {
  const nLayer = o.nLayer ?? 12;
  const nEmbd = o.nEmbd ?? 768;
  const tensors = gptTensors(nLayer, nEmbd, o.vocab ?? 50304, o.blockSize ?? 1024);
  const { tierEvery = 50, memoryEvery = 50, evalEvery = 500, hot = 0.2, warm = 0.6 } = o;
  const rand = seededRandom(o.seed ?? 1);
  const nParams = tensors.reduce((s, t) => s + t.numel, 0);
  const cutoffs = { hot, warm };
  yield {
    v: 1, type: "hello", run_id: "synthetic", method: "hima", device: "cuda:0", dtype: "bfloat16",
    max_steps: o.steps, start_step: 0, cutoffs, model: { preset: "small", n_params: nParams, n_layer: nLayer },
    config: { synthetic: true }, tensors,
  };
  // Scores drift slowly so that a few tensors change tier at each re-tier, as in a real run.
  const scores = tensors.map(() => Math.pow(10, -6 + 4 * rand()));
  let previous: Tier[] | null = null;
  let lastCounts: TierCounts | null = null;
  let transitionTotal = 0;
  let firstLoss: number | null = null;
  let lastLoss: number | null = null;
  const tiersEvent = (step: number): Event => {
    for (let i = 0; i < scores.length; i++) scores[i] *= Math.exp((rand() - 0.5) * 0.6);
    const tiers = assignTiers(tensors, scores, hot, warm);
    const counts: TierCounts = { hot: { tensors: 0, elements: 0 }, warm: { tensors: 0, elements: 0 }, cold: { tensors: 0, elements: 0 } };
    const transitions: Transition[] = [];
    const list: TensorTier[] = tensors.map((t, i) => {
      counts[tiers[i]].tensors++;
      counts[tiers[i]].elements += t.numel;
      if (previous && previous[i] !== tiers[i]) transitions.push({ name: t.name, from: previous[i], to: tiers[i] });
      return { name: t.name, tier: tiers[i], score: scores[i], pinned: false };
    });
    previous = tiers;
    lastCounts = counts;
    transitionTotal += transitions.length;
    return { v: 1, type: "tiers", step, cutoffs, counts, tensors: list, transitions };
  };
  yield tiersEvent(0);
  const stateBytes = (t: Tier) => 8 * tensors.reduce((s, x, i) => s + (previous![i] === t ? x.numel : 0), 0);
  for (let step = 1; step <= o.steps; step++) {
    const loss = 2.8 + 8 * Math.exp(-step / 3000) + (rand() - 0.5) * 0.3;
    firstLoss ??= loss;
    lastLoss = loss;
    yield { v: 1, type: "step", step, loss, lr: 6e-4, step_time_ms: 95 + rand() * 10, tokens_per_s: 50000 + rand() * 5000 };
    if (step % tierEvery === 0) yield tiersEvent(step);
    if (step % memoryEvery === 0) {
      const h = stateBytes("hot");
      const w = stateBytes("warm") / 2; // Warm keeps one moment
      const allocated = 4 * nParams + h + w + 2e9 + rand() * 1e8;
      yield {
        v: 1, type: "memory", step, device: "cuda:0",
        optimizer_state_bytes: { total: Math.round(h + w), hot: h, warm: Math.round(w), cold: 0 },
        full_optimizer_state_bytes: 8 * nParams, evicted_bytes: stateBytes("cold"),
        allocated_bytes: Math.round(allocated), peak_bytes: Math.round(allocated * 1.3), rss_bytes: 3_000_000_000,
        ...(o.gpu ? { gpu: { utilization_percent: Math.min(100, 80 + 20 * rand()), power_w: 300 + 50 * rand(), temperature_c: 60 + step / 100 } } : {}),
      };
    }
    if (step % evalEvery === 0) yield { v: 1, type: "eval", step, val_loss: 2.9 + 8 * Math.exp(-step / 3000) };
  }
  if (o.done) {
    yield {
      v: 1, type: "done", step: o.steps, reason: "completed",
      summary: {
        wall_time_s: o.steps * 0.1, first_loss: firstLoss, last_loss: lastLoss, last_val_loss: null,
        counts: lastCounts!, optimizer_state_bytes: stateBytes("hot") + stateBytes("warm") / 2,
        full_optimizer_state_bytes: 8 * nParams, transitions: transitionTotal, checkpoint: null,
      },
    };
  }
}
