"""Frame quality metrics as the paper reports them: SSIM and interpolation error (IE), on
8-bit RGB frames over the whole frame (no border crop, no luma conversion), as PSNR
(``star_jax.pixels.psnr``, the project's one PSNR).

SSIM definition used (Wang, Bovik, Sheikh and Simoncelli, IEEE TIP 2004, with the authors'
reference settings): local statistics under an 11x11 Gaussian window with sigma 1.5
(separable, normalised to sum 1), K1 = 0.01, K2 = 0.03, dynamic range L = 255, population
(not sample) covariances,

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (K1 L)^2, C2 = (K2 L)^2,

evaluated at every position where the window fits inside the frame ("valid"), averaged
over those positions and then over the three RGB channels. This equals
``skimage.metrics.structural_similarity(x, y, channel_axis=-1, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=255)`` and dm-pix's ``ssim`` with
``max_val=255`` (both checked in tests/evaluate).

IE = mean absolute difference over all pixels and channels.
"""

import numpy as np

from star_jax.pixels import PEAK, check_frame_pair

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


def ssim(prediction: np.ndarray, target: np.ndarray) -> float:
  """Mean SSIM of two (H, W, 3) uint8 frames, as defined in the module docstring."""
  check_frame_pair(prediction, target)
  if min(prediction.shape[:2]) < SSIM_WINDOW:
    raise ValueError(f"frames of {prediction.shape[1]}x{prediction.shape[0]} are smaller than "
                     f"the {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window")
  x = prediction.astype(np.float64)
  y = target.astype(np.float64)
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
