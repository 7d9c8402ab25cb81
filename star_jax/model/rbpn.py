"""RBPN with one neighbour and its single-image back-projection branch DBPN-S.

STARnet applies one RBPN (shared weights) to (im1, im2, flow_f) and (im2, im1, flow_b) to get
the super-resolved input frames and their HR feature maps.
"""

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from star_jax.model.blocks import (ConvBlock, DeconvBlock, DownBlock, ResidualStack, UpBlock,
                                   projection_ksp)
from star_jax.model.remat import subnet

Dtype = Any

# The release hard-codes 5 residual blocks in every RBPN branch, whatever n_resblock says.
RBPN_RESBLOCKS = 5


class DBPNS(nn.Module):
  """Three-stage Deep Back-Projection network (release attribute ``DBPN``); ``remat``
  applies to its back-projection units (``star_jax.model.remat``)."""

  feat: int
  scale: int
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  @nn.compact
  def __call__(self, x):
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    pu = dict(kw, remat=self.remat)
    f, s = self.feat, self.scale
    x = ConvBlock(features=f, kernel_size=1, stride=1, padding=0, activation="prelu",
                  name="feat1", **kw)(x)
    h1 = UpBlock(f, s, name="up1", **pu)(x)
    h2 = UpBlock(f, s, name="up2", **pu)(DownBlock(f, s, name="down1", **pu)(h1))
    h3 = UpBlock(f, s, name="up3", **pu)(DownBlock(f, s, name="down2", **pu)(h2))
    return ConvBlock(features=f, kernel_size=1, stride=1, padding=0, activation=None,
                     name="output", **kw)(jnp.concatenate([h3, h2, h1], axis=-1))


class RBPN(nn.Module):
  """Recurrent back-projection for one target frame and one neighbour.

  Returns ``(hr_image, hr_features)``: the image in float32 (whatever ``dtype``), the
  features in ``dtype``. ``res_feat3`` (the projection back to LR for a further neighbour)
  is unused with one neighbour; its parameters are still created so release checkpoints
  round-trip, but it is never evaluated. ``remat``: see ``star_jax.model.remat``.
  """

  base_filter: int
  feat: int
  scale: int
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  def setup(self):
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    b, f = self.base_filter, self.feat
    k, s, p = projection_ksp(self.scale)
    self.feat0 = ConvBlock(features=b, kernel_size=3, stride=1, padding=1, activation="prelu", **kw)
    self.feat1 = ConvBlock(features=b, kernel_size=3, stride=1, padding=1, activation="prelu", **kw)
    self.DBPN = DBPNS(f, self.scale, remat=self.remat, **kw)
    stack = functools.partial(subnet(ResidualStack, self.remat), RBPN_RESBLOCKS, "prelu",
                              remat=self.remat, **kw)
    self.res_feat1 = stack(functools.partial(
        DeconvBlock, features=f, kernel_size=k, stride=s, padding=p, activation="prelu", **kw))
    self.res_feat2 = stack(functools.partial(
        ConvBlock, features=f, kernel_size=3, stride=1, padding=1, activation="prelu", **kw))
    self.res_feat3 = stack(functools.partial(
        ConvBlock, features=b, kernel_size=k, stride=s, padding=p, activation="prelu", **kw))
    self.output = ConvBlock(features=3, kernel_size=3, stride=1, padding=1, activation=None,
                            output_dtype=jnp.float32, **kw)

  def __call__(self, x, neighbour, flow):
    if self.is_initializing():
      # Create res_feat3's parameters (HR features -> LR), which the forward never uses.
      self.res_feat3(jnp.zeros(x.shape[:1] + tuple(d * self.scale for d in x.shape[1:3])
                               + (self.feat,), self.dtype))
    feat_input = self.feat0(x)
    feat_frame = self.feat1(jnp.concatenate([x, neighbour, flow], axis=-1))
    h0 = self.DBPN(feat_input)
    h1 = self.res_feat1(feat_frame)
    h = h0 + self.res_feat2(h0 - h1)
    return self.output(h), h
