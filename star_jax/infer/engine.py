"""The model applied to frame pairs: flows, normalisation, padding, tiling, batching, devices.

:class:`PairEngine` turns pairs of frames (float RGB in [0, 1], any size) into the network's
outputs at exactly ``scale x`` (ht, h1, h2) or ``1 x`` (l) the input size, as RGB clamped to
[0, 1] (float32) or, on request, uint8 (``star_jax.pixels``). Everything that
makes "a video of any size on any machine" work lives here:

* flows: computed on the whole (unpadded) frames with ``star_jax.flow.compute_flow`` in the
  release's convention (flow of frames in [0, 1], then ``-clip(f, +-150) / 150``); tiles take
  crops of the full-frame flows rather than recomputing flow per tile, which is both cheaper
  and better (the variational flow sees the motion context beyond the tile border).
  Frames smaller than ``MIN_FLOW_INPUT_SIDE`` are edge-padded before the flow (and stay
  padded through the network; the outputs are cropped).
* padding: edge replication at bottom/right to the model's multiple (``padding``), cropped
  away from the outputs.
* spatial split: when a padded frame does not fit one device's memory budget but fits
  ``space`` devices' (the smallest such divisor of the device count), each frame runs whole,
  its height split over ``space`` devices (a ('batch', 'space') mesh; XLA exchanges the rows
  each convolution needs), so the result equals the untiled one up to float summation
  order, without seams; ``batch_size / space`` pairs run per step.
* tiling: when a padded frame does not fit even all devices' memory budget (or
  ``tile_size`` is given), equal overlapping LR tiles, blended with raised-cosine ramps
  (``tiling``).
* batching: (pair, tile) items are stacked into fixed-size batches (one compiled shape;
  the last batch is filled by repeating its last item) and split over every local device
  along the batch axis (the 'batch' axis of a ('batch', 'space') mesh, 'space' 1 unless the
  frame is split); the flows of ``batch_size`` pairs (both directions) run as one
  jit-compiled, vmapped call split over every device. The next
  batch is dispatched before the previous one's outputs are copied back, so the devices
  are not idle while the host blends tiles.
* two stages: :meth:`PairEngine.prepare` (flows, normalisation, padding; what a prefetch
  thread runs ahead, see ``frame_schedule``) and :meth:`PairEngine.run_prepared` (the network).
"""

import dataclasses
import functools
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from star_jax import flow as flow_lib
from star_jax import pixels
from star_jax.infer import memory, padding, tiling
from star_jax.errors import UserInputError
from star_jax.infer.inference_weights import load_inference_weights
from star_jax.model import ModelConfig, build_model

ALL_OUTPUT_NAMES = ("ht", "h1", "h2", "l")  # ht, h1, h2 at ``scale x`` the input; l at 1 x
DEFAULT_TILE_OVERLAP = 16
# The traced liveness peak (``memory``) ignores convolution workspaces, layout copies and
# buffers XLA keeps alive longer than a sequential executor would. Measured on XLA:CPU for
# full-width V4_REF x4: resident memory grows by ~114 KB per LR pixel against a traced peak
# of ~39 KB, so plan with 3.5x the traced peak.
MEMORY_SAFETY_FACTOR = 3.5
# Fraction of the free memory a forward may plan to use by default.
DEFAULT_MEMORY_FRACTION = 0.6
_PROBE_LR_SIDE = 32
# Frames smaller than this are edge-padded before flow: coarse2fine with STARnet's
# parameters (minWidth 20, ratio 0.75) needs a width of at least 27 px and a pyramid whose
# coarsest level is not empty; 32 on both sides satisfies both with margin.
MIN_FLOW_INPUT_SIDE = 32


def eval_forward(model_cfg: ModelConfig):
  """The eval-mode forward of a model config as a plain (not jitted) function
  ``forward(variables, im1, im2, flow_f, flow_b) -> {name: float32 array}`` for every name
  in ``ALL_OUTPUT_NAMES``; inputs as ``model.apply`` takes them (NHWC, ImageNet-normalised
  frames, network-convention flows). The engine jits it; ``star_jax.export`` exports it."""
  model = build_model(model_cfg)

  def forward(variables, im1, im2, flow_f, flow_b):
    outputs = model.apply(variables, im1, im2, flow_f, flow_b, train=False)
    return {name: outputs[name].astype(jnp.float32) for name in ALL_OUTPUT_NAMES}

  return forward


@functools.lru_cache(maxsize=8)
def engine_forward(model_cfg: ModelConfig, split: Optional[NamedSharding] = None):
  """The jitted eval forward a :class:`PairEngine` runs for ``model_cfg`` (its ``dtype`` is
  the compute dtype): one per model config and ``split`` (the cache key), shared by every
  engine in the process (jit keeps the compiled executables per input shape, so a second
  engine on the same model, e.g. evaluation after inference or tiled after untiled, compiles
  nothing new). ``split`` (``engine_shardings``' third sharding): the forward first splits
  its inputs so (their heights over the mesh's 'space' axis), and the activations follow.
  All four outputs are always returned: selecting some would compile the whole network
  again per selection, while the extra device-to-host copies are small.
  """
  forward = eval_forward(model_cfg)
  if split is None:
    return jax.jit(forward)

  def split_forward(variables, *inputs):
    return forward(variables, *(jax.lax.with_sharding_constraint(x, split) for x in inputs))

  return jax.jit(split_forward)


def engine_shardings(devices: Sequence[jax.Device], space: int = 1
                     ) -> Tuple[NamedSharding, NamedSharding, NamedSharding]:
  """(replicated, batch-split, height-split) shardings of the engine's ('batch', 'space')
  mesh of shape (len(devices) / space, space) over ``devices``: the variables are
  replicated, every input enters split along its batch axis (any height), and a split
  frame is split over its height inside the forward (``engine_forward``'s ``split``; XLA
  pads a height ``space`` does not divide, internally).

  Raises:
    ValueError: ``space`` does not divide the number of devices.
  """
  if space < 1 or len(devices) % space:
    raise ValueError(f"space {space} does not divide {len(devices)} devices")
  mesh = jax.make_mesh((len(devices) // space, space), ("batch", "space"),
                       devices=list(devices), axis_types=(jax.sharding.AxisType.Auto,) * 2)
  return (NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("batch")),
          NamedSharding(mesh, PartitionSpec("batch", "space")))


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
  """Runs one model on batches of frame pairs.

  Args:
    model_cfg: the ``ModelConfig`` (as ``star_jax.weights.load_weights`` returns it); the
      engine's ``model_cfg`` is it with ``dtype=compute_dtype``.
    variables: its Flax variables.
    compute_dtype: 'float32' or 'bfloat16' activations (parameters keep their dtype).
    flow_backend, flow_params: passed to ``star_jax.flow.compute_flow``.
    batch_size: (pair, tile) items per step over all devices; rounded up to a multiple of
      the device count. Default: one per device.
    tile_size: LR tile side; ``None``: no tiling if the whole frame fits
      ``memory_budget_bytes``, else the frame split over the height of the fewest devices
      whose budgets it fits (``frame_split``), else the largest tiles that fit.
    tile_overlap: LR pixels shared by neighbouring tiles.
    memory_budget_bytes: per-device budget for one forward; default a fraction of the free
      memory of the device with the least free memory (``memory.available_memory_bytes``:
      the accelerator allocator's ``bytes_limit - bytes_in_use``, the host's available
      memory on CPU).
    devices: devices to split batches over; default every local device.
  """

  def __init__(self, model_cfg: ModelConfig, variables: Any, *,
               compute_dtype: str = "float32", flow_backend: str = "coarse2fine",
               flow_params: Optional[Mapping[str, Any]] = None,
               batch_size: Optional[int] = None, tile_size: Optional[int] = None,
               tile_overlap: int = DEFAULT_TILE_OVERLAP,
               memory_budget_bytes: Optional[int] = None,
               devices: Optional[Sequence[jax.Device]] = None):
    cfg = model_cfg.replace(dtype=compute_dtype)
    self.model_cfg = cfg
    self.scale = int(cfg.scale)
    self.multiple = padding.lr_side_multiple(cfg.variant, self.scale)
    self.flow_backend = flow_backend
    self.flow_params = dict(flow_params or {})
    self.devices = list(devices or jax.local_devices())
    per_device = max(1, -(-(batch_size or len(self.devices)) // len(self.devices)))
    self.per_device_batch = per_device
    self.batch_size = per_device * len(self.devices)
    if tile_size is not None and tile_size <= tile_overlap:
      raise UserInputError(
          f"tile_size {tile_size} must be larger than tile_overlap {tile_overlap}",
          ("tile_size", "tile_overlap"))
    if tile_overlap < 0:
      raise UserInputError(f"tile_overlap must be >= 0, got {tile_overlap}", ("tile_overlap",))
    self.tile_size = tile_size
    self.tile_overlap = tile_overlap
    self.memory_budget_bytes = memory_budget_bytes
    replicated, self._batch_sharding, _ = engine_shardings(self.devices)
    self.variables = jax.device_put(variables, replicated)
    self._forward = engine_forward(cfg)
    self._bytes_per_pixel: Optional[float] = None
    self._tile_plans: Dict[Tuple[int, int], List[tiling.Tile]] = {}
    self._splits: Dict[Tuple[int, int], int] = {}

  # ---------------------------------------------------------------- memory and tile plan
  def forward_bytes_per_lr_pixel(self) -> float:
    """Estimated activation bytes per LR pixel per batch item (traced once, then cached)."""
    if self._bytes_per_pixel is None:
      side = _PROBE_LR_SIDE * self.multiple
      image = jax.ShapeDtypeStruct((1, side, side, 3), jnp.float32)
      flow = jax.ShapeDtypeStruct((1, side, side, 2), jnp.float32)
      peak = memory.traced_peak_bytes(self._forward, self.variables, image, image, flow, flow)
      self._bytes_per_pixel = MEMORY_SAFETY_FACTOR * peak / (side * side)
    return self._bytes_per_pixel

  def _budget(self) -> int:
    if self.memory_budget_bytes is not None:
      return int(self.memory_budget_bytes)
    free = min(memory.available_memory_bytes(device) for device in self.devices)
    return int(DEFAULT_MEMORY_FRACTION * free)

  def frame_split(self, padded_height: int, padded_width: int) -> int:
    """Over how many devices' heights a padded LR frame runs (``space``; 1 = each device
    runs whole items): with more than one device, no ``tile_size`` and a frame that does
    not fit one device's budget, the smallest divisor of the device count whose devices'
    budgets together hold it; 1 when none does (the frame is tiled instead)."""
    key = (padded_height, padded_width)
    if key not in self._splits:
      space = 1
      if self.tile_size is None and len(self.devices) > 1:
        pixels = self._pixels_per_device()
        if padded_height * padded_width > pixels:
          space = next((s for s in range(2, len(self.devices) + 1)
                        if len(self.devices) % s == 0
                        and padded_height * padded_width <= s * pixels), 1)
      self._splits[key] = space
    return self._splits[key]

  def tile_plan(self, padded_height: int, padded_width: int) -> List[tiling.Tile]:
    """Tiles for a padded LR frame: the given tile size, or the largest that fits the
    memory budget (a single tile when the whole frame fits one device, or several devices
    split over its height: ``frame_split``)."""
    key = (padded_height, padded_width)
    if key not in self._tile_plans:
      if self.tile_size is not None:
        side = max(self.multiple, self.tile_size // self.multiple * self.multiple)
        tile_h, tile_w = min(side, padded_height), min(side, padded_width)
      elif self.frame_split(padded_height, padded_width) > 1:
        tile_h, tile_w = padded_height, padded_width
      else:
        tile_h, tile_w = self._tile_from_budget(padded_height, padded_width)
      self._tile_plans[key] = tiling.plan_tiles(padded_height, padded_width, tile_h, tile_w,
                                                self.tile_overlap)
    return self._tile_plans[key]

  def _pixels_per_device(self) -> float:
    """LR pixels of one batch item a device's budget holds."""
    return self._budget() / (self.forward_bytes_per_lr_pixel() * self.per_device_batch)

  def _tile_from_budget(self, height: int, width: int) -> Tuple[int, int]:
    budget = self._budget()
    pixels = self._pixels_per_device()
    if height * width <= pixels:
      return height, width
    side = int(math.sqrt(pixels)) // self.multiple * self.multiple
    if side >= height:  # a full-height strip fits: widen it
      return height, int(pixels // height) // self.multiple * self.multiple
    if side <= 2 * self.tile_overlap:
      raise UserInputError(
          f"a memory budget of {budget / 2**30:.2f} GiB allows tiles of only {side} LR px, "
          f"too small for tile_overlap {self.tile_overlap}; raise memory_budget_gb, lower "
          "tile_overlap or batch_size", ("tile_overlap", "memory_budget_gb", "batch_size"))
    return side, side

  # ------------------------------------------------------------------------- forward
  def padded_frame_size(self, height: int, width: int) -> Tuple[int, int]:
    """The (H, W) a (flow-padded) LR frame of ``height x width`` is edge-padded to before
    tiling: the model's side multiple."""
    return padding.padded_size(height, width, self.multiple)

  def shard_batch(self, arrays):
    """``arrays`` (a sequence of (batch_size, ...) arrays) placed split over the devices'
    batch axis (ONNX engines, which run on the host, return them unchanged)."""
    return jax.device_put(arrays, self._batch_sharding)

  def forward_batch(self, inputs: Sequence[np.ndarray], names: Sequence[str],
                    space: int = 1) -> Dict[str, Any]:
    """One network call on a full batch: ``inputs`` = (im1, im2, flow_f, flow_b) stacked
    (batch_size / space, h, w, C) float32 -> {name: (batch_size / space, ...) float32
    array}, every item's height split over ``space`` devices (``frame_split``). The arrays
    may still be computing (JAX dispatches asynchronously); callers copy them with
    ``np.asarray`` when they need them, so the next batch can be sent first."""
    if space == 1:
      outputs = self._forward(self.variables, *self.shard_batch(list(inputs)))
    else:
      replicated, batch_sharding, split = engine_shardings(self.devices, space)
      # The same devices, replicated as before: equivalent shardings, no copy is made.
      variables = jax.device_put(self.variables, replicated)
      outputs = engine_forward(self.model_cfg, split)(
          variables, *jax.device_put(list(inputs), batch_sharding))
    return {name: outputs[name] for name in names}

  def _flows(self, first: np.ndarray, second: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Network-convention flows first->second and second->first, (B, H, W, 2) float32.

    Computed ``batch_size`` pairs at a time (both directions in one call, the last chunk
    filled by repetition), so a jit-compiled flow backend sees one batch shape per frame
    size however many pairs a call brings; coarse2fine's batch is split over the devices.
    """
    forward, backward = [], []
    for start in range(0, len(first), self.batch_size):
      index = list(range(start, min(start + self.batch_size, len(first))))
      kept = len(index)
      index += [index[-1]] * (self.batch_size - kept)
      sources = np.concatenate([first[index], second[index]])
      targets = np.concatenate([second[index], first[index]])
      if self.flow_backend == "coarse2fine":
        sources, targets = self.shard_batch((sources, targets))
      both = flow_lib.compute_flow(sources, targets, backend=self.flow_backend,
                                   **self.flow_params)
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
    flow_height, flow_width = padding.padded_size(height, width, 1, MIN_FLOW_INPUT_SIDE)
    first = padding.pad_bottom_right(first, flow_height, flow_width)
    second = padding.pad_bottom_right(second, flow_height, flow_width)
    flow_f, flow_b = self._flows(first, second)
    padded_h, padded_w = self.padded_frame_size(flow_height, flow_width)
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
    tiles = self.tile_plan(padded_h, padded_w)
    space = self.frame_split(padded_h, padded_w)
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
      outputs = self.forward_batch(inputs, names, space)
      if pending is not None:
        collect(*pending)
      pending = (chunk, outputs)
    collect(*pending)
    height, width = prepared.height, prepared.width
    convert = pixels.normalised_to_uint8 if as_uint8 else pixels.to_unit_range
    return [{name: convert(padding.crop_top_left(blender[name].result(), height * factors[name],
                                                 width * factors[name]))
             for name in names} for blender in blenders]


def load_engine(weights, *, scale=None, dtype="float32", flow_backend="coarse2fine",
                batch_size=None, tile_size=None, tile_overlap=DEFAULT_TILE_OVERLAP,
                memory_budget_gb=None) -> "PairEngine":
  """A PairEngine for a checkpoint directory or release .pth, with the CLIs' options
  (``memory_budget_gb`` None = the default budget; ``scale`` = expected model scale)."""
  model_cfg, variables = load_inference_weights(weights, scale)
  budget = None if memory_budget_gb is None else int(memory_budget_gb * 2**30)
  return PairEngine(model_cfg, variables, compute_dtype=dtype, flow_backend=flow_backend,
                    batch_size=batch_size, tile_size=tile_size, tile_overlap=tile_overlap,
                    memory_budget_bytes=budget)
