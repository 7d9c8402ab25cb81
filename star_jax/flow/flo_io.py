"""Middlebury ``.flo`` files: 'PIEH' (float 202021.25) tag, int32 width, height, then
row-major interleaved (u, v) float32, all little-endian."""

import os
from typing import Union

import numpy as np

from star_jax.errors import UserInputError

FLO_TAG = 202021.25


def write_flo(path: Union[str, os.PathLike], flow: np.ndarray) -> None:
  """Write an (H, W, 2) pixel flow to ``path``."""
  flow = np.asarray(flow, "<f4")
  if flow.ndim != 3 or flow.shape[-1] != 2:
    raise ValueError(f"a .flo file holds one (H, W, 2) flow; got shape {flow.shape} for {path}")
  height, width = flow.shape[:2]
  with open(path, "wb") as f:
    f.write(np.asarray([FLO_TAG], "<f4").tobytes())
    f.write(np.asarray([width, height], "<i4").tobytes())
    f.write(np.ascontiguousarray(flow).tobytes())


def read_flo(path: Union[str, os.PathLike]) -> np.ndarray:
  """Read a ``.flo`` file into an (H, W, 2) float32 array."""
  with open(path, "rb") as f:
    data = f.read()
  if len(data) < 12 or np.frombuffer(data[:4], "<f4")[0] != FLO_TAG:
    raise UserInputError(f"{path} is not a Middlebury .flo file (missing 'PIEH' tag)")
  width, height = (int(x) for x in np.frombuffer(data[4:12], "<i4"))
  expected = 12 + width * height * 2 * 4
  if len(data) != expected:
    raise UserInputError(f"{path} should have {expected} bytes for {width}x{height}, "
                         f"has {len(data)}")
  return np.frombuffer(data[12:], "<f4").reshape(height, width, 2).copy()
