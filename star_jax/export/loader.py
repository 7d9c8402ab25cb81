"""Loading a StableHLO export (``python -m star_jax.export stablehlo``) with jax and NumPy only:
no flax, no star_jax model code::

    from star_jax.export.loader import load_stablehlo
    model = load_stablehlo("export_dir")
    ht, h1, h2, l = model(im1, im2, flow_f, flow_b)   # NHWC float32, see model.sidecar

Inputs and outputs are as the sidecar describes them (``star_jax.export.sidecar``).
"""

import pathlib
from typing import Any, Dict, Tuple

import jax
import numpy as np
from jax import export as jax_export

from star_jax.export import sidecar as sidecar_lib


class StableHLOModel:
  """A loaded export: call it as ``model(im1, im2, flow_f, flow_b) -> (ht, h1, h2, l)``.

  Attributes:
    sidecar: the export's sidecar (dict).
    exported: the ``jax.export.Exported``.
    weights: its weight arguments, as stored (list of NumPy arrays).
  """

  def __init__(self, sidecar: Dict[str, Any], exported: jax_export.Exported, weights):
    self.sidecar, self.exported, self.weights = sidecar, exported, list(weights)

  def __call__(self, im1, im2, flow_f, flow_b) -> Tuple[jax.Array, ...]:
    return tuple(self.exported.call(self.weights, im1, im2, flow_f, flow_b))


def load_stablehlo(directory) -> StableHLOModel:
  """Loads ``directory`` (``model.json``, ``model.stablehlo``, ``weights.npz``); ``ValueError``
  naming the directory when a file is missing or is not a StableHLO export."""
  directory = pathlib.Path(directory)
  sidecar = sidecar_lib.read_sidecar(directory, "stablehlo")
  for name in (sidecar_lib.STABLEHLO_FILE, sidecar_lib.WEIGHTS_FILE):
    if not (directory / name).is_file():
      raise ValueError(f"StableHLO export {directory} lacks {name}")
  exported = jax_export.deserialize(bytearray((directory / sidecar_lib.STABLEHLO_FILE).read_bytes()))
  with np.load(directory / sidecar_lib.WEIGHTS_FILE) as stored:
    weights = [stored[sidecar_lib.weight_key(index)] for index in range(len(stored.files))]
  return StableHLOModel(sidecar, exported, weights)
