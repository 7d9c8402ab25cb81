"""An ONNX export as the network of ``star_jax.infer``'s engine, in onnxruntime.

:class:`OnnxNetwork` runs an exported ONNX model (``python -m star_jax.export onnx``) on the
host; handed to ``star_jax.infer.engine.PairEngine`` like a ``JaxNetwork``, it gets the
engine's flows, normalisation, padding, tiling, blending and cropping. The export has one LR
size (H, W) (``fixed_lr_size``): the engine's planner edge-pads frames to at least that size
and cuts them into tiles of exactly that size (overlapping by ``tile_overlap`` LR pixels,
blended), so any frame size works. A fixed-batch export runs batches of exactly its batch; a
dynamic one, ``batch_size`` pairs (or tiles) per call.
"""

import pathlib
from typing import Dict, Optional, Sequence

import numpy as np

from star_jax.errors import UserInputError
from star_jax.export import sidecar as sidecar_lib
from star_jax.model import ModelConfig


def export_directory(model_path) -> pathlib.Path:
  """The export directory of ``model_path`` (the directory, or its ``model.onnx``)."""
  path = pathlib.Path(model_path)
  if path.is_file() and path.name == sidecar_lib.ONNX_FILE:
    return path.parent
  if not path.is_dir():
    raise UserInputError(f"model {path} is neither an ONNX export directory nor its "
                         f"{sidecar_lib.ONNX_FILE}")
  return path


class OnnxNetwork:
  """An ONNX export in onnxruntime (``star_jax.infer.network.Network``).

  Args:
    model_path: the export directory (``model.json`` + ``model.onnx``) or its ``model.onnx``.
    providers: onnxruntime execution providers (default CPU).

  Raises ``UserInputError`` naming the model for a missing or foreign export.
  """

  def __init__(self, model_path, providers: Sequence[str] = ("CPUExecutionProvider",)):
    import onnxruntime  # pylint: disable=g-import-not-at-top (optional extra)
    self.directory = export_directory(model_path)
    sidecar = sidecar_lib.read_sidecar(self.directory, "onnx")
    onnx_path = self.directory / sidecar_lib.ONNX_FILE
    if not onnx_path.is_file():
      raise UserInputError(f"ONNX export {self.directory} lacks {sidecar_lib.ONNX_FILE}")
    self.session = onnxruntime.InferenceSession(str(onnx_path), providers=list(providers))
    try:
      self.model_cfg = ModelConfig.from_mapping(sidecar["model_config"])
    except ValueError as error:
      raise UserInputError(f"ONNX export {self.directory}: {error}") from error
    self.scale = int(sidecar["scale"])
    self.multiple = int(sidecar["lr_side_multiple"])
    self.devices = [f"onnxruntime {provider}" for provider in self.session.get_providers()[:1]]
    first_input = sidecar["inputs"][0]["shape"]
    self.exported_batch = first_input[0]  # an int, or sidecar_lib.DYNAMIC_BATCH
    self.fixed_lr_size = (int(first_input[1]), int(first_input[2]))

  def batch_size(self, requested: Optional[int]) -> int:
    """A fixed-batch export's batch (``UserInputError`` naming ``batch_size`` for another
    one); for a dynamic one, ``requested`` (default 1)."""
    if self.exported_batch == sidecar_lib.DYNAMIC_BATCH:
      return requested or 1
    if requested not in (None, self.exported_batch):
      raise UserInputError(f"model {self.directory} was exported for batch "
                           f"{self.exported_batch}; batch_size {requested} cannot run on it",
                           ("batch_size",))
    return int(self.exported_batch)

  def place(self, arrays: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
    """Host arrays stay on the host (onnxruntime and the flow take NumPy)."""
    return arrays

  def forward(self, inputs: Sequence[np.ndarray], names: Sequence[str],
              space: int = 1) -> Dict[str, np.ndarray]:
    """One session run on a full batch: (im1, im2, flow_f, flow_b) -> {name: NumPy batch};
    ``space`` is always 1 (a fixed-size network's frames are never split)."""
    feeds = {name: np.ascontiguousarray(array, np.float32)
             for name, array in zip(sidecar_lib.INPUT_NAMES, inputs)}
    return dict(zip(names, self.session.run(list(names), feeds)))
