"""Building blocks shared by more than one method."""

from emobench.models.layers.mlp import Mlp
from emobench.models.layers.pooling import masked_mean

__all__ = ["Mlp", "masked_mean"]
