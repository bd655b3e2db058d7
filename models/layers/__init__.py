"""Building blocks shared by more than one method."""

from models.layers.mlp import Mlp
from models.layers.pooling import masked_mean

__all__ = ["Mlp", "masked_mean"]
