"""Gaussian pyramid of the coarse-to-fine method (spec §3): level plan on the host, build in JAX.

The plan (sizes, blur taps, resampling factors) depends only on the image size and the
parameters, so it is computed once in float64 with C's truncating integer casts; that keeps
every shape static for ``jax.jit``. The quirks that matter are kept: the level count comes from
the width only, the ratio guard applies here only, and the blur half-width trunc(3*sigma) falls
just below the integer (level 1 is not blurred at all).
"""

import dataclasses
import math
from typing import List, Tuple

import jax.numpy as jnp

from star_jax.errors import UserInputError
from star_jax.flow import filters, resample


@dataclasses.dataclass(frozen=True)
class PyramidLevel:
  """How level ``index`` is made: blur level ``source`` with ``taps``, resample by ``scale``."""
  index: int
  source: int
  taps: Tuple[float, ...]
  scale: float
  height: int
  width: int


def guarded_ratio(ratio: float) -> float:
  """The pyramid replaces ratios outside [0.4, 0.98] by 0.75 (the flow rescaling does not)."""
  return 0.75 if (ratio > 0.98 or ratio < 0.4) else ratio


def num_levels(width: int, ratio: float, min_width: int) -> int:
  """L = trunc(ln(minWidth / W) / ln(ratio)), with the guarded ratio; the height is ignored."""
  ratio = guarded_ratio(ratio)
  return int(math.log(min_width / width) / math.log(ratio))


def plan_pyramid(height: int, width: int, ratio: float, min_width: int) -> Tuple[PyramidLevel, ...]:
  """All levels, finest (index 0, the input itself) first.

  Raises ValueError where the reference is undefined: fewer than one level (for STARnet's
  minWidth 20 and ratio 0.75 that is every width below 27 px) or a level that would be empty.
  """
  n_levels = num_levels(width, ratio, min_width)
  if n_levels < 1:
    smallest = next(w for w in range(width, 10 ** 6) if num_levels(w, ratio, min_width) >= 1)
    raise UserInputError(
        f"image width {width} px is too small for coarse2fine flow with min_width={min_width} "
        f"and ratio={ratio}: the pyramid would have {n_levels} levels, where pyflow is undefined "
        f"(out-of-bounds write or failed allocation); use a width of at least {smallest} px")
  ratio = guarded_ratio(ratio)
  base_sigma = 1 / ratio - 1
  n_direct = int(math.log(0.25) / math.log(ratio))
  levels: List[PyramidLevel] = [PyramidLevel(0, 0, (1.0,), 1.0, height, width)]
  for i in range(1, n_levels):
    if i <= n_direct:
      sigma = base_sigma * i
      source = 0
      scale = ratio ** i
    else:
      sigma = base_sigma * n_direct
      source = i - n_direct
      scale = ratio ** i * width / levels[source].width
    taps = filters.gaussian_taps(sigma, int(sigma * 3))
    src = levels[source]
    level = PyramidLevel(i, source, taps, scale, int(src.height * scale), int(src.width * scale))
    if level.height < 1 or level.width < 1:
      raise UserInputError(
          f"image of {width}x{height} px (W x H) is too flat for coarse2fine flow: pyramid "
          f"level {i} would be {level.width}x{level.height} px")
    levels.append(level)
  return tuple(levels)


def build_pyramid(image: jnp.ndarray, plan: Tuple[PyramidLevel, ...]) -> List[jnp.ndarray]:
  """The (H_k, W_k, C) level images of ``image`` (H, W, C) following ``plan``."""
  images = [image]
  for level in plan[1:]:
    blurred = filters.correlate_xy(images[level.source], level.taps)
    images.append(resample.resize(blurred, level.height, level.width, level.scale, level.scale))
  return images
