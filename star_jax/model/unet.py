"""The flow-refinement UNet of the ``_REF`` models (release attribute ``flow_net``).

A classic 5-level UNet with BatchNorm; its output goes through a sigmoid and is added to
the input flow by the FR wrapper. Max-pooling floors odd sides, and each decoder level
zero-pads the upsampled map to its skip connection's size, so any input size works.
"""

from typing import Any, Tuple

import flax.linen as nn
import jax.numpy as jnp

from star_jax.model.layers import (BatchNorm2d, conv2d, replicated_if_short,
                                   upsample_bilinear_align_corners)
from star_jax.model.remat import unit

Dtype = Any


class _ConvBnRelu2(nn.Module):
  """(conv3x3 -> BatchNorm -> ReLU) x 2; children 0, 1, 3, 4 as the release's Sequential."""

  features: int
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    for conv_name, bn_name in (("0", "1"), ("3", "4")):
      x = conv2d(self.features, 3, 1, 1, name=conv_name, **kw)(x)
      x = nn.relu(BatchNorm2d(name=bn_name, **kw)(x, train))
    return x


class _DoubleConvAt(nn.Module):
  """The release's ``double_conv`` (whose Sequential is its child ``conv``), reached
  through the wrapper modules ``wrappers`` (``inc.conv``, ``down1.mpconv.1``, ``up1.conv``);
  the double conv is a remat unit unless ``remat`` is 'none' (``star_jax.model.remat``)."""

  features: int
  wrappers: Tuple[str, ...]
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  @nn.compact
  def __call__(self, x, train: bool):
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    if not self.wrappers:
      return unit(_ConvBnRelu2, self.remat, static_argnums=(2,))(
          self.features, name="conv", **kw)(x, train)
    return _DoubleConvAt(self.features, self.wrappers[1:], name=self.wrappers[0],
                         remat=self.remat, **kw)(x, train)


class _OutConv(nn.Module):
  """``outc``: a 1x1 conv held as child ``conv``, float32 output (the sigmoid and the flow
  it is added to stay float32)."""

  features: int
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    return conv2d(self.features, 1, 1, 0, dtype=self.dtype, param_dtype=self.param_dtype,
                  output_dtype=jnp.float32, name="conv")(x)


def _pad_to(x, like):
  """Zero-pad ``x`` (NHWC) to ``like``'s spatial size: diff//2 before, the rest after."""
  dh, dw = like.shape[1] - x.shape[1], like.shape[2] - x.shape[2]
  return jnp.pad(x, ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0)))


class FlowUNet(nn.Module):
  """UNet(8 -> 2) with sigmoid output. Widths are fixed in the release (64 .. 1024).

  Convolutions and ReLUs run in ``dtype``; BatchNorm statistics and normalisation, the
  align-corners upsampling and the sigmoid output run in float32 (output float32).
  ``remat``: see ``star_jax.model.remat``.
  """

  out_channels: int = 2
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  @nn.compact
  def __call__(self, x, train: bool = False):
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype, remat=self.remat)
    skips = [replicated_if_short(_DoubleConvAt(64, ("conv",), name="inc", **kw)(x, train))]
    for i, features in enumerate((128, 256, 512, 1024, 1024), start=1):
      # window_shape by keyword: jax2onnx (star_jax.export) replaces nn.max_pool while it
      # traces with a function that accepts only keyword arguments after the input.
      pooled = nn.max_pool(skips[-1], window_shape=(2, 2), strides=(2, 2), padding="VALID")
      skips.append(replicated_if_short(
          _DoubleConvAt(features, ("mpconv", "1"), name=f"down{i}", **kw)(pooled, train)))
    x = skips.pop()
    for i, features in enumerate((512, 256, 128, 64, 64), start=1):
      skip = skips.pop()
      up = _pad_to(upsample_bilinear_align_corners(x, 2), skip)
      x = replicated_if_short(_DoubleConvAt(features, ("conv",), name=f"up{i}", **kw)(
          jnp.concatenate([skip, up], axis=-1), train))
    return nn.sigmoid(_OutConv(self.out_channels, name="outc", dtype=self.dtype,
                               param_dtype=self.param_dtype)(x))
