"""Token files: <dir>/train.bin, <dir>/val.bin (little-endian uint16) + <dir>/meta.json.

Batches are a pure function of (seed, step), never of loader state, so a resumed run draws exactly
the batches the uninterrupted run would have drawn.

Two orders:
- "random": each row starts at a uniformly random offset (nanoGPT style). Rows may overlap.
- "sequential": the split is cut into non-overlapping windows of block_size tokens; each epoch visits
  the windows in a seeded permutation, batch_size windows per step. Within one epoch
  (n_windows // batch_size steps) no token is an input twice. Used for the larger GPU corpus.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import torch

ORDERS = ("random", "sequential")


class DataError(ValueError):
    """The token files are missing, unreadable or inconsistent. The message names the file."""


@dataclass(frozen=True)
class Meta:
    vocab_size: int
    n_train: int
    n_val: int
    tokenizer: str
    source: str
    token_map: list[int] | None


def read_meta(data_dir: str) -> Meta:
    path = os.path.join(data_dir, "meta.json")
    if not os.path.isdir(data_dir):
        raise DataError(f"data directory not found: {data_dir}")
    if not os.path.isfile(path):
        raise DataError(f"missing {path} (expected train.bin, val.bin and meta.json in {data_dir})")
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object")

    def need_int(key: str, minimum: int) -> int:
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise DataError(f"{path}: '{key}' must be an integer >= {minimum}, got {value!r}")
        return value

    vocab_size = need_int("vocab_size", 1)
    if vocab_size > 65536:
        raise DataError(f"{path}: vocab_size {vocab_size} does not fit uint16 token files")
    token_map = raw.get("token_map")
    if token_map is not None and (not isinstance(token_map, list) or len(token_map) != vocab_size):
        raise DataError(f"{path}: 'token_map' must be null or a list of vocab_size ({vocab_size}) ids")
    return Meta(
        vocab_size=vocab_size,
        n_train=need_int("n_train", 0),
        n_val=need_int("n_val", 0),
        tokenizer=str(raw.get("tokenizer", "")),
        source=str(raw.get("source", "")),
        token_map=token_map,
    )


def _open_tokens(path: str, expected: int, vocab_size: int, block_size: int) -> np.memmap:
    if not os.path.isfile(path):
        raise DataError(f"missing token file {path}")
    size = os.path.getsize(path)
    if size % 2 != 0:
        raise DataError(f"{path} is corrupt: {size} bytes is not a whole number of uint16 tokens")
    if size // 2 != expected:
        raise DataError(f"{path} holds {size // 2} tokens but meta.json says {expected}")
    if size // 2 < block_size + 1:
        raise DataError(f"{path} holds {size // 2} tokens; need at least block_size + 1 = {block_size + 1}")
    tokens = np.memmap(path, dtype="<u2", mode="r")
    top = int(tokens.max())  # one pass; catches files written with another vocabulary
    if top >= vocab_size:
        raise DataError(f"{path} contains token id {top}, outside vocab_size {vocab_size} from meta.json")
    return tokens


class TokenBatches:
    """Deterministic (x, y) batches from the token files of one data directory."""

    def __init__(self, data_dir: str, batch_size: int, block_size: int, seed: int, order: str = "random"):
        if order not in ORDERS:
            raise ValueError(f"data order must be one of {ORDERS}, got {order!r}")
        if batch_size < 1 or block_size < 1:
            raise ValueError("batch_size and block_size must be >= 1")
        self.meta = read_meta(data_dir)
        self.batch_size, self.block_size, self.seed, self.order = batch_size, block_size, seed, order
        self.train = _open_tokens(os.path.join(data_dir, "train.bin"), self.meta.n_train, self.meta.vocab_size, block_size)
        self.val = _open_tokens(os.path.join(data_dir, "val.bin"), self.meta.n_val, self.meta.vocab_size, block_size)
        # Windows for the sequential order: start offsets i * block_size whose target still fits.
        self.n_windows = (len(self.train) - 1) // block_size
        self._perm_epoch = -1
        self._perm: np.ndarray | None = None

    def steps_per_epoch(self) -> int:
        """Steps before the sequential order repeats a token (0 if one batch does not fit)."""
        return self.n_windows // self.batch_size

    def _starts_for_step(self, step: int) -> np.ndarray:
        if self.order == "random":
            rng = np.random.default_rng([self.seed, step])
            return rng.integers(0, len(self.train) - self.block_size - 1, size=self.batch_size, endpoint=True)
        per_epoch = self.steps_per_epoch()
        if per_epoch == 0:
            raise DataError(f"train.bin has {self.n_windows} windows, fewer than batch_size {self.batch_size}")
        epoch, k = divmod(step, per_epoch)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch, 1]).permutation(self.n_windows)
            self._perm_epoch = epoch
        assert self._perm is not None
        return self._perm[k * self.batch_size : (k + 1) * self.batch_size] * self.block_size

    def _rows(self, tokens: np.memmap, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        T = self.block_size
        rows = np.stack([np.asarray(tokens[s : s + T + 1], dtype=np.int64) for s in starts])
        t = torch.from_numpy(rows)
        return t[:, :-1].contiguous(), t[:, 1:].contiguous()

    def train_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch for optimizer step `step` (0-based). Same (seed, step) -> same batch."""
        return self._rows(self.train, self._starts_for_step(step))

    def val_batches(self, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A fixed validation set: n batches spread evenly over val.bin, identical at every eval."""
        last = len(self.val) - self.block_size - 1
        count = n * self.batch_size
        starts = np.linspace(0, last, num=count).astype(np.int64)
        return [self._rows(self.val, starts[i * self.batch_size : (i + 1) * self.batch_size]) for i in range(n)]
