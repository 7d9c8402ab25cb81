"""The video engine with the network in onnxruntime instead of JAX.

:class:`OnnxPairEngine` is a ``star_jax.infer.engine.PairEngine`` whose network call runs an
exported ONNX model (``python -m star_jax.export onnx``): flows, normalisation, padding,
tiling, blending and cropping are the engine's own. The export has one LR size (H, W): frames
are edge-padded to at least that size and cut into tiles of exactly that size (tiles overlap
by ``tile_overlap`` LR pixels and are blended), so any frame size works. A fixed-batch export
runs batches of exactly its batch; a dynamic one, ``batch_size`` pairs (or tiles) per call.
"""

import pathlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from star_jax.errors import UserInputError
from star_jax.export import sidecar as sidecar_lib
from star_jax.flow import FlowSettings
from star_jax.infer import padding, tiling
from star_jax.infer.engine import DEFAULT_TILE_OVERLAP, PairEngine
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


class OnnxPairEngine(PairEngine):
  """``PairEngine.run`` over an ONNX export in onnxruntime.

  Args:
    model_path: the export directory (``model.json`` + ``model.onnx``) or its ``model.onnx``.
    flow: the flow method and its settings (``star_jax.flow.FlowSettings``).
    batch_size: items per network call; must equal a fixed-batch export's batch (default:
      that batch, or 1 for a dynamic one).
    tile_overlap: LR pixels shared by neighbouring tiles; smaller than both exported sides.
    providers: onnxruntime execution providers (default CPU).

  Raises ``UserInputError`` naming the model for a missing or foreign export or a
  batch/overlap that does not fit it.
  """

  def __init__(self, model_path, *, flow: FlowSettings = FlowSettings(),
               batch_size: Optional[int] = None,
               tile_overlap: int = DEFAULT_TILE_OVERLAP,
               providers: Sequence[str] = ("CPUExecutionProvider",)):
    # Not PairEngine.__init__: that one places JAX variables on devices and jits the model.
    import onnxruntime  # pylint: disable=g-import-not-at-top (optional extra)
    directory = export_directory(model_path)
    try:
      self.sidecar = sidecar_lib.read_sidecar(directory, "onnx")
    except ValueError as error:
      raise UserInputError(str(error)) from error
    onnx_path = directory / sidecar_lib.ONNX_FILE
    if not onnx_path.is_file():
      raise UserInputError(f"ONNX export {directory} lacks {sidecar_lib.ONNX_FILE}")
    self.session = onnxruntime.InferenceSession(str(onnx_path), providers=list(providers))
    try:
      self.model_cfg = ModelConfig.from_mapping(self.sidecar["model_config"])
    except ValueError as error:
      raise UserInputError(f"ONNX export {directory}: {error}") from error
    self.scale = int(self.sidecar["scale"])
    self.multiple = int(self.sidecar["lr_side_multiple"])
    self.flow = flow
    self.devices = [f"onnxruntime {provider}" for provider in self.session.get_providers()[:1]]
    first_input = self.sidecar["inputs"][0]["shape"]
    exported_batch = first_input[0]
    self.lr_size: Tuple[int, int] = (int(first_input[1]), int(first_input[2]))
    if exported_batch == sidecar_lib.DYNAMIC_BATCH:
      self.batch_size = batch_size or 1
    else:
      if batch_size not in (None, exported_batch):
        raise UserInputError(f"model {directory} was exported for batch {exported_batch}; "
                             f"batch_size {batch_size} cannot run on it", ("batch_size",))
      self.batch_size = int(exported_batch)
    self.per_device_batch = self.batch_size
    if tile_overlap < 0 or tile_overlap >= min(self.lr_size):
      raise UserInputError(f"tile_overlap {tile_overlap} must be >= 0 and smaller than the "
                           f"exported LR size {self.lr_size[0]}x{self.lr_size[1]}",
                           ("tile_overlap",))
    self.tile_size, self.tile_overlap = None, tile_overlap
    self._tile_plans: Dict[Tuple[int, int], List[tiling.Tile]] = {}

  def padded_frame_size(self, height: int, width: int) -> Tuple[int, int]:
    """The model's multiple, and at least the exported LR size."""
    padded_h, padded_w = padding.padded_size(height, width, self.multiple)
    return max(padded_h, self.lr_size[0]), max(padded_w, self.lr_size[1])

  def tile_plan(self, padded_height: int, padded_width: int) -> List[tiling.Tile]:
    """Tiles of exactly the exported LR size."""
    key = (padded_height, padded_width)
    if key not in self._tile_plans:
      self._tile_plans[key] = tiling.plan_tiles(padded_height, padded_width, *self.lr_size,
                                                self.tile_overlap)
    return self._tile_plans[key]

  def shard_batch(self, arrays):
    """Host arrays stay on the host (onnxruntime and the flow take NumPy)."""
    return arrays

  def frame_split(self, padded_height: int, padded_width: int) -> int:
    """Frames are never split over devices here (onnxruntime runs on the host)."""
    return 1

  def forward_batch(self, inputs: Sequence[np.ndarray], names: Sequence[str], space: int = 1
                    ) -> Dict[str, np.ndarray]:
    feeds = {name: np.ascontiguousarray(array, np.float32)
             for name, array in zip(sidecar_lib.INPUT_NAMES, inputs)}
    return dict(zip(names, self.session.run(list(names), feeds)))
