"""The network a :class:`~star_jax.infer.engine.PairEngine` runs: what the engine asks of it,
and the JAX one.

A network takes batches of prepared frame pairs -- im1, im2 (ImageNet-normalised RGB) and
flow_f, flow_b (network-convention flows), each (B, H, W, 3 or 2) float32, H and W multiples
of its ``multiple`` -- and returns the model's outputs (ht, h1, h2 at ``scale x``, l at
``1 x``) in the same normalised space. Everything around that (flows, padding, tiling,
blending, batching) is the engine's. Two kinds exist:

* :class:`JaxNetwork` (here): a ``ModelConfig`` and its variables, jit-compiled at a compute
  dtype, its batches split over a device list (a ('batch', 'space') mesh; a frame too large
  for one device can run with its height split over ``space`` of them);
* ``star_jax.export.onnx_network.OnnxNetwork``: an ONNX export in onnxruntime, on the host,
  at the one LR size (``fixed_lr_size``) and batch it was exported for.

:class:`Network` lists what the engine and its planner (``star_jax.infer.planner``) use.
"""

import functools
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec

from star_jax.infer import memory, padding
from star_jax.infer.inference_weights import PathLike, load_inference_weights
from star_jax.model import ModelConfig, build_model

ALL_OUTPUT_NAMES = ("ht", "h1", "h2", "l")  # ht, h1, h2 at ``scale x`` the input; l at 1 x
# The traced liveness peak (``memory``) ignores convolution workspaces, layout copies and
# buffers XLA keeps alive longer than a sequential executor would. Measured on XLA:CPU for
# full-width V4_REF x4: resident memory grows by ~114 KB per LR pixel against a traced peak
# of ~39 KB, so plan with 3.5x the traced peak.
MEMORY_SAFETY_FACTOR = 3.5
_PROBE_LR_SIDE = 32


class Network(Protocol):
  """What a :class:`~star_jax.infer.engine.PairEngine` needs of its network.

  Attributes:
    model_cfg: the ``ModelConfig`` (its ``dtype`` the compute dtype), for reports.
    scale: the output scale of ht, h1 and h2.
    multiple: every LR side of an input must be a multiple of it
      (``padding.lr_side_multiple``).
    devices: where batches run (their count divides every batch); printable.
    fixed_lr_size: (H, W) of the only input size the network takes (an export), or None
      for any size; a network with None also answers :meth:`bytes_per_lr_pixel` and
      :meth:`free_memory_bytes`, which the planner asks to choose tiles.
  """

  model_cfg: ModelConfig
  scale: int
  multiple: int
  devices: List[Any]
  fixed_lr_size: Optional[Tuple[int, int]]

  def batch_size(self, requested: Optional[int]) -> int:
    """Items per network call for a requested batch size (None: the network's default);
    ``UserInputError`` naming ``batch_size`` when the network cannot run it."""

  def place(self, arrays: Sequence[Any]) -> Sequence[Any]:
    """``arrays`` ((batch_size, ...) each) where the network and the flow run."""

  def forward(self, inputs: Sequence[Any], names: Sequence[str],
              space: int = 1) -> Dict[str, Any]:
    """One call on a full batch: (im1, im2, flow_f, flow_b) -> {name: output batch}."""


def eval_forward(model_cfg: ModelConfig):
  """The eval-mode forward of a model config as a plain (not jitted) function
  ``forward(variables, im1, im2, flow_f, flow_b) -> {name: float32 array}`` for every name
  in ``ALL_OUTPUT_NAMES``; inputs as ``model.apply`` takes them (NHWC, ImageNet-normalised
  frames, network-convention flows). :class:`JaxNetwork` jits it; ``star_jax.export``
  exports it."""
  model = build_model(model_cfg)

  def forward(variables, im1, im2, flow_f, flow_b):
    outputs = model.apply(variables, im1, im2, flow_f, flow_b, train=False)
    return {name: outputs[name].astype(jnp.float32) for name in ALL_OUTPUT_NAMES}

  return forward


@functools.lru_cache(maxsize=8)
def engine_forward(model_cfg: ModelConfig, split: Optional[NamedSharding] = None):
  """The jitted eval forward a :class:`JaxNetwork` runs for ``model_cfg`` (its ``dtype`` is
  the compute dtype): one per model config and ``split`` (the cache key), shared by every
  network in the process (jit keeps the compiled executables per input shape, so a second
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


class JaxNetwork:
  """A STARnet model in JAX, its variables replicated over ``devices``.

  Args:
    model_cfg: the ``ModelConfig`` (as ``star_jax.weights.load_weights`` returns it); the
      network's ``model_cfg`` is it with ``dtype=dtype``.
    variables: its Flax variables.
    dtype: 'float32' or 'bfloat16' activations (``star_jax.model.COMPUTE_DTYPES``;
      parameters keep their dtype; outputs are float32).
    devices: devices to split batches over; default every local device.

  Raises:
    UserInputError: ``dtype`` is not a compute dtype (``ModelConfig``'s check).
  """

  fixed_lr_size = None  # any LR size (a multiple of ``multiple``)

  def __init__(self, model_cfg: ModelConfig, variables: Any, *, dtype: str = "float32",
               devices: Optional[Sequence[jax.Device]] = None):
    self.model_cfg = model_cfg.replace(dtype=dtype)
    self.scale = int(self.model_cfg.scale)
    self.multiple = padding.lr_side_multiple(self.model_cfg.variant, self.scale)
    self.devices = list(devices or jax.local_devices())
    replicated, self._batch_sharding, _ = engine_shardings(self.devices)
    self.variables = jax.device_put(variables, replicated)
    self._forward = engine_forward(self.model_cfg)
    self._bytes_per_pixel: Optional[float] = None

  @classmethod
  def from_weights(cls, weights: PathLike, *, scale: Optional[int] = None,
                   dtype: str = "float32",
                   devices: Optional[Sequence[jax.Device]] = None) -> "JaxNetwork":
    """The network of a checkpoint directory or release ``.pth``
    (``load_inference_weights``: ``UserInputError`` for weights that do not load or are
    not of ``scale``, when given)."""
    model_cfg, variables = load_inference_weights(weights, scale)
    return cls(model_cfg, variables, dtype=dtype, devices=devices)

  def batch_size(self, requested: Optional[int]) -> int:
    """``requested`` (default: one item per device) rounded up to a multiple of the device
    count."""
    per_device = max(1, -(-(requested or len(self.devices)) // len(self.devices)))
    return per_device * len(self.devices)

  def place(self, arrays: Sequence[Any]) -> Sequence[Any]:
    """``arrays`` placed split over the devices' batch axis."""
    return jax.device_put(arrays, self._batch_sharding)

  def forward(self, inputs: Sequence[Any], names: Sequence[str],
              space: int = 1) -> Dict[str, Any]:
    """One network call on a full batch: ``inputs`` = (im1, im2, flow_f, flow_b) stacked
    (batch / space, h, w, C) float32 -> {name: (batch / space, ...) float32 array}, every
    item's height split over ``space`` devices (the planner's ``frame_split``). The arrays
    may still be computing (JAX dispatches asynchronously); callers copy them with
    ``np.asarray`` when they need them, so the next batch can be sent first."""
    if space == 1:
      outputs = self._forward(self.variables, *self.place(list(inputs)))
    else:
      replicated, batch_sharding, split = engine_shardings(self.devices, space)
      # The same devices, replicated as before: equivalent shardings, no copy is made.
      variables = jax.device_put(self.variables, replicated)
      outputs = engine_forward(self.model_cfg, split)(
          variables, *jax.device_put(list(inputs), batch_sharding))
    return {name: outputs[name] for name in names}

  def bytes_per_lr_pixel(self) -> float:
    """Estimated activation bytes per LR pixel per batch item of one forward
    (``MEMORY_SAFETY_FACTOR`` x the traced peak, ``memory.traced_peak_bytes``; traced
    once, then cached)."""
    if self._bytes_per_pixel is None:
      side = _PROBE_LR_SIDE * self.multiple
      image = jax.ShapeDtypeStruct((1, side, side, 3), jnp.float32)
      flow = jax.ShapeDtypeStruct((1, side, side, 2), jnp.float32)
      peak = memory.traced_peak_bytes(self._forward, self.variables, image, image, flow, flow)
      self._bytes_per_pixel = MEMORY_SAFETY_FACTOR * peak / (side * side)
    return self._bytes_per_pixel

  def free_memory_bytes(self) -> int:
    """The free memory of the device with the least (``memory.available_memory_bytes``:
    the accelerator allocator's ``bytes_limit - bytes_in_use``, the host's available
    memory on CPU)."""
    return min(memory.available_memory_bytes(device) for device in self.devices)

