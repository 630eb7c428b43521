"""Engine checks on one GPU, short runs through the suite's own measure.run_one (synthetic tokens).

    PYTHONPATH=trainer python -m bench.gpu_checks --out /tmp/checks [--only name,name] [--steps 100]

Answers the engineering questions behind the suite, before it runs: does the chunked loss cut the peak,
what does the controller cost (method full and all-Hot HiMA through Trainer.train_step vs a bare AdamW
loop), how many recompiles do real tiers cause and does any block fall back to eager, what do probes,
random-static and the no-input-embedding-gradient option do to time and memory. One JSON line per check
on stdout and <out>/checks.json, written after every check (a cut-short call keeps what it finished).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import hima.app.model as model_module

from . import measure
from .suite import RunSpec


@contextlib.contextmanager
def plain_loss():
    """The model's loss as before the chunked loss: whole logits, then F.cross_entropy (the 'before')."""
    chunked = model_module.linear_cross_entropy

    def whole_logits(h, weight, targets):
        return F.cross_entropy(F.linear(h, weight), targets)

    model_module.linear_cross_entropy = whole_logits
    try:
        yield
    finally:
        model_module.linear_cross_entropy = chunked


CHECKS = {
    # name: (spec, batch, context)
    "full-bare-plain-loss": (RunSpec("c", "small", "full", engine=False), None, plain_loss),
    "full-bare": (RunSpec("c", "small", "full", engine=False), None, None),
    "full-engine": (RunSpec("c", "small", "full"), None, None),
    "hima-all-hot": (RunSpec("c", "small", "hima", 1.0, 1.0), None, None),
    "hima-50": (RunSpec("c", "small", "hima", 0.25, 0.5, steps_key="medium_steps"), None, None),
    "random-static-50": (RunSpec("c", "small", "random-static", random_cold_fraction=0.5), None, None),
    "full-bare-b10": (RunSpec("c", "small", "full", engine=False), 10, None),
    "medium-full-bare": (RunSpec("c", "medium", "full", engine=False), 8, None),
    "medium-hima-50": (RunSpec("c", "medium", "hima", 0.25, 0.5, steps_key="medium_steps"), 8, None),
}


def grad_presence(skip_param_guards: bool, rounds: int = 6) -> dict:
    """Per-block compiled GPT vs an eager copy while matrices are frozen and thawed at random: are the
    gradients present exactly where requires_grad is set, with the eager values? How many graphs?"""
    import copy

    import torch._dynamo as dynamo

    from hima.compile import raise_recompile_limit
    from hima.app.model import GPT, gpt_config

    from . import compile_stats

    compile_stats.reset()
    dynamo.config.skip_tensor_guards_with_matching_dict_tags = skip_param_guards
    raise_recompile_limit([2 ** 4])
    torch.manual_seed(0)
    eager = GPT(gpt_config("tiny", 512, 64)).cuda()
    compiled = copy.deepcopy(eager)
    for block in compiled.transformer.h:
        block.compile()
    names = [n for n, p in eager.named_parameters() if p.dim() == 2 and ".h." in n]
    rng = np.random.default_rng(0)
    x = torch.randint(0, 512, (4, 64), device="cuda")
    wrong_presence = wrong_values = checks = 0
    for r in range(rounds):
        frozen = set() if r == 0 else {n for n in names if rng.random() < 0.5}
        grads = []
        for model in (eager, compiled):
            for n, p in model.named_parameters():
                p.requires_grad_(n not in frozen)
            model(x, x)[1].backward()
            grads.append({n: p.grad for n, p in model.named_parameters()})
            model.zero_grad(set_to_none=True)
        for n, _ in eager.named_parameters():
            checks += 1
            ref, got = grads[0][n], grads[1][n]
            if (got is None) != (n in frozen):
                wrong_presence += 1
            elif got is not None and not torch.allclose(ref, got, rtol=1e-3, atol=1e-4):
                wrong_values += 1
    dynamo.config.skip_tensor_guards_with_matching_dict_tags = False
    snap = compile_stats.snapshot()
    return {"skip_param_guards": skip_param_guards, "checks": checks, "wrong_presence": wrong_presence,
            "wrong_values": wrong_values, "frames_compiled": snap["frames_compiled"],
            "compile_s": round(snap["compile_s"], 1), "limit_hits": snap["recompile_limit_hits"]}


SPECIAL = {
    "grad-presence-default-guards": lambda: grad_presence(True),
    "grad-presence-hima-guards": lambda: grad_presence(False),
}


def synthetic_tokens(folder: str, n_train: int, vocab: int = 50257) -> str:
    """A learnable stream (a fixed random bigram walk with noise), so gradients and tiers have structure."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    nxt = rng.integers(0, vocab, size=vocab)
    for name, n in (("train.bin", n_train), ("val.bin", 200_000)):
        out = np.empty(n, dtype=np.uint16)
        tok = 0
        noise = rng.integers(0, vocab, size=n)
        keep = rng.random(n) < 0.7
        for i in range(n):  # a few seconds for a few million tokens
            tok = nxt[tok] if keep[i] else noise[i]
            out[i] = tok
        out.astype("<u2").tofile(os.path.join(folder, name))
    meta = {"tokenizer": "gpt2", "vocab_size": vocab, "n_train": n_train, "n_val": 200_000,
            "source": "synthetic bigram walk", "token_map": None}
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f)
    return folder


def summary(name: str, r: dict) -> dict:
    mem, t, c, st = r["memory"], r["timing"], r["compile"], r["optimizer_state"]
    mib = lambda b: None if b is None else round(b / 2**20)  # noqa: E731
    return {
        "check": name, "batch": r["config"]["batch"], "steps": r["config"]["steps"],
        "ms_median": round(t["ms_per_step_median"], 2), "ms_mean_steady": round(t["ms_per_step_mean_steady"], 2),
        "peak_mib": mib(mem.get("peak_allocated_bytes")), "steady_peak_mib": mib(mem.get("steady_peak_allocated_bytes")),
        "leftover_mib": mib(mem.get("leftover_bytes")), "adam_mib_end": mib(st["end_bytes"]), "frames_compiled": c["frames_compiled"],
        "compiles_at": c["train_compiles_at_steps"], "compile_s": round(c["compile_s"], 1),
        "limit_hits": c["recompile_limit_hits"], "recompile_limit": c["recompile_limit"],
        "update_saved": round(r["update_compute_saved"], 3), "tiers_end": r["tiers_end"],
        "final_val": round(r["final_val_loss"], 4), "wall_s": round(t["wall_time_s"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_checks")
    p.add_argument("--out", required=True)
    p.add_argument("--only", default=",".join(CHECKS))
    p.add_argument("--steps", type=int, default=100, help="steps of the timing checks")
    p.add_argument("--tier-steps", type=int, default=150, help="steps of the checks with real tiers")
    p.add_argument("--batch", type=int, default=6)
    p.add_argument("--retier-every", type=int, default=25)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--preset", default=None, help="run every check on this preset (CPU smoke test: tiny)")
    p.add_argument("--backend", default="inductor")
    p.add_argument("--data", default=None, help="token folder (default: synthetic tokens under --out)")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECKS and n not in SPECIAL]
    if unknown:
        print(f"error: unknown check(s) {unknown}; known: {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    need = max(args.steps, args.tier_steps) * 10 * args.seq + 10_000
    data = args.data or synthetic_tokens(os.path.join(args.out, "tokens"), need)
    env = measure.environment()
    print(json.dumps({"env": env}), flush=True)
    results = {"env": env, "checks": []}
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
    for name in names:
        if name in SPECIAL:
            started = time.perf_counter()
            try:
                line = {"check": name, **SPECIAL[name]()}
            except Exception as e:
                line = {"check": name, "error": f"{type(e).__name__}: {e}"}
            line["call_s"] = round(time.perf_counter() - started, 1)
            print(json.dumps(line), flush=True)
            results["checks"].append(line)
            continue
        spec, batch, context = CHECKS[name]
        settings = measure.SuiteSettings(
            data=data, out=os.path.join(args.out, "runs"), device="auto", batch=batch or args.batch, seq=args.seq,
            seed=1337, steps=args.steps, medium_steps=args.tier_steps, overhead_steps=args.steps, eval_every=0,
            eval_batches=2, retier_every=args.retier_every, compile_backend=args.backend, preset_override=args.preset,
        )
        started = time.perf_counter()
        try:
            with context() if context else contextlib.nullcontext():
                line = summary(name, measure.run_one(spec, settings))
        except Exception as e:  # one failed check (OOM) must not cost the others
            line = {"check": name, "error": f"{type(e).__name__}: {e}"}
            torch.cuda.empty_cache()
        line["call_s"] = round(time.perf_counter() - started, 1)
        print(json.dumps(line), flush=True)
        results["checks"].append(line)
        with open(os.path.join(args.out, "checks.json"), "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
