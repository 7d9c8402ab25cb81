"""Training augmentation: the release's flips/rotation and random patch crop, flow-consistent.

The release draws, per sample and for all its frames alike, a top-bottom flip, a left-right
mirror and a 180 degree rotation, each with probability 1/2, and then recomputes every optical
flow on the augmented frames. A flip of the frames is exactly a flip of the flow field with
the matching component negated, so we transform the flows cached once per clip instead
(``star_jax.flow.transforms``), which removes the release's dominant per-sample cost.
"""

import dataclasses
from typing import Optional, Tuple

import numpy as np

from star_jax.errors import UserInputError
from star_jax.flow import transforms as flow_transforms


@dataclasses.dataclass(frozen=True)
class Flips:
  """The three coin flips of one sample, in the release's order (all commute)."""

  flip_ud: bool
  flip_lr: bool
  rot180: bool

  @property
  def rows_reversed(self) -> bool:
    """Net effect on rows: a 180 degree rotation is a top-bottom plus a left-right flip."""
    return self.flip_ud != self.rot180

  @property
  def columns_reversed(self) -> bool:
    return self.flip_lr != self.rot180


NO_FLIPS = Flips(False, False, False)


def draw_flips(rng: np.random.Generator) -> Flips:
  """Three independent fair coins: top-bottom flip, left-right mirror, 180 degree rotation."""
  flip_ud, flip_lr, rot180 = (bool(coin) for coin in rng.random(3) < 0.5)
  return Flips(flip_ud=flip_ud, flip_lr=flip_lr, rot180=rot180)


def flip_frames(frames: np.ndarray, flips: Flips) -> np.ndarray:
  """Applies ``flips`` to (..., H, W, C) frames (a view; no copy)."""
  if flips.rows_reversed:
    frames = frames[..., ::-1, :, :]
  if flips.columns_reversed:
    frames = frames[..., ::-1, :]
  return frames


def flip_flow(flow: np.ndarray, flips: Flips) -> np.ndarray:
  """Applies ``flips`` to a (..., H, W, 2) flow field, negating v and/or u as the geometry
  demands, so the result is the flow between the flipped frames (pixel or network units)."""
  if flips.flip_ud:
    flow = flow_transforms.flip_ud(flow)
  if flips.flip_lr:
    flow = flow_transforms.flip_lr(flow)
  if flips.rot180:
    flow = flow_transforms.rot180(flow)
  return flow


def draw_patch(rng: np.random.Generator, height: int, width: int,
               patch_size: int) -> Optional[Tuple[int, int]]:
  """Top-left corner of a uniformly placed ``patch_size`` square, or None for the whole frame.

  Like the release, ``patch_size`` is counted in input pixels (LR for STAR, HR for STAR-T-HR)
  and 0 means no crop.
  """
  if patch_size <= 0:
    return None
  if patch_size > min(height, width):
    raise UserInputError(f"patch_size {patch_size} exceeds the input frame size {height}x{width}")
  return int(rng.integers(0, height - patch_size + 1)), int(rng.integers(0, width - patch_size + 1))


def crop_patch(array: np.ndarray, corner: Optional[Tuple[int, int]], patch_size: int,
               scale: int = 1) -> np.ndarray:
  """Crops (..., H, W, C) at ``scale`` times the input-pixel corner and size (a view).

  ``scale`` > 1 selects the HR region that matches an LR patch, so the crop of every LR
  frame, flow and HR frame of a sample show the same scene.
  """
  if corner is None:
    return array
  top, left = corner[0] * scale, corner[1] * scale
  size = patch_size * scale
  return array[..., top:top + size, left:left + size, :]
