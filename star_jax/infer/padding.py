"""Padding frames to a size the network accepts, and cropping outputs back.

STARnet's V2/V4 cores run a PyramidModule on HR features: two stride-2 4x4 convolutions
down and two stride-2 transposed convolutions up, whose sums only line up when the HR sides
are divisible by 4, i.e. ``scale * lr_side % 4 == 0``. V1/V3 have no such block, and the FR
models' flow UNet pads internally, so it accepts any size.

Padding is added at the bottom and right only, by edge replication: a replicated border
looks like continued content to the convolutions (zero or reflect padding would add an edge
or mirrored motion to the flows), and keeping the top-left corner fixed makes the crop back
to ``scale x input size`` a plain slice.

Frames smaller than ``MIN_FLOW_INPUT_SIDE`` are edge-padded before their flows are computed
(:func:`flow_input_size`), and stay so padded through the network (:func:`network_input_size`).
"""

import math
from typing import Tuple

import numpy as np

from star_jax.model import parse_variant

# Frames smaller than this are edge-padded before flow: coarse2fine with STARnet's
# parameters (minWidth 20, ratio 0.75) needs a width of at least 27 px and a pyramid whose
# coarsest level is not empty; 32 on both sides satisfies both with margin.
MIN_FLOW_INPUT_SIDE = 32


def lr_side_multiple(variant: str, scale: int) -> int:
  """The multiple every LR side must be for ``variant`` at ``scale`` (1 = any size)."""
  version, _ = parse_variant(variant)
  if version in (2, 4):
    return 4 // math.gcd(int(scale), 4)
  return 1


def round_up(value: int, multiple: int) -> int:
  return -(-value // multiple) * multiple


def padded_size(height: int, width: int, multiple: int, minimum: int = 1) -> Tuple[int, int]:
  """The smallest (H, W) at least ``minimum`` and divisible by ``multiple``."""
  return (round_up(max(height, minimum), multiple), round_up(max(width, minimum), multiple))


def flow_input_size(height: int, width: int) -> Tuple[int, int]:
  """The (H, W) an LR frame of ``height x width`` is edge-padded to before its flows are
  computed: at least ``MIN_FLOW_INPUT_SIDE`` a side."""
  return padded_size(height, width, 1, MIN_FLOW_INPUT_SIDE)


def network_input_size(height: int, width: int, multiple: int) -> Tuple[int, int]:
  """The (H, W) an untiled LR frame of ``height x width`` enters a network at:
  :func:`flow_input_size`, then up to the network's side ``multiple``."""
  return padded_size(*flow_input_size(height, width), multiple)


def pad_bottom_right(array: np.ndarray, height: int, width: int) -> np.ndarray:
  """Edge-replicates (..., H, W, C) to (..., height, width, C); a no-op copy-free when equal."""
  extra_h, extra_w = height - array.shape[-3], width - array.shape[-2]
  if extra_h < 0 or extra_w < 0:
    raise ValueError(f"cannot pad {array.shape} down to {(height, width)}")
  if extra_h == 0 and extra_w == 0:
    return array
  pad = [(0, 0)] * (array.ndim - 3) + [(0, extra_h), (0, extra_w), (0, 0)]
  return np.pad(array, pad, mode="edge")


def crop_top_left(array: np.ndarray, height: int, width: int) -> np.ndarray:
  """(..., H, W, C) -> (..., height, width, C), keeping the top-left corner."""
  return array[..., :height, :width, :]
