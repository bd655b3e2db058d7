"""A plain multi-layer perceptron."""

from __future__ import annotations

from torch import nn


class Mlp(nn.Sequential):
    """Linear -> GELU -> Dropout, repeated `layers - 1` times, then a final Linear to `out_dim`."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 2, dropout: float = 0.1) -> None:
        blocks: list[nn.Module] = []
        dim = in_dim
        for _ in range(layers - 1):
            blocks += [nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout)]
            dim = hidden
        blocks.append(nn.Linear(dim, out_dim))
        super().__init__(*blocks)
