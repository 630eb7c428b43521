"""Checkpoints of the fsdp2 strategy: ``<run>/checkpoints/ckpt-<step>.dcp/``, written by torch.distributed.checkpoint.

Why not the one-file checkpoint (hima.app.checkpoint): under FSDP2 no rank holds the whole model or optimizer
state, and gathering them onto one rank is what a model too large for one GPU cannot afford. Every rank writes
its own shards (model, AdamW moments, and the offloaded Cold moments straight from host memory); DCP records
each shard's global offsets, so a checkpoint saved on N ranks loads on any other number (it re-slices).

The folder holds DCP's files and ``hima.json`` (rank 0): everything that is not a sharded tensor -- the run
config, model config, counters, and the engine's state (tiers, scores, pins, cutoffs, which Cold state is
offloaded, the optimizer's parameter groups), plain JSON. It is written into ``.tmp-ckpt-<step>.dcp`` and renamed
once complete; then `latest` names it, as for one-file checkpoints. Every rank must see the same folder
(one machine, or a filesystem shared by the machines).

Loading runs no code from the folder: ``hima.json`` is JSON, and DCP's ``.metadata`` (a pickle DCP reads with
pickle.load) is first read opcode by opcode (nothing executed) and refused if it would import anything outside
the DCP metadata classes (``_check_metadata``). The tensor files are read by DCP with ``weights_only=True``.
"""
from __future__ import annotations

import json
import os
import pickletools
import shutil
from typing import Any

import torch
import torch.distributed as dist

from ..sharding import is_sharded
from .checkpoint import CheckpointError, atomic_write, checkpoint_dir
from .run_folder import private_folder

FORMAT = "hima-sharded-checkpoint"
FORMAT_VERSION = 1
RECORD = "hima.json"
METADATA = ".metadata"
# What DCP's metadata pickle may import ("module name"), for torch 2.6 - 2.13.
ALLOWED_GLOBALS = {
    *(f"torch.distributed.checkpoint.metadata {n}" for n in (
        "Metadata", "TensorStorageMetadata", "BytesStorageMetadata", "ChunkStorageMetadata", "TensorProperties",
        "MetadataIndex", "StorageMeta", "_MEM_FORMAT_ENCODING")),
    "pathlib PosixPath", "pathlib PurePosixPath",  # StorageMeta.checkpoint_id: where it was written
    "torch.distributed.checkpoint.filesystem _StorageInfo", "torch.distributed.checkpoint.planner LoadItemType",
    "torch.distributed.checkpoint.planner WriteItemType", "torch Size", "torch.serialization _get_layout",
    "collections OrderedDict", "torch strided", "torch contiguous_format",
    "torch.distributed.checkpoint._extension StreamTransformExtension",
    *(f"torch {d}" for d in ("float32", "float16", "bfloat16", "float64", "int64", "int32", "uint8", "bool", "layout", "memory_format")),
}


def _folder_name(step: int) -> str:
    return f"ckpt-{step:08d}.dcp"


def save_sharded(run_dir: str, step: int, model: torch.nn.Module, hima, record: dict[str, Any], keep: int, group=None) -> str:
    """Every rank: write this step's sharded checkpoint (a collective); rank 0 adds ``hima.json``, renames the
    folder into place, points `latest` at it and prunes to the newest ``keep``. Returns the folder's path."""
    import torch.distributed.checkpoint as dcp

    main = dist.get_rank() == 0
    folder = checkpoint_dir(run_dir)
    name = _folder_name(step)
    tmp, final = os.path.join(folder, f".tmp-{name}"), os.path.join(folder, name)
    if main:
        private_folder(folder)
        shutil.rmtree(tmp, ignore_errors=True)  # left by a trainer killed mid-save
    dist.barrier(group=group)
    engine = hima.state_dict()
    optimizer = engine.pop("optimizer")
    tensors = {
        "model": model.state_dict(),
        "optim": {n: {k: v for k, v in st.items() if isinstance(v, torch.Tensor)} for n, st in optimizer["state"].items()},
        "rng": torch.get_rng_state(),
    }
    dcp.save(tensors, checkpoint_id=tmp)
    if main:
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "step": step, "world_size": dist.get_world_size(),
            **record, "hima": engine, "param_groups": optimizer["param_groups"],
            "optim_keys": {n: {k: _describe(v) for k, v in st.items()} for n, st in tensors["optim"].items()},
        }
        atomic_write(os.path.join(tmp, RECORD), lambda f: f.write(json.dumps(meta).encode()))
        shutil.rmtree(final, ignore_errors=True)  # the same step saved again (a checkpoint control, then the end)
        os.replace(tmp, final)
        atomic_write(os.path.join(folder, "latest"), lambda f: f.write((name + "\n").encode()))
        for old in sorted(n for n in os.listdir(folder) if n.startswith("ckpt-") and n.endswith(".dcp"))[:-keep]:
            if old != name:
                shutil.rmtree(os.path.join(folder, old), ignore_errors=True)
    dist.barrier(group=group)  # no rank reads `latest` or exits before it names the new folder
    return final


def _describe(value: torch.Tensor) -> dict:
    return {"kind": "dtensor" if is_sharded(value) else "tensor", "dtype": str(value.dtype).removeprefix("torch."),
            "shape": list(value.shape)}


def read_record(path: str) -> dict:
    """The checkpoint's ``hima.json`` as a resume dict (``sharded`` True, ``path``); no tensor is read yet."""
    try:
        with open(os.path.join(path, RECORD), encoding="utf-8") as f:
            record = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is incomplete: no {RECORD} (a save that did not finish?)") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"sharded checkpoint {path} is corrupt or unreadable: {e}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a HiMA sharded checkpoint")
    if record.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has sharded checkpoint format {record.get('format_version')}, this trainer reads {FORMAT_VERSION}")
    for key in ("step", "config", "model_config", "hima", "param_groups", "optim_keys"):
        if key not in record:
            raise CheckpointError(f"{path} is incomplete: no '{key}' in {RECORD}")
    _check_metadata(path)
    return {**record, "path": path, "sharded": True}


def load_sharded(ckpt: dict, model: torch.nn.Module, hima) -> None:
    """Every rank: load a ``read_record`` checkpoint into the sharded ``model`` and its ``hima`` engine, on any
    number of ranks (a collective). Offloaded Cold moments land in host memory, never on the device."""
    import torch.distributed.checkpoint as dcp

    params = dict(model.named_parameters())
    moved = ckpt["hima"]["evicted"]["moved"]
    unknown = sorted(set(ckpt["optim_keys"]) - set(params))
    if unknown:
        raise CheckpointError(f"{ckpt['path']} holds optimizer state for tensors this model does not have: {unknown[:5]}")
    optim = {
        name: {key: _destination(params[name], info, key in moved.get(name, ())) for key, info in keys.items()}
        for name, keys in ckpt["optim_keys"].items()
    }
    tensors = {"model": model.state_dict(), "optim": optim, "rng": torch.empty_like(torch.get_rng_state())}
    dcp.load(tensors, checkpoint_id=ckpt["path"])  # in place, re-sliced for this number of ranks
    model.load_state_dict(tensors["model"])
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in ckpt["param_groups"]]
    hima.load_state_dict({**ckpt["hima"], "optimizer": {"state": optim, "param_groups": groups}})
    torch.set_rng_state(tensors["rng"])


def _destination(param: torch.Tensor, info: dict, on_host: bool) -> torch.Tensor:
    """An empty tensor shaped like the saved one, sharded like ``param`` where the saved one was."""
    dtype = getattr(torch, info["dtype"])
    if info["kind"] == "tensor":
        return torch.zeros(info["shape"], dtype=dtype)
    if not is_sharded(param):
        raise CheckpointError("a sharded checkpoint's optimizer state needs a sharded model (strategy fsdp2)")
    if list(param.shape) != info["shape"]:
        raise CheckpointError(f"optimizer state of shape {info['shape']} does not fit a parameter of shape {list(param.shape)}")
    if on_host:  # an offloaded Cold moment: this rank's shard straight into host memory
        from torch.distributed.tensor import DTensor

        local = torch.zeros(param.to_local().shape, dtype=dtype, device="cpu")
        return DTensor.from_local(local, param.device_mesh, param.placements, run_check=False, shape=param.shape, stride=param.stride())
    return torch.zeros_like(param, dtype=dtype)


def _check_metadata(path: str) -> None:
    """Refuse a ``.metadata`` pickle that would import anything but DCP's metadata classes (nothing is run)."""
    file = os.path.join(path, METADATA)
    try:
        with open(file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointError(f"sharded checkpoint {path} is incomplete: {e}") from None
    memo: dict[int, Any] = {}
    pushed: list[Any] = []  # what the last opcodes pushed: strings, or None for anything else
    try:
        for op, arg, _pos in pickletools.genops(data):
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                pushed.append(arg)
            elif op.name in ("BINGET", "LONG_BINGET", "GET"):
                pushed.append(memo.get(arg))
            elif op.name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[arg] = pushed[-1] if pushed else None
            elif op.name in ("STACK_GLOBAL", "GLOBAL"):
                target = arg if op.name == "GLOBAL" else f"{pushed[-2] if len(pushed) > 1 else None} {pushed[-1] if pushed else None}"
                if target not in ALLOWED_GLOBALS:
                    raise CheckpointError(f"{file} would import {target.replace(' ', '.')}, which a checkpoint's metadata never holds; refusing to load it")
                pushed.append(None)
            elif op.name in ("INST", "OBJ", "EXT1", "EXT2", "EXT4"):
                raise CheckpointError(f"{file} uses the pickle opcode {op.name}, which a checkpoint's metadata never holds")
            else:
                pushed.append(None)
    except CheckpointError:
        raise
    except (ValueError, EOFError) as e:
        raise CheckpointError(f"sharded checkpoint {path} has a corrupt {METADATA}: {e}") from None
