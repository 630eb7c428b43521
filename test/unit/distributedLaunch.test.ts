// Multi-process runs: the torchrun command line, and the per-rank memory spread the panel shows.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EventOf } from "../../protocol/protocol.generated";
import { RunModel, runDevice } from "../../src/run/RunModel";
import { launchArgs, trainerArgs } from "../../src/run/trainerCommand";
import { validateEvent } from "../../src/run/validateEvent";

const trainer = trainerArgs({ preset: "small", dataDir: "/d", outDir: "/o", runId: "r" });

test("launchArgs: one process is the plain trainer; N processes go through torch.distributed.run", () => {
  assert.deepEqual(launchArgs(trainer, 1), trainer);
  assert.deepEqual(launchArgs(trainer, 4), ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "4", ...trainer]);
  assert.throws(() => launchArgs(trainer, 0), /integer from 1 to 64/);
  assert.throws(() => launchArgs(trainer, 2.5), /integer from 1 to 64/);
  assert.throws(() => launchArgs(trainer, 65), /integer from 1 to 64/);
  assert.throws(() => launchArgs(["train.py"], 2), /starting with "-m hima"/);
});

function memory(step: number, ranks?: EventOf<"memory">["ranks"]): EventOf<"memory"> {
  const event: EventOf<"memory"> = {
    v: 1, type: "memory", step, device: "cuda:0", optimizer_state_bytes: { total: 8, hot: 8, warm: 0, cold: 0 },
    full_optimizer_state_bytes: 16, evicted_bytes: 8, allocated_bytes: 100, peak_bytes: 200, rss_bytes: 300,
    ...(ranks ? { ranks } : {}),
  };
  assert.equal(validateEvent(event), event, "the fixture is a valid protocol event");
  return event;
}

test("RunModel: the panel's per-rank line shows the min/max peak over ranks, and only for multi-process runs", () => {
  const model = new RunModel();
  model.apply(memory(1));
  assert.equal(model.snapshot().rankMemory, null);

  const ranks = (peak: { min: number; max: number } | null, rss = { min: 5, max: 9 }) => ({
    nproc: 2, allocated_bytes: null, peak_bytes: peak, rss_bytes: rss, allreduce_bytes_per_step: 1024, allreduce_bytes_total: 4096,
  });
  model.apply(memory(2, ranks({ min: 1000, max: 1500 })));
  const update = model.takeUpdate();
  assert.deepEqual(update?.rankMemory, { min: 1000, max: 1500, nproc: 2, measure: "peak", allreducePerStep: 1024 });
  model.apply(memory(3, ranks({ min: 1000, max: 1500 })));
  assert.equal(model.takeUpdate()?.rankMemory, undefined, "an unchanged spread is not sent again");
  // CPU runs have no allocator peak: resident memory stands in.
  model.apply(memory(4, ranks(null)));
  assert.deepEqual(model.snapshot().rankMemory, { min: 5, max: 9, nproc: 2, measure: "resident", allreducePerStep: 1024 });
});

test("validateEvent refuses a malformed rank spread", () => {
  const bad = { ...memory(1), ranks: { nproc: 0, allocated_bytes: null, peak_bytes: null, rss_bytes: null, allreduce_bytes_per_step: 0, allreduce_bytes_total: 0 } };
  assert.equal(typeof validateEvent(bad), "string");
});

test("the run details name the devices of every process, not only rank 0's", () => {
  assert.equal(runDevice("cuda:0", 1), "cuda:0");
  assert.equal(runDevice("cuda:0", 4), "4 × cuda");
  assert.equal(runDevice("cpu", 2), "2 × cpu");
});

test("the run details say when the model is sharded and on how many machines", () => {
  assert.equal(runDevice("cuda:0", 4, "replicated"), "4 × cuda");
  assert.equal(runDevice("cuda:0", 4, "fsdp2"), "4 × cuda, sharded (FSDP2)");
  assert.equal(runDevice("cuda:0", 8, "fsdp2", 2), "8 × cuda on 2 machines, sharded (FSDP2)");
  assert.equal(runDevice("cpu", 1, "fsdp2"), "cpu, sharded (FSDP2)");
});

test("RunModel: the panel header's device line comes from hello's strategy and nnodes", () => {
  const hello: EventOf<"hello"> = {
    v: 1, type: "hello", run_id: "r", method: "hima", device: "cuda:0", dtype: "bfloat16", max_steps: 10, start_step: 0,
    cutoffs: { hot: 0.3, warm: 0.6 }, model: { preset: "small", n_params: 1, n_layer: 1 }, config: {}, tensors: [],
    nproc: 4, nnodes: 2, strategy: "fsdp2",
  };
  assert.equal(validateEvent(hello), hello, "the fixture is a valid protocol event");
  const model = new RunModel();
  model.apply(hello);
  assert.equal(model.snapshot().run?.device, "4 × cuda on 2 machines, sharded (FSDP2)");
  assert.equal(typeof validateEvent({ ...hello, strategy: "zero3" }), "string", "an unknown strategy is refused at the boundary");
});

test("trainerArgs passes the strategy through, and refuses one the trainer does not know", () => {
  const args = trainerArgs({ preset: "small", dataDir: "/d", outDir: "/o", runId: "r", strategy: "fsdp2" });
  assert.deepEqual(args.slice(-2), ["--strategy", "fsdp2"]);
  assert.ok(!trainer.includes("--strategy"), "unset: the trainer's default (replicated)");
  assert.throws(() => trainerArgs({ preset: "small", dataDir: "/d", outDir: "/o", runId: "r", strategy: "zero3" }),
    /unknown strategy "zero3" \(one of replicated, fsdp2\)/);
});
