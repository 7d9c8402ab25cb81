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

# torch.nn.init.kaiming_normal_ (a=0, fan_in; jax's "normal" is untruncated). in_axis=-2 gives
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


class ConvTranspose2d(nn.Module):
  """``torch.nn.ConvTranspose2d(k, s, p)``: output size ``(in - 1) * s - 2p + k``.

  Computed as one matmul (every input pixel times the whole kernel) followed by an
  overlap-add of the ``ceil(k/s)^2`` shifted kernel blocks and a crop of ``p`` -- exactly the
  scatter that defines a transposed convolution. XLA's CPU backend runs the weight gradient
  of ``lax.conv_transpose`` with large strides on a slow generic path (measured 5.6x slower
  than PyTorch for a V1 train step); as matmuls it is as fast as PyTorch.

  The kernel is stored (k, k, out, in), i.e. the release's (in, out, k, k) weight transposed
  by (2, 3, 1, 0), without any spatial flip.
  """

  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    k, s, p = self.kernel_size, self.stride, self.padding
    b, h, w, c_in = x.shape
    c_out = self.features
    kernel = self.param("kernel", kaiming_normal, (k, k, c_out, c_in), self.param_dtype)
    bias = self.param("bias", nn.initializers.zeros, (c_out,), self.param_dtype)
    n = -(-k // s)  # kernel blocks per axis: kernel row ky = block * s + phase
    kernel = jnp.pad(kernel, ((0, n * s - k), (0, n * s - k), (0, 0), (0, 0)))
    # (block_y, phase_y, block_x, phase_x, out, in) -> (in, block_y, block_x, phase_y, phase_x, out)
    kernel = kernel.reshape(n, s, n, s, c_out, c_in).transpose(5, 0, 2, 1, 3, 4)
    blocks = jnp.dot(x.astype(self.dtype), kernel.reshape(c_in, -1).astype(self.dtype))
    blocks = blocks.reshape(b, h, w, n, n, s, s, c_out)
    full = sum(jnp.pad(blocks[:, :, :, by, bx],
                       ((0, 0), (by, n - 1 - by), (bx, n - 1 - bx), (0, 0), (0, 0), (0, 0)))
               for by in range(n) for bx in range(n))
    full = full.transpose(0, 1, 3, 2, 4, 5).reshape(b, (h + n - 1) * s, (w + n - 1) * s, c_out)
    out_h, out_w = (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k
    return full[:, p:p + out_h, p:p + out_w] + bias.astype(self.dtype)


def conv_transpose2d(features: int, kernel_size: int, stride: int = 1, padding: int = 0, *,
                     dtype: Dtype = jnp.float32, param_dtype: Dtype = jnp.float32,
                     name: Optional[str] = None) -> ConvTranspose2d:
  """``torch.nn.ConvTranspose2d(k, s, p)`` with bias, NHWC (see ConvTranspose2d)."""
  return ConvTranspose2d(features, kernel_size, stride, padding, dtype=dtype,
                         param_dtype=param_dtype, name=name)


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


def bicubic_upscale(x, factor: int):
  """Bicubic upscaling of NHWC images by an integer ``factor``: (B, H, W, C) ->
  (B, factor*H, factor*W, C), same dtype, no clamping.

  Keys' cubic convolution with a = -0.5 and half-pixel centres (``jax.image.resize``
  'cubic'), PIL's BICUBIC for upscaling; the weights are renormalised at the borders.
  Linear, and it keeps constants, so it commutes with the ImageNet normalisation.
  """
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, h * factor, w * factor, c), "cubic")


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
