"""The three-level pyramid module inside V2/V4's ``t_net_hr`` (release: ``PyramidModule``)."""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from star_jax.model.blocks import ConvBlock, DeconvBlock, ResnetBlock
from star_jax.model.remat import unit

Dtype = Any


class PyramidModule(nn.Module):
  """Residual blocks at C, 2C and 4C channels exchanging features through shared
  stride-2 down (``down1``, ``down2``) and up (``up1``, ``up2``) projections.

  The input's sides must be multiples of 4 (two stride-2 levels). ``remat``: the residual
  blocks are remat units unless 'none' (``star_jax.model.remat``).
  """

  channels: int
  activation: str = "lrelu"
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  @nn.compact
  def __call__(self, x):
    if x.shape[1] % 4 or x.shape[2] % 4:
      raise ValueError(f"PyramidModule needs sides divisible by 4, got {x.shape[1:3]}")
    c = self.channels
    kw = dict(activation=self.activation, dtype=self.dtype, param_dtype=self.param_dtype)
    block = unit(ResnetBlock, self.remat)
    res = {f"l{level}_{i}": block(name=f"l{level}_{i}", **kw)
           for level, count in ((1, 5), (2, 4), (3, 3)) for i in range(1, count + 1)}
    down1 = ConvBlock(features=2 * c, kernel_size=4, stride=2, padding=1, name="down1", **kw)
    down2 = ConvBlock(features=4 * c, kernel_size=4, stride=2, padding=1, name="down2", **kw)
    up1 = DeconvBlock(features=c, kernel_size=4, stride=2, padding=1, name="up1", **kw)
    up2 = DeconvBlock(features=2 * c, kernel_size=4, stride=2, padding=1, name="up2", **kw)
    final = ConvBlock(features=c, kernel_size=3, stride=1, padding=1, name="final", **kw)

    o11 = res["l1_1"](x)
    o21 = res["l2_1"](down1(o11))
    o31 = res["l3_1"](down2(o21))
    o12 = res["l1_2"](o11 + up1(o21))
    o22 = res["l2_2"](o21 + down1(o12) + up2(o31))
    o32 = res["l3_2"](o31 + down2(o22))
    o13 = res["l1_3"](o12 + up1(o22))
    o23 = res["l2_3"](o22 + down1(o13) + up2(o32))
    o33 = res["l3_3"](o32 + down2(o23))
    o14 = res["l1_4"](o13 + up1(o23))
    o24 = res["l2_4"](o23 + down1(o14) + up2(o33))
    o15 = res["l1_5"](o14 + up1(o24))
    return final(o15)
