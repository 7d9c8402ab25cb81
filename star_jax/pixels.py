"""The project's pixel conventions, in one place: value ranges, ImageNet normalisation,
8-bit quantisation, PSNR and the bicubic (+ frame average) baselines.

Three value spaces are in use, all RGB with channels last:

* 8-bit: uint8 in [0, 255], as frames are read, written and scored;
* unit range: float32 in [0, 1], ``x / 255`` (the release's ``ToTensor``); what
  ``star_jax.infer.engine.PairEngine`` takes and returns;
* ImageNet-normalised: float32 ``(x01 - IMAGENET_MEAN) / IMAGENET_STD``, what the network
  takes and returns (the release normalises its inputs with torchvision's ImageNet
  statistics, ``transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])``).

A network output becomes 8 bits by denormalising, clamping to [0, 1], multiplying by 255
and rounding half to even (``np.round``/``jnp.round``), how the paper's numbers are scored.

The conversions work on NumPy arrays (returning NumPy) and on JAX arrays, also inside
``jax.jit`` (returning JAX arrays): the array kind of the input picks ``np`` or ``jnp``.
This module imports only NumPy and JAX, so every layer (model, data, train, evaluate, infer,
export) can import it.
"""

import functools
from typing import Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PEAK = 255.0  # the 8-bit data range of PSNR and SSIM
# The jitted per-sample PSNR floors the MSE here (identical frames: 148.1 dB, not inf), so a
# mean over samples stays finite.
MIN_MSE = 1e-10

# normalize(u8 / 255) folded into one multiply-add per value (see normalize_uint8).
_UINT8_NORM_SCALE = (1.0 / (255.0 * IMAGENET_STD)).astype(np.float32)
_UINT8_NORM_OFFSET = (-IMAGENET_MEAN / IMAGENET_STD).astype(np.float32)

# What each network output is compared with (``baseline_predictions``), by output name.
BASELINES = {"h1": "bicubic", "h2": "bicubic", "ht": "bicubic + frame average",
             "l": "LR average"}


def _xp(array):
  """``jnp`` for JAX arrays (and tracers), ``np`` for anything else."""
  return jnp if isinstance(array, jax.Array) else np


def to_float(frame_uint8):
  """8-bit [0, 255] -> float32 [0, 1] (``x / 255``, as the release's ToTensor); any shape."""
  xp = _xp(frame_uint8)
  return xp.asarray(frame_uint8, dtype=xp.float32) * xp.float32(1.0 / 255.0)


def to_uint8(frame_float):
  """Float [0, 1] -> uint8: clamped to [0, 1], times 255, rounded half to even; any shape."""
  xp = _xp(frame_float)
  return xp.round(xp.clip(xp.asarray(frame_float, dtype=xp.float32), 0.0, 1.0) * 255.0).astype(
      xp.uint8)


def normalize(frame01):
  """ImageNet normalisation of RGB in [0, 1] (last axis = 3 channels) -> float32."""
  xp = _xp(frame01)
  return (xp.asarray(frame01, dtype=xp.float32) - IMAGENET_MEAN) / IMAGENET_STD


def denormalize(frame):
  """Inverse of :func:`normalize`: ImageNet-normalised -> RGB around [0, 1] (not clamped),
  float32."""
  xp = _xp(frame)
  return xp.asarray(frame, dtype=xp.float32) * IMAGENET_STD + IMAGENET_MEAN


def to_unit_range(normalised):
  """ImageNet-normalised (a network output) -> RGB clamped to [0, 1], float32."""
  xp = _xp(normalised)
  return xp.clip(denormalize(normalised), 0.0, 1.0)


def normalised_to_uint8(normalised):
  """ImageNet-normalised (a network output) -> uint8 [0, 255]: denormalised, clamped,
  rounded (how the paper scores outputs)."""
  return to_uint8(denormalize(normalised))


def normalize_uint8(frame_uint8: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
  """``normalize(to_float(frame))`` as one fused multiply-add (same values to float rounding),
  NumPy only.

  The frame is processed as rows of W*3 values against per-channel constants tiled to the
  row: broadcasting a length-3 channel axis would make numpy's inner loop 3 long, which is
  several times slower on HR frames (this runs for every frame of every training sample).

  Args:
    frame_uint8: (..., H, W, 3) uint8, any strides (flipped views are fine).
    out: optional C-contiguous float32 array of the same shape to write into (e.g. a slot of
      a preallocated batch), saving a copy.
  Raises:
    ValueError: a frame that is not (..., H, W, 3) uint8, or an ``out`` of another shape,
      dtype or layout.
  """
  frame = np.ascontiguousarray(frame_uint8)
  if frame.dtype != np.uint8 or frame.ndim < 3 or frame.shape[-1] != 3:
    raise ValueError(f"expected (..., H, W, 3) uint8 frames, got {frame.dtype} {frame.shape}")
  if out is None:
    out = np.empty(frame.shape, np.float32)
  elif out.shape != frame.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
    raise ValueError(f"out must be a C-contiguous float32 array of shape {frame.shape}")
  row_scale, row_offset = _row_constants(frame.shape[-2])
  rows = out.reshape(-1, row_scale.size)
  np.multiply(frame.reshape(rows.shape), row_scale, out=rows)
  rows += row_offset
  return out


@functools.lru_cache(maxsize=32)
def _row_constants(width: int):
  scale = np.tile(_UINT8_NORM_SCALE, width)
  offset = np.tile(_UINT8_NORM_OFFSET, width)
  scale.flags.writeable = offset.flags.writeable = False
  return scale, offset


def check_frame_pair(prediction: np.ndarray, target: np.ndarray) -> None:
  """Raises ValueError unless both are (H, W, 3) uint8 frames of one shape."""
  if prediction.shape != target.shape:
    raise ValueError(f"frames differ in shape: {prediction.shape} vs {target.shape}")
  if prediction.ndim != 3 or prediction.shape[-1] != 3:
    raise ValueError(f"expected (H, W, 3) RGB frames, got {prediction.shape}")
  if prediction.dtype != np.uint8 or target.dtype != np.uint8:
    raise ValueError(f"expected uint8 frames, got {prediction.dtype} and {target.dtype}")


def _psnr_from_mse(mse, xp):
  return 10.0 * xp.log10(PEAK ** 2 / mse)


def psnr(prediction: np.ndarray, target: np.ndarray) -> float:
  """PSNR in dB of two (H, W, 3) uint8 frames: ``10 log10(255^2 / MSE)``, the MSE over all
  pixels and channels in float64 (no border crop, no luma); inf for identical frames.

  Raises:
    ValueError: frames of other shapes or dtypes (:func:`check_frame_pair`).
  """
  check_frame_pair(prediction, target)
  return psnr_from_mse(float(np.mean((prediction.astype(np.float64)
                                      - target.astype(np.float64)) ** 2)))


def psnr_from_mse(mse: float) -> float:
  """PSNR in dB from a mean squared error of 8-bit-scale values: ``10 log10(255^2 / MSE)``;
  inf for an MSE of 0 (``psnr``, and the luma PSNR of ``star_jax.evaluate.metrics``)."""
  if mse == 0:
    return float("inf")
  return float(_psnr_from_mse(mse, np))


def psnr_per_sample(prediction, target):
  """PSNR in dB of each sample of two (B, H, W, C) 8-bit batches (uint8, or floats holding
  8-bit values) -> (B,) float32, jit-friendly: the MSE in float32 over H, W and C, floored
  at ``MIN_MSE`` (so identical samples give 148.1 dB, not inf)."""
  xp = jnp if isinstance(prediction, jax.Array) or isinstance(target, jax.Array) else np
  difference = xp.asarray(prediction, xp.float32) - xp.asarray(target, xp.float32)
  mse = xp.mean(xp.square(difference), axis=(1, 2, 3))
  return _psnr_from_mse(xp.maximum(mse, MIN_MSE), xp)


def bicubic_upscale(x, factor: int):
  """Bicubic upscaling of NHWC images by an integer ``factor``: (B, H, W, C) ->
  (B, factor*H, factor*W, C), same dtype (float), no clamping; returns a JAX array.

  Keys' cubic convolution with a = -0.5 and half-pixel centres (``jax.image.resize``
  'cubic'), the kernel of PIL's BICUBIC for upscaling; the weights are renormalised at the
  borders. Linear, and it keeps constants, so it commutes with the ImageNet normalisation.
  """
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, h * factor, w * factor, c), "cubic")


def baseline_predictions(im1, im2, scale: int) -> Dict[str, jax.Array]:
  """Each output's baseline (``BASELINES``) from the two LR frames (B, H, W, C) float, in
  their value space (ImageNet-normalised or [0, 1]; not clamped), as JAX arrays: h1/h2 the
  bicubic upscale of im1/im2 (B, scale*H, scale*W, C); ht, the in-between baseline, the
  mean of those two upscales (bicubic is linear: also the upscale of the frames' mean; for
  im1 == im2 it is that frame's upscale); l the mean of the LR frames (B, H, W, C).

  This is the one definition of the baselines, for training's held-out metrics and the
  showcase alike: ``jax.image.resize`` rather than PIL, because it runs inside the jitted
  eval step, batched and on any device, and it is the bicubic the model's
  ``residual_bicubic`` path adds to. PIL's BICUBIC has the same kernel but rounds
  differently (the effect on the showcase's numbers is measured in benchmarks/results/fidelity.md,
  "Pixel conventions").
  """
  up1, up2 = bicubic_upscale(im1, scale), bicubic_upscale(im2, scale)
  return {"h1": up1, "h2": up2, "ht": (up1 + up2) / 2, "l": (im1 + im2) / 2}
