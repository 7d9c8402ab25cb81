"""Primitive layers with PyTorch-release semantics: convolutions, activations, BatchNorm, resizing.

The parameter names here are chosen so that a Flax variable path equals the release's
state-dict key (minus ``module.``) with ``.`` replaced by ``/``; only leaf names differ
(``kernel`` vs ``weight``, ``scale`` vs ``weight``, ``mean``/``var`` vs ``running_*``), which
keeps the converter a mechanical mapping (see ``star_jax.convert.mapping``).
"""

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Dtype = Any

# torch.nn.init.kaiming_normal_ (a=0, fan_in; "normal" is untruncated in jax). Flax's default in_axis=-2 gives
# fan_in = in*k*k for Conv kernels (k, k, in, out) and out*k*k for transposed kernels stored
# as (k, k, out, in) -- exactly what torch computes from the ConvTranspose2d weight's dim 1.
kaiming_normal = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


def conv2d(features: int, kernel_size: int, stride: int = 1, padding: int = 0, *,
           dtype: Dtype = jnp.float32, param_dtype: Dtype = jnp.float32,
           name: Optional[str] = None) -> nn.Conv:
  """``torch.nn.Conv2d(k, s, p)`` with bias and symmetric zero padding, NHWC."""
  return nn.Conv(
      features, (kernel_size, kernel_size), strides=(stride, stride),
      padding=((padding, padding), (padding, padding)), kernel_init=kaiming_normal,
      bias_init=nn.initializers.zeros, dtype=dtype, param_dtype=param_dtype, name=name)


def conv_transpose2d(features: int, kernel_size: int, stride: int = 1, padding: int = 0, *,
                     dtype: Dtype = jnp.float32, param_dtype: Dtype = jnp.float32,
                     name: Optional[str] = None) -> nn.ConvTranspose:
  """``torch.nn.ConvTranspose2d(k, s, p)``: output size ``(in - 1) * s - 2p + k``.

  Equal to a transposed convolution with padding ``k - 1 - p`` of the spatially flipped,
  in/out-swapped kernel, which is what ``transpose_kernel=True`` computes.
  """
  q = kernel_size - 1 - padding
  return nn.ConvTranspose(
      features, (kernel_size, kernel_size), strides=(stride, stride),
      padding=((q, q), (q, q)), transpose_kernel=True, kernel_init=kaiming_normal,
      bias_init=nn.initializers.zeros, dtype=dtype, param_dtype=param_dtype, name=name)


class PReLU(nn.Module):
  """``torch.nn.PReLU()``: one learnable slope (stored with shape (1,) like torch), init 0.25."""

  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    weight = self.param("weight", nn.initializers.constant(0.25), (1,), self.param_dtype)
    return jnp.where(x >= 0, x, weight[0].astype(x.dtype) * x)


def leaky_relu(x):
  """The release's ``LeakyReLU(0.1)``."""
  return jnp.where(x >= 0, x, 0.1 * x)


class BatchNorm2d(nn.Module):
  """``torch.nn.BatchNorm2d`` (eps 1e-5, momentum 0.1) including its running-stat update.

  Flax's BatchNorm averages the *biased* batch variance into its running variance; torch
  uses the unbiased one, and counts ``num_batches_tracked``. Both matter for parity of
  the ``after_train`` statistics and for a bit-exact checkpoint round trip.
  """

  momentum: float = 0.1
  epsilon: float = 1e-5
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    c = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones, (c,), self.param_dtype)
    bias = self.param("bias", nn.initializers.zeros, (c,), self.param_dtype)
    ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
    ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
    tracked = self.variable("batch_stats", "num_batches_tracked",
                            lambda: jnp.zeros((), jnp.int32))
    if train:
      xf = x.astype(jnp.float32)
      mean = jnp.mean(xf, axis=(0, 1, 2))
      var = jnp.mean(jnp.square(xf - mean), axis=(0, 1, 2))
      if not self.is_initializing():
        n = x.shape[0] * x.shape[1] * x.shape[2]
        unbiased = var * (n / max(n - 1, 1))
        ra_mean.value = (1 - self.momentum) * ra_mean.value + self.momentum * mean
        ra_var.value = (1 - self.momentum) * ra_var.value + self.momentum * unbiased
        tracked.value = tracked.value + 1
    else:
      mean, var = ra_mean.value, ra_var.value
    inv = jax.lax.rsqrt(var + self.epsilon) * scale.astype(jnp.float32)
    y = (x.astype(jnp.float32) - mean) * inv + bias.astype(jnp.float32)
    return y.astype(self.dtype)


def _align_corners_matrix(n_in: int, n_out: int) -> np.ndarray:
  """Row-stochastic (n_out, n_in) matrix of 1-D linear interpolation, align_corners=True."""
  m = np.zeros((n_out, n_in), np.float64)
  if n_in == 1 or n_out == 1:
    m[:, 0] = 1.0
    return m.astype(np.float32)
  pos = np.arange(n_out) * (n_in - 1) / (n_out - 1)
  lo = np.minimum(np.floor(pos).astype(int), n_in - 2)
  frac = pos - lo
  m[np.arange(n_out), lo] = 1.0 - frac
  m[np.arange(n_out), lo + 1] += frac
  return m.astype(np.float32)


def upsample_bilinear_align_corners(x, factor: int):
  """``nn.Upsample(scale_factor=factor, mode='bilinear', align_corners=True)`` on NHWC.

  ``jax.image.resize`` uses half-pixel centres (align_corners=False), so the release's
  upsampling is written as two small interpolation matmuls instead.
  """
  _, h, w, _ = x.shape
  mh = jnp.asarray(_align_corners_matrix(h, h * factor), x.dtype)
  mw = jnp.asarray(_align_corners_matrix(w, w * factor), x.dtype)
  x = jnp.einsum("oh,bhwc->bowc", mh, x, precision=jax.lax.Precision.HIGHEST)
  return jnp.einsum("pw,bowc->bopc", mw, x, precision=jax.lax.Precision.HIGHEST)
