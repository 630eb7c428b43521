"""HiMA: Hierarchical Memory-Aware Training for PyTorch."""
