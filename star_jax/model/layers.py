"""Primitive layers with PyTorch-release semantics: convolutions, activations, BatchNorm, resizing.

The parameter names here are chosen so that a Flax variable path equals the release's
state-dict key (minus ``module.``) with ``.`` replaced by ``/``; only leaf names differ
(``kernel`` vs ``weight``, ``scale`` vs ``weight``, ``mean``/``var`` vs ``running_*``), which
keeps the converter a mechanical mapping (see ``star_jax.convert.mapping``).
"""

import functools
from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

Dtype = Any

# torch.nn.init.kaiming_normal_ (a=0, fan_in; jax's "normal" is untruncated). in_axis=-2 gives
# fan_in = in*k*k for Conv kernels (k, k, in, out) and out*k*k for transposed kernels stored
# as (k, k, out, in) -- exactly what torch computes from the ConvTranspose2d weight's dim 1.
kaiming_normal = nn.initializers.variance_scaling(2.0, "fan_in", "normal")


class Conv2d(nn.Module):
  """``torch.nn.Conv2d(k, s, p)`` with bias and symmetric zero padding, NHWC.

  Parameters ``kernel`` (k, k, in, out) and ``bias`` (out,), as ``flax.linen.Conv`` names
  them. The convolution runs in ``dtype``; the bias is added in float32 (so its gradient,
  a sum over batch and pixels, is accumulated in float32 under bfloat16) and the result is
  rounded once to ``output_dtype`` (default ``dtype``).
  """

  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  output_dtype: Optional[Dtype] = None

  @nn.compact
  def __call__(self, x):
    k, s, p = self.kernel_size, self.stride, self.padding
    kernel = self.param("kernel", kaiming_normal, (k, k, x.shape[-1], self.features),
                        self.param_dtype)
    bias = self.param("bias", nn.initializers.zeros, (self.features,), self.param_dtype)
    y = jax.lax.conv_general_dilated(
        x.astype(self.dtype), kernel.astype(self.dtype), (s, s), ((p, p), (p, p)),
        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = y.astype(jnp.float32) + bias.astype(jnp.float32)
    return y.astype(self.output_dtype or self.dtype)


def conv2d(features: int, kernel_size: int, stride: int = 1, padding: int = 0, *,
           dtype: Dtype = jnp.float32, param_dtype: Dtype = jnp.float32,
           output_dtype: Optional[Dtype] = None, name: Optional[str] = None) -> Conv2d:
  """``torch.nn.Conv2d(k, s, p)`` with bias, NHWC (see Conv2d)."""
  return Conv2d(features, kernel_size, stride, padding, dtype=dtype, param_dtype=param_dtype,
                output_dtype=output_dtype, name=name)


class ConvTranspose2d(nn.Module):
  """``torch.nn.ConvTranspose2d(k, s, p)``: output size ``(in - 1) * s - 2p + k``.

  Computed as one matmul (every input pixel times the whole kernel) followed by an
  overlap-add of the ``ceil(k/s)^2`` shifted kernel blocks and a crop of ``p`` -- exactly the
  scatter that defines a transposed convolution (``matmul_overlap_add``, whose gradient is
  written out as two matmuls). XLA's CPU backend runs the weight gradient of
  ``lax.conv_transpose`` with large strides on a slow generic path (measured 5.6x slower
  than PyTorch for a V1 train step); as matmuls it is as fast as PyTorch.

  The kernel is stored (k, k, out, in), i.e. the release's (in, out, k, k) weight transposed
  by (2, 3, 1, 0), without any spatial flip.

  Precision: the matmul takes ``dtype`` operands and accumulates into float32 (XLA
  ``preferred_element_type``); the overlap-add of the shifted blocks and the bias add run
  in float32 and the result is rounded once to ``output_dtype`` (default ``dtype``), so
  under bfloat16 a pixel's up to ``ceil(k/s)^2`` contributions are not each rounded. The
  float32 blocks are transient (the sum is linear, its backward needs none of them).
  """

  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32
  output_dtype: Optional[Dtype] = None

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
    full = matmul_overlap_add(x.astype(self.dtype), kernel.reshape(c_in, -1).astype(self.dtype),
                              n, s)
    out_h, out_w = (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k
    y = full[:, p:p + out_h, p:p + out_w] + bias.astype(jnp.float32)
    return y.astype(self.output_dtype or self.dtype)


def _overlap_add(blocks, n: int, s: int):
  """(B, H, W, n, n, s, s, C) kernel blocks -> (B, (H+n-1)*s, (W+n-1)*s, C): block (by, bx) of
  input pixel (y, x) lands on output block row y + by, column x + bx, phases (s, s) inside."""
  b, h, w = blocks.shape[:3]
  c = blocks.shape[-1]
  full = sum(jnp.pad(blocks[:, :, :, by, bx],
                     ((0, 0), (by, n - 1 - by), (bx, n - 1 - bx), (0, 0), (0, 0), (0, 0)))
             for by in range(n) for bx in range(n))
  return full.transpose(0, 1, 3, 2, 4, 5).reshape(b, (h + n - 1) * s, (w + n - 1) * s, c)


def _overlap_add_adjoint(full, n: int, s: int, h: int, w: int):
  """The transpose of ``_overlap_add``: every input pixel gathers its n*n output blocks.
  (B, (H+n-1)*s, (W+n-1)*s, C) -> (B*H*W, n*n*s*s*C), columns ordered (by, bx, py, px, c)."""
  b, c = full.shape[0], full.shape[-1]
  # Rows are sliced before they are split into (block, phase): each slice has h * s rows,
  # which a height split over devices (the 'space' mesh axis) divides wherever it divides
  # h, while the h + n - 1 block rows of the whole map generally do not (XLA would gather
  # the whole map to split them).
  rows = [full[:, by * s:(by + h) * s].reshape(b, h, s, w + n - 1, s, c).transpose(
      0, 1, 3, 2, 4, 5) for by in range(n)]
  blocks = jnp.stack([rows[by][:, :, bx:bx + w] for by in range(n) for bx in range(n)], 3)
  return blocks.reshape(b * h * w, n * n * s * s * c)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def matmul_overlap_add(x, kernel, n: int, s: int):
  """Uncropped transposed convolution as ``x @ kernel`` plus an overlap-add.

  Args:
    x: (B, H, W, Cin) input.
    kernel: (Cin, n*n*s*s*Cout) kernel, columns ordered (block_y, block_x, phase_y, phase_x,
      out) where kernel row ``ky = block_y * s + phase_y`` (same for columns).
    n: kernel blocks per axis, ``ceil(k / s)``.
    s: stride.
  Returns:
    (B, (H+n-1)*s, (W+n-1)*s, Cout) float32: the matmul accumulates in float32 and the
    overlap-add sums in float32 whatever the inputs' dtype (bfloat16 compute keeps its
    matmuls in bfloat16).

  Its gradient is written out (a custom VJP): the cotangent's blocks are gathered once into
  one (B*H*W, n*n*s*s*Cout) matrix, from which both the input gradient (``g @ kernel.T``)
  and the kernel gradient (``x.T @ g``, contracting the pixel axis in place) are single
  matmuls. Autodiff of the forward instead builds that matrix as a sum of n*n zero-padded
  copies and transposes it before the kernel-gradient dot, which on XLA:CPU made the
  transposed convolution's backward ~2x PyTorch's (``benchmarks/results/model.md``).
  """
  b, h, w, c_in = x.shape
  blocks = jnp.dot(x, kernel, preferred_element_type=jnp.float32).reshape(b, h, w, n, n, s, s, -1)
  return _overlap_add(blocks, n, s)


def _matmul_overlap_add_fwd(x, kernel, n, s):
  return matmul_overlap_add(x, kernel, n, s), (x, kernel)


def _matmul_overlap_add_bwd(n, s, residuals, g):
  x, kernel = residuals
  b, h, w, c_in = x.shape
  # The float32 cotangent is rounded to the compute dtype for the two matmuls (a no-op in
  # float32), which accumulate in float32 like the forward.
  g_blocks = _overlap_add_adjoint(g, n, s, h, w).astype(kernel.dtype)
  dx = jnp.dot(g_blocks, kernel.T, preferred_element_type=jnp.float32).reshape(b, h, w, c_in)
  dkernel = jax.lax.dot_general(x.reshape(b * h * w, c_in), g_blocks, (((0,), (0,)), ((), ())),
                                preferred_element_type=jnp.float32)
  return dx.astype(x.dtype), dkernel.astype(kernel.dtype)


matmul_overlap_add.defvjp(_matmul_overlap_add_fwd, _matmul_overlap_add_bwd)


def conv_transpose2d(features: int, kernel_size: int, stride: int = 1, padding: int = 0, *,
                     dtype: Dtype = jnp.float32, param_dtype: Dtype = jnp.float32,
                     output_dtype: Optional[Dtype] = None,
                     name: Optional[str] = None) -> ConvTranspose2d:
  """``torch.nn.ConvTranspose2d(k, s, p)`` with bias, NHWC (see ConvTranspose2d)."""
  return ConvTranspose2d(features, kernel_size, stride, padding, dtype=dtype,
                         param_dtype=param_dtype, output_dtype=output_dtype, name=name)


class PReLU(nn.Module):
  """``torch.nn.PReLU()``: one learnable slope (stored with shape (1,) like torch), init 0.25.

  The product slope * x is formed in float32 and rounded once to x's dtype: under bfloat16
  the slope is not rounded to 8 bits, and its gradient (a sum over every element of the
  layer's input) is accumulated in float32.
  """

  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    weight = self.param("weight", nn.initializers.constant(0.25), (1,), self.param_dtype)
    negative = weight[0].astype(jnp.float32) * x.astype(jnp.float32)
    return jnp.where(x >= 0, x, negative.astype(x.dtype))


def leaky_relu(x):
  """The release's ``LeakyReLU(0.1)``; 0.1 * x in float32, rounded once to x's dtype (in
  bfloat16 the constant itself would be 0.10009765625)."""
  return jnp.where(x >= 0, x, (0.1 * x.astype(jnp.float32)).astype(x.dtype))


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


def _align_corners_row_taps(n_in: int, factor: int) -> np.ndarray:
  """``_align_corners_matrix(n_in, factor * n_in)`` as (3, n_in, factor) weights: output row
  ``factor * i + j`` is ``taps[0, i, j] * x[i-1] + taps[1, i, j] * x[i] + taps[2, i, j] *
  x[i+1]`` (with align_corners every output row lies within one input row of ``i``)."""
  m = _align_corners_matrix(n_in, n_in * factor)
  taps = np.zeros((3, n_in, factor), np.float32)
  for o in range(n_in * factor):
    i, j = divmod(o, factor)
    for d in (-1, 0, 1):
      if 0 <= i + d < n_in:
        taps[d + 1, i, j] = m[o, i + d]
  return taps


def upsample_bilinear_align_corners(x, factor: int):
  """``nn.Upsample(scale_factor=factor, mode='bilinear', align_corners=True)`` on NHWC.

  ``jax.image.resize`` uses half-pixel centres (align_corners=False), so the release's
  upsampling is written out: along the height, every output row as a weighted sum of its
  input row and that row's two neighbours (``_align_corners_row_taps``; local, so a
  height split over devices, the 'space' mesh axis, needs only one neighbouring row from
  each side, where a matmul over the whole height would be reduced over the devices at full
  output size), along the width a small interpolation matmul. Both run in float32 whatever
  x's dtype (bfloat16 weights would not sum to 1 per row), and the result is rounded once
  back to x's dtype.
  """
  b, h, w, c = x.shape
  taps = jnp.asarray(_align_corners_row_taps(h, factor))[:, None, :, :, None, None]
  xf = x.astype(jnp.float32)[:, :, None]  # (B, H, 1, W, C)
  above = jnp.pad(xf, ((0, 0), (1, 0), (0, 0), (0, 0), (0, 0)))[:, :-1]
  below = jnp.pad(xf, ((0, 0), (0, 1), (0, 0), (0, 0), (0, 0)))[:, 1:]
  y = (taps[0] * above + taps[1] * xf + taps[2] * below).reshape(b, h * factor, w, c)
  mw = jnp.asarray(_align_corners_matrix(w, w * factor))
  y = jnp.einsum("pw,bowc->bopc", mw, y, precision=jax.lax.Precision.HIGHEST)
  return y.astype(x.dtype)


def replicated_if_short(x):
  """``x`` (NHWC) constrained to an unsplit height when it has fewer rows than the 'space'
  axis of the mesh in context (``jax.sharding.get_abstract_mesh``; the sharded train, eval
  and inference steps trace under their mesh), else ``x`` itself: a no-op without a mesh,
  without a 'space' axis, or on one device.

  A work-around for an XLA Shardy partitioner bug (jax 0.10.2): a convolution on a map of
  fewer rows than the devices splitting its height, with replicated kernels, gets wrong
  gradients (``tests/train/shardy_grad_repro.py``); the flow UNet's deepest levels are such
  maps. Only the height is constrained; batch, width and channels stay the partitioner's.
  """
  mesh = jax.sharding.get_abstract_mesh()
  space = dict(mesh.shape).get("space", 1)
  if space == 1 or x.shape[1] >= space:
    return x
  return jax.lax.with_sharding_constraint(
      x, NamedSharding(mesh, P(P.UNCONSTRAINED, None, P.UNCONSTRAINED, P.UNCONSTRAINED)))
