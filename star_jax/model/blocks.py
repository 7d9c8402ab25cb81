"""The release's building blocks (``base_networks``): conv/deconv blocks, residual and
back-projection units, and ``Sequential``-style stacks that keep the release's numeric
child names (``interp_block/3/conv2``) so weights convert by path."""

from typing import Any, Callable, Optional

import flax.linen as nn
import jax.numpy as jnp

from star_jax.model.layers import PReLU, conv2d, conv_transpose2d, leaky_relu
from star_jax.model.remat import unit

Dtype = Any

# scale factor -> (kernel, stride, padding) of every up/down projection in the release.
PROJECTION_KSP = {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}


def projection_ksp(scale: int):
  if scale not in PROJECTION_KSP:
    raise ValueError(f"scale must be one of {sorted(PROJECTION_KSP)}, got {scale}")
  return PROJECTION_KSP[scale]


class _Activated(nn.Module):
  """Shared activation handling: ``'prelu'`` (one learnable slope, module ``act``),
  ``'lrelu'`` (LeakyReLU 0.1, no parameters) or ``None``. ``output_dtype`` (default
  ``dtype``) is the dtype of the block's output (float32 for the reconstruction layers)."""

  activation: Optional[str] = "prelu"
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  output_dtype: Optional[Dtype] = None

  def make_activation(self) -> Callable:
    if self.activation == "prelu":
      return PReLU(param_dtype=self.param_dtype, name="act")
    if self.activation == "lrelu":
      return leaky_relu
    if self.activation is None:
      return lambda x: x
    raise ValueError(f"unknown activation {self.activation!r}")


class ConvBlock(_Activated):
  """``conv`` then the activation."""

  features: int = 64
  kernel_size: int = 3
  stride: int = 1
  padding: int = 1

  @nn.compact
  def __call__(self, x):
    x = conv2d(self.features, self.kernel_size, self.stride, self.padding, dtype=self.dtype,
               param_dtype=self.param_dtype, output_dtype=self.output_dtype, name="conv")(x)
    return self.make_activation()(x)


class DeconvBlock(_Activated):
  """``deconv`` (PyTorch ConvTranspose2d semantics) then the activation."""

  features: int = 64
  kernel_size: int = 4
  stride: int = 2
  padding: int = 1

  @nn.compact
  def __call__(self, x):
    x = conv_transpose2d(self.features, self.kernel_size, self.stride, self.padding,
                         dtype=self.dtype, param_dtype=self.param_dtype,
                         output_dtype=self.output_dtype, name="deconv")(x)
    return self.make_activation()(x)


class ResnetBlock(_Activated):
  """``act(conv2(act(conv1(x))) + x)``: activation after the add, ONE activation module
  (so with PReLU both applications share a single slope)."""

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    act = self.make_activation()
    y = act(conv2d(c, 3, 1, 1, name="conv1", **kw)(x))
    y = conv2d(c, 3, 1, 1, name="conv2", **kw)(y)
    return act(y + x)


class _ProjectionUnit(nn.Module):
  """Back-projection unit (PReLU). Up: ``h0 = up(x); h1 = up(down(h0) - x); h1 + h0``.
  Down: ``l0 = down(x); l1 = down(up(l0) - x); l1 + l0``. Children ``{up,down}_conv{1,2,3}``."""

  features: int
  scale: int
  up: bool
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    k, s, p = projection_ksp(self.scale)
    kw = dict(features=self.features, kernel_size=k, stride=s, padding=p,
              activation="prelu", dtype=self.dtype, param_dtype=self.param_dtype)
    there, back = (DeconvBlock, ConvBlock) if self.up else (ConvBlock, DeconvBlock)
    prefix = "up_conv" if self.up else "down_conv"
    first = there(name=f"{prefix}1", **kw)(x)
    returned = back(name=f"{prefix}2", **kw)(first)
    correction = there(name=f"{prefix}3", **kw)(returned - x)
    return correction + first


def UpBlock(features: int, scale: int, remat: str = "none", **kwargs) -> _ProjectionUnit:  # pylint: disable=invalid-name
  """The release's UpBlock: LR -> HR back-projection (a remat unit unless ``remat`` is
  'none'; see ``star_jax.model.remat``)."""
  return unit(_ProjectionUnit, remat)(features, scale, up=True, **kwargs)


def DownBlock(features: int, scale: int, remat: str = "none", **kwargs) -> _ProjectionUnit:  # pylint: disable=invalid-name
  """The release's DownBlock: HR -> LR back-projection (remat as UpBlock)."""
  return unit(_ProjectionUnit, remat)(features, scale, up=False, **kwargs)


class ResidualStack(nn.Module):
  """``nn.Sequential(n x ResnetBlock(act), tail)`` as the release builds it.

  The children are named ``0..n`` (the tail is child ``n``), mirroring the release's
  state-dict keys. ``tail`` is a ConvBlock/DeconvBlock *constructor* taking ``name``.
  ``remat``: the residual blocks are remat units unless 'none' (``star_jax.model.remat``).
  """

  n_blocks: int
  activation: str
  tail: Callable[..., nn.Module]
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  remat: str = "none"

  @nn.compact
  def __call__(self, x):
    block = unit(ResnetBlock, self.remat)
    for i in range(self.n_blocks):
      x = block(activation=self.activation, dtype=self.dtype,
                param_dtype=self.param_dtype, name=str(i))(x)
    return self.tail(name=str(self.n_blocks))(x)
