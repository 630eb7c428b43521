"""HiMA: Hierarchical Memory-Aware Training for PyTorch (Hot / Warm / Cold parameter tiers)."""
from .compile import HiMACompileError, compile_per_block
from .engine import METHODS, HiMA, HiMAConfig
from .tiering import TIERS, Tier

__all__ = ["HiMA", "HiMAConfig", "Tier", "TIERS", "METHODS", "HiMACompileError", "compile_per_block"]
