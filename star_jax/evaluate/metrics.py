"""Frame quality metrics: the paper's (SSIM and interpolation error (IE) on 8-bit RGB frames
over the whole frame, no border crop, no luma conversion, beside PSNR, which is
``star_jax.pixels.psnr``, the project's one PSNR) and the field's (``psnr_y``, ``ssim_y``: the
same measures on the luma channel, as Zooming Slow-Mo, TMNet and RSTT report).

SSIM definition used (Wang, Bovik, Sheikh and Simoncelli, IEEE TIP 2004, with the authors'
reference settings): local statistics under an 11x11 Gaussian window with sigma 1.5
(separable, normalised to sum 1), K1 = 0.01, K2 = 0.03, dynamic range L = 255, population
(not sample) covariances,

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (K1 L)^2, C2 = (K2 L)^2,

evaluated at every position where the window fits inside the frame ("valid"), averaged
over those positions and then over the channels (three for RGB, one for Y). This equals
``skimage.metrics.structural_similarity(x, y, channel_axis=-1, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=255)`` and dm-pix's ``ssim`` with
``max_val=255`` (both checked in tests/evaluate).

Luma (``rgb_to_y``): BT.601 as MATLAB's ``rgb2ycbcr`` defines it for 8-bit RGB,
``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` with R, G, B in [0, 255], so Y lies in
[16, 235]; kept in float64, not rounded (the field scores the unrounded Y of 8-bit frames).

IE = mean absolute difference over all pixels and channels.
"""

import numpy as np

from star_jax.pixels import PEAK, check_frame_pair, psnr_from_mse

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def interpolation_error(prediction: np.ndarray, target: np.ndarray) -> float:
  """IE: mean absolute 8-bit difference of two (H, W, 3) uint8 frames."""
  check_frame_pair(prediction, target)
  return float(np.mean(np.abs(prediction.astype(np.float64) - target.astype(np.float64))))


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
  """1-D Gaussian taps centred on the middle sample, normalised to sum 1."""
  offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
  taps = np.exp(-0.5 * (offsets / sigma) ** 2)
  return taps / taps.sum()


def _valid_filter(image: np.ndarray, taps: np.ndarray) -> np.ndarray:
  """Separable 'valid' correlation of (H, W, C) with ``taps`` along H then W."""
  size = len(taps)
  rows = np.lib.stride_tricks.sliding_window_view(image, size, axis=0) @ taps
  return np.lib.stride_tricks.sliding_window_view(rows, size, axis=1) @ taps


def _mean_ssim(x: np.ndarray, y: np.ndarray) -> float:
  """Mean SSIM (module docstring) of two float64 (H, W, C) images in [0, 255] units."""
  if min(x.shape[:2]) < SSIM_WINDOW:
    raise ValueError(f"frames of {x.shape[1]}x{x.shape[0]} are smaller than "
                     f"the {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window")
  taps = gaussian_window()
  mu_x, mu_y = _valid_filter(x, taps), _valid_filter(y, taps)
  var_x = _valid_filter(x * x, taps) - mu_x * mu_x
  var_y = _valid_filter(y * y, taps) - mu_y * mu_y
  cov_xy = _valid_filter(x * y, taps) - mu_x * mu_y
  c1 = (SSIM_K1 * PEAK) ** 2
  c2 = (SSIM_K2 * PEAK) ** 2
  ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
              / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2)))
  return float(ssim_map.mean())


def ssim(prediction: np.ndarray, target: np.ndarray) -> float:
  """Mean SSIM of two (H, W, 3) uint8 RGB frames over the three channels, as defined in the
  module docstring. Raises ValueError for other shapes or dtypes, or frames smaller than
  the window."""
  check_frame_pair(prediction, target)
  return _mean_ssim(prediction.astype(np.float64), target.astype(np.float64))


def rgb_to_y(frame: np.ndarray) -> np.ndarray:
  """MATLAB ``rgb2ycbcr``'s luma of an (H, W, 3) uint8 RGB frame -> (H, W) float64 in
  [16, 235], not rounded (module docstring)."""
  rgb = frame.astype(np.float64)
  return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def psnr_y(prediction: np.ndarray, target: np.ndarray) -> float:
  """PSNR in dB of the luma (:func:`rgb_to_y`) of two (H, W, 3) uint8 RGB frames:
  ``10 log10(255^2 / MSE)`` over the whole frame (no border crop); inf for identical luma.
  Raises ValueError for other shapes or dtypes."""
  check_frame_pair(prediction, target)
  return psnr_from_mse(float(np.mean((rgb_to_y(prediction) - rgb_to_y(target)) ** 2)))


def ssim_y(prediction: np.ndarray, target: np.ndarray) -> float:
  """Mean SSIM (module docstring) of the luma (:func:`rgb_to_y`) of two (H, W, 3) uint8 RGB
  frames, L = 255, whole frame, valid window positions. Raises ValueError for other shapes
  or dtypes, or frames smaller than the window."""
  check_frame_pair(prediction, target)
  return _mean_ssim(rgb_to_y(prediction)[..., None], rgb_to_y(target)[..., None])


def grid_energy_ratio(predictions: np.ndarray, targets: np.ndarray, period: int) -> float:
  """Checkerboard measure of super-resolved frames: the error's spectral energy at the
  upsampling grid relative to the ground truth's energy there.

  ``predictions``, ``targets``: uint8 RGB frames, (H, W, 3) or (N, H, W, 3), H and W
  multiples of ``period`` (the model's scale: a strided transposed convolution repeats its
  pattern every ``period`` output pixels). Each frame and channel is multiplied by a 2-D
  periodic Hann window (so the frame borders do not leak energy along the frequency axes)
  and transformed by a 2-D DFT; ``E_x`` is x's energy within one bin of the frequencies
  (i H / period, j W / period), i, j in 0..period-1 except the mean (0, 0), summed over
  frames and channels, and

      ratio = E_(prediction - target) / E_target.

  Those frequencies are multiples of the LR sampling rate, where an interpolation of the LR
  frame (bicubic included) puts almost no energy, so plain bicubic scores about 1 (the
  error there is the target's own content); a periodic checkerboard adds error energy
  exactly there and scores above 1. Raises ValueError for mismatched shapes, non-uint8
  frames, period < 2, sides not divisible by ``period`` or flat targets.
  """
  predictions, targets = np.asarray(predictions), np.asarray(targets)
  if predictions.shape != targets.shape:
    raise ValueError(f"frames differ in shape: {predictions.shape} vs {targets.shape}")
  if predictions.ndim not in (3, 4) or predictions.shape[-1] != 3:
    raise ValueError(f"expected (H, W, 3) or (N, H, W, 3) RGB frames, got {predictions.shape}")
  if predictions.dtype != np.uint8 or targets.dtype != np.uint8:
    raise ValueError(f"expected uint8 frames, got {predictions.dtype} and {targets.dtype}")
  height, width = predictions.shape[-3:-1]
  if period < 2 or height % period or width % period:
    raise ValueError(f"period must be >= 2 and divide the frame size {width}x{height}, "
                     f"got {period}")
  hann = lambda n: 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
  window = (hann(height)[:, None] * hann(width)[None, :])[..., None]
  target = targets.astype(np.float64)
  error = predictions.astype(np.float64) - target
  near = lambda n, step: np.unique(
      (np.arange(period)[:, None] * step + np.arange(-1, 2)[None, :]).reshape(-1) % n)
  rows, cols = near(height, height // period), near(width, width // period)
  dc_rows, dc_cols = np.array([height - 1, 0, 1]), np.array([width - 1, 0, 1])

  def grid_energy(x):
    spectrum = np.abs(np.fft.fft2(x * window, axes=(-3, -2))) ** 2  # (..., H, W, 3)
    total = spectrum[..., rows[:, None], cols[None, :], :].sum()
    return float(total - spectrum[..., dc_rows[:, None], dc_cols[None, :], :].sum())

  target_energy = grid_energy(target)
  if target_energy == 0:
    raise ValueError("the target frames have no energy at the grid frequencies (flat frames)")
  return grid_energy(error) / target_energy
