"""The model applied to frame pairs: flows, normalisation, padding, tiling, batching.

:class:`PairEngine` is composed of a network (``network``: a ``JaxNetwork``, or an ONNX
export's ``star_jax.export.onnx_network.OnnxNetwork``), the flow method
(``star_jax.flow.FlowSettings``) and its options (``planner.EngineOptions``: tiles, batch,
memory budget; their plan is ``planner.Planner``'s). It turns pairs of frames (float RGB in
[0, 1], any size) into the network's outputs at exactly ``scale x`` (ht, h1, h2) or ``1 x``
(l) the input size, as RGB clamped to [0, 1] (float32) or, on request, uint8
(``star_jax.pixels``):

* flows: computed on the whole (unpadded) frames in the release's convention (flow of
  frames in [0, 1], then ``-clip(f, +-150) / 150``); tiles take crops of the full-frame
  flows rather than recomputing flow per tile, which is both cheaper and better (the
  variational flow sees the motion context beyond the tile border). Frames smaller than
  ``padding.MIN_FLOW_INPUT_SIDE`` are edge-padded before the flow (and stay padded through
  the network; the outputs are cropped). The flows of ``batch_size`` pairs (both
  directions) run as one call (coarse2fine's jit-compiled, vmapped batch placed where the
  network runs).
* padding: edge replication at bottom/right to the planner's padded frame size, cropped
  away from the outputs.
* split and tiles (``planner``): a frame runs whole, or with its height split over
  ``space`` devices (``batch_size / space`` pairs per step), or as equal overlapping LR
  tiles, blended with raised-cosine ramps (``tiling``).
* batching: (pair, tile) items are stacked into fixed-size batches (one compiled shape;
  the last batch is filled by repeating its last item) and handed to the network, which
  splits them over its devices. The next batch is dispatched before the previous one's
  outputs are copied back, so the devices are not idle while the host blends tiles.
* two stages: :meth:`PairEngine.prepare` (flows, normalisation, padding; what a prefetch
  thread runs ahead, see ``frame_schedule``) and :meth:`PairEngine.run_prepared` (the network).
"""

import dataclasses
from typing import Dict, List, Sequence, Tuple

import numpy as np

from star_jax import flow as flow_lib
from star_jax import pixels
from star_jax.infer import padding, tiling
from star_jax.infer.network import Network
from star_jax.infer.planner import EngineOptions, Planner


@dataclasses.dataclass(frozen=True)
class PreparedPairs:
  """Pairs ready for the network (:meth:`PairEngine.prepare`).

  ``arrays``: im1, im2 (ImageNet-normalised), flow_f, flow_b (network convention), each
  (N, padded_height, padded_width, 3 or 2) float32, padded at bottom/right; ``height``,
  ``width``: the frames' own LR size, to which outputs are cropped.
  """
  arrays: Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
  height: int
  width: int

  def __len__(self) -> int:
    return len(self.arrays[0])


class PairEngine:
  """Runs a network on batches of frame pairs (module docstring).

  Args:
    network: what runs the model (``network.Network``: a ``network.JaxNetwork``, or an ONNX
      export's ``OnnxNetwork``).
    flow: the flow method and its settings (``star_jax.flow.FlowSettings``, the type
      training's flow cache uses); default the release's coarse2fine.
    options: tiles, batch and memory budget (``planner.EngineOptions``; their plan is
      :attr:`planner`'s).

  Raises:
    UserInputError: ``options`` that do not fit the network (``planner.Planner``).
  """

  def __init__(self, network: Network, flow: flow_lib.FlowSettings = flow_lib.FlowSettings(),
               options: EngineOptions = EngineOptions()):
    self.network = network
    self.flow = flow
    self.planner = Planner(network, options)

  @property
  def scale(self) -> int:
    """The network's output scale (ht, h1, h2)."""
    return self.network.scale

  @property
  def batch_size(self) -> int:
    """(pair, tile) items per step over all devices (the planner's)."""
    return self.planner.batch_size

  def _flows(self, first: np.ndarray, second: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Network-convention flows first->second and second->first, (B, H, W, 2) float32.

    Computed ``batch_size`` pairs at a time (both directions in one call, the last chunk
    filled by repetition), so a jit-compiled flow backend sees one batch shape per frame
    size however many pairs a call brings; coarse2fine's batch is placed where the network
    runs (``network.place``: split over a ``JaxNetwork``'s devices).
    """
    forward, backward = [], []
    for start in range(0, len(first), self.batch_size):
      index = list(range(start, min(start + self.batch_size, len(first))))
      kept = len(index)
      index += [index[-1]] * (self.batch_size - kept)
      sources = np.concatenate([first[index], second[index]])
      targets = np.concatenate([second[index], first[index]])
      if self.flow.backend == "coarse2fine":
        sources, targets = self.network.place((sources, targets))
      both = self.flow.compute(sources, targets)
      both = np.asarray(flow_lib.to_network_input(np.asarray(both)), np.float32)
      forward.append(both[:kept])
      backward.append(both[self.batch_size:self.batch_size + kept])
    return np.concatenate(forward), np.concatenate(backward)

  def prepare(self, pairs: Sequence[Tuple[np.ndarray, np.ndarray]]) -> PreparedPairs:
    """Flows, normalisation and padding of (H, W, 3) frame pairs in [0, 1] (all one size).

    Raises ValueError when ``pairs`` is empty.
    """
    if not pairs:
      raise ValueError("prepare() needs at least one frame pair")
    first = np.stack([np.asarray(a, np.float32) for a, _ in pairs])
    second = np.stack([np.asarray(b, np.float32) for _, b in pairs])
    height, width = first.shape[1:3]
    flow_height, flow_width = padding.flow_input_size(height, width)
    first = padding.pad_bottom_right(first, flow_height, flow_width)
    second = padding.pad_bottom_right(second, flow_height, flow_width)
    flow_f, flow_b = self._flows(first, second)
    padded_h, padded_w = self.planner.padded_frame_size(height, width)
    arrays = tuple(padding.pad_bottom_right(array, padded_h, padded_w)
                   for array in (pixels.normalize(first), pixels.normalize(second), flow_f,
                                 flow_b))
    return PreparedPairs(arrays, height, width)

  def run(self, pairs: Sequence[Tuple[np.ndarray, np.ndarray]], names: Sequence[str], *,
          as_uint8: bool = False) -> List[Dict[str, np.ndarray]]:
    """Model outputs ``names`` for each pair of (H, W, 3) frames in [0, 1], cropped to
    exactly ``scale x`` or, for 'l', ``1 x`` the input size: RGB clamped to [0, 1], float32
    (``pixels.to_unit_range``), or uint8 with ``as_uint8`` (``pixels.normalised_to_uint8``:
    clamped, times 255, rounded). Tiles are blended in the network's normalised space before
    either conversion."""
    if not pairs:
      return []
    return self.run_prepared(self.prepare(pairs), names, as_uint8=as_uint8)

  def run_prepared(self, prepared: PreparedPairs, names: Sequence[str], *,
                   as_uint8: bool = False) -> List[Dict[str, np.ndarray]]:
    """:meth:`run` on pairs already through :meth:`prepare`."""
    names = tuple(names)
    padded_h, padded_w = prepared.arrays[0].shape[1:3]
    tiles = self.planner.tile_plan(padded_h, padded_w)
    space = self.planner.frame_split(padded_h, padded_w)
    step_items = self.batch_size // space
    factors = {name: (1 if name == "l" else self.scale) for name in names}
    blenders = [{name: tiling.TileBlender(padded_h, padded_w, factors[name]) for name in names}
                for _ in range(len(prepared))]
    items = [(pair, tile) for pair in range(len(prepared)) for tile in tiles]

    def collect(chunk, outputs):
      outputs = {name: np.asarray(outputs[name]) for name in names}
      for index, (pair, tile) in enumerate(chunk):
        for name in names:
          blenders[pair][name].add(tile, outputs[name][index])

    pending = None  # (chunk, outputs) dispatched but not yet copied back
    for start in range(0, len(items), step_items):
      chunk = items[start:start + step_items]
      filled = chunk + [chunk[-1]] * (step_items - len(chunk))
      inputs = [np.stack([array[pair, tile.top:tile.top + tile.height,
                                tile.left:tile.left + tile.width] for pair, tile in filled])
                for array in prepared.arrays]
      outputs = self.network.forward(inputs, names, space)
      if pending is not None:
        collect(*pending)
      pending = (chunk, outputs)
    collect(*pending)
    height, width = prepared.height, prepared.width
    convert = pixels.normalised_to_uint8 if as_uint8 else pixels.to_unit_range
    return [{name: convert(padding.crop_top_left(blender[name].result(), height * factors[name],
                                                 width * factors[name]))
             for name in names} for blender in blenders]

