"""Pixel flows -> the release's network convention, and the flow-refinement (FR) targets.

The release clips every flow to +-150 px and maps it linearly onto [1, -1]: note the sign flip,
``flow_in = -clip(flow_px, -150, 150) / 150``. FR models are trained to refine the im1 -> im3
flow towards the sum of the two half-step flows through the middle frame.
"""

import jax
import jax.numpy as jnp
import numpy as np

MAX_FLOW_PX = 150.0


def _array_module(array):
  return jnp if isinstance(array, jax.Array) else np


def to_network_input(flow_px):
  """``-clip(flow_px, -150, 150) / 150``; NumPy in, NumPy out; JAX in, JAX out."""
  xp = _array_module(flow_px)
  return -xp.clip(flow_px, -MAX_FLOW_PX, MAX_FLOW_PX) / MAX_FLOW_PX


def fr_targets(flow_12, flow_23, flow_32, flow_21):
  """FR targets from pixel flows between LR frames 1, 2, 3 (flow_ab = flow(im_a -> im_b)).

  Returns (gt_flow_f, gt_flow_b) in the network convention:
  gt_flow_f = s(flow_12) + s(flow_23) and gt_flow_b = s(flow_32) + s(flow_21).
  """
  gt_flow_f = to_network_input(flow_12) + to_network_input(flow_23)
  gt_flow_b = to_network_input(flow_32) + to_network_input(flow_21)
  return gt_flow_f, gt_flow_b
