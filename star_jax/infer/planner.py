"""How a :class:`~star_jax.infer.engine.PairEngine` cuts its work: the engine's options, and
the plan they give for a network and a frame size.

For a frame of a given LR size, :class:`Planner` says

* the size it is edge-padded to (:meth:`Planner.padded_frame_size`: the flow's minimum and
  the network's side multiple, ``padding``; at least a fixed-size network's LR size);
* over how many devices' heights it runs whole (:meth:`Planner.frame_split`): 1, or, when it
  does not fit one device's memory budget but fits ``space`` devices' (the smallest such
  divisor of the device count), ``space``: XLA exchanges the rows each convolution needs,
  so the result equals the untiled one up to float summation order, without seams;
* the tiles it is cut into (:meth:`Planner.tile_plan`, ``tiling``): the whole frame when it
  fits (one device, or ``space`` of them), else equal overlapping tiles of ``tile_size``, of
  a fixed-size network's LR size, or the largest that fit the budget.

The memory budget is per device and per forward: ``memory_budget_gb``, or a fraction of the
free memory (``DEFAULT_MEMORY_FRACTION``); what a forward needs is the network's estimate of
its bytes per LR pixel times the pixels of the items one device holds.
"""

import dataclasses
import math
from typing import Dict, List, Optional, Tuple

from star_jax.errors import UserInputError
from star_jax.infer import padding, tiling
from star_jax.infer.network import Network

DEFAULT_TILE_OVERLAP = 16
# Fraction of the free memory a forward may plan to use by default.
DEFAULT_MEMORY_FRACTION = 0.6


@dataclasses.dataclass(frozen=True)
class EngineOptions:
  """The options of a :class:`~star_jax.infer.engine.PairEngine`: how it cuts its work into
  tiles and batches (:class:`Planner`), checked on construction.

  Attributes:
    tile_size: LR tile side in pixels; None: no tiling if the whole frame fits the memory
      budget, else the frame split over the height of the fewest devices whose budgets it
      fits (:meth:`Planner.frame_split`), else the largest tiles that fit. Not for a network
      of fixed LR size (its tiles are that size).
    tile_overlap: LR pixels shared by neighbouring tiles (blended); >= 0, smaller than
      ``tile_size``.
    batch_size: (pair, tile) items per step over all devices, >= 1; None: the network's
      default (one per device; an export's own batch). The network may round it
      (``JaxNetwork``: up to a multiple of its device count).
    memory_budget_gb: GiB one forward may use per device, > 0; None:
      ``DEFAULT_MEMORY_FRACTION`` of the free memory of the device with the least. Not for a
      network of fixed LR size.

  Raises:
    UserInputError: a value out of range, naming its field.
  """

  tile_size: Optional[int] = None
  tile_overlap: int = DEFAULT_TILE_OVERLAP
  batch_size: Optional[int] = None
  memory_budget_gb: Optional[float] = None

  def __post_init__(self):
    if self.tile_size is not None and self.tile_size <= self.tile_overlap:
      raise UserInputError(
          f"tile_size {self.tile_size} must be larger than tile_overlap {self.tile_overlap}",
          ("tile_size", "tile_overlap"))
    if self.tile_overlap < 0:
      raise UserInputError(f"tile_overlap must be >= 0, got {self.tile_overlap}",
                           ("tile_overlap",))
    if self.batch_size is not None and self.batch_size < 1:
      raise UserInputError(f"batch_size must be >= 1, got {self.batch_size}", ("batch_size",))
    if self.memory_budget_gb is not None and not self.memory_budget_gb > 0:
      raise UserInputError(f"memory_budget_gb must be > 0, got {self.memory_budget_gb}",
                           ("memory_budget_gb",))


class Planner:
  """The batch, padding, frame split and tiles of ``network`` under ``options`` (module
  docstring); plans are made once per padded frame size, then cached.

  Attributes:
    batch_size: items per step over all devices (``network.batch_size(options.batch_size)``).
    per_device_batch: ``batch_size`` / the device count.

  Raises:
    UserInputError: a batch size the network cannot run; for a network of fixed LR size, a
      ``tile_size`` or ``memory_budget_gb`` (it uses neither) or a ``tile_overlap`` not
      smaller than both its sides.
  """

  def __init__(self, network: Network, options: EngineOptions):
    self.network = network
    self.options = options
    self.batch_size = network.batch_size(options.batch_size)
    self.per_device_batch = self.batch_size // len(network.devices)
    fixed = network.fixed_lr_size
    if fixed is not None:
      for name in ("tile_size", "memory_budget_gb"):
        if getattr(options, name) is not None:
          raise UserInputError(f"{name} does not apply to a network of fixed LR size "
                               f"{fixed[0]}x{fixed[1]}: its tiles are that size", (name,))
      if options.tile_overlap >= min(fixed):
        raise UserInputError(f"tile_overlap {options.tile_overlap} must be smaller than the "
                             f"network's fixed LR size {fixed[0]}x{fixed[1]}",
                             ("tile_overlap",))
    self._splits: Dict[Tuple[int, int], int] = {}
    self._tile_plans: Dict[Tuple[int, int], List[tiling.Tile]] = {}

  def padded_frame_size(self, height: int, width: int) -> Tuple[int, int]:
    """The (H, W) an LR frame of ``height x width`` is edge-padded to before tiling
    (``padding.network_input_size``), at least the network's fixed LR size."""
    padded_h, padded_w = padding.network_input_size(height, width, self.network.multiple)
    fixed_h, fixed_w = self.network.fixed_lr_size or (padded_h, padded_w)
    return max(padded_h, fixed_h), max(padded_w, fixed_w)

  def frame_split(self, padded_height: int, padded_width: int) -> int:
    """Over how many devices' heights a padded LR frame runs (``space``; 1 = each device
    runs whole items): with more than one device, no ``tile_size``, a network of any LR
    size and a frame that does not fit one device's budget, the smallest divisor of the
    device count whose devices' budgets together hold it; 1 when none does (the frame is
    tiled instead)."""
    key = (padded_height, padded_width)
    if key not in self._splits:
      space, devices = 1, len(self.network.devices)
      if (self.options.tile_size is None and self.network.fixed_lr_size is None
          and devices > 1):
        pixels = self._pixels_per_device()
        if padded_height * padded_width > pixels:
          space = next((s for s in range(2, devices + 1)
                        if devices % s == 0 and padded_height * padded_width <= s * pixels), 1)
      self._splits[key] = space
    return self._splits[key]

  def tile_plan(self, padded_height: int, padded_width: int) -> List[tiling.Tile]:
    """Tiles for a padded LR frame: the network's fixed LR size, ``tile_size`` (down to the
    network's multiple), or the largest that fits the memory budget (a single tile when
    the whole frame fits one device, or several devices split over its height:
    :meth:`frame_split`).

    Raises:
      UserInputError: the budget allows no tile larger than twice ``tile_overlap``.
    """
    key = (padded_height, padded_width)
    if key not in self._tile_plans:
      multiple = self.network.multiple
      if self.network.fixed_lr_size is not None:
        tile_h, tile_w = self.network.fixed_lr_size
      elif self.options.tile_size is not None:
        tile_h = tile_w = max(multiple, self.options.tile_size // multiple * multiple)
      elif self.frame_split(padded_height, padded_width) > 1:
        tile_h, tile_w = padded_height, padded_width
      else:
        tile_h, tile_w = self._tile_from_budget(padded_height, padded_width)
      self._tile_plans[key] = tiling.plan_tiles(padded_height, padded_width, tile_h, tile_w,
                                                self.options.tile_overlap)
    return self._tile_plans[key]

  def _budget(self) -> int:
    if self.options.memory_budget_gb is not None:
      return int(self.options.memory_budget_gb * 2**30)
    return int(DEFAULT_MEMORY_FRACTION * self.network.free_memory_bytes())

  def _pixels_per_device(self) -> float:
    """LR pixels of one batch item a device's budget holds."""
    return self._budget() / (self.network.bytes_per_lr_pixel() * self.per_device_batch)

  def _tile_from_budget(self, height: int, width: int) -> Tuple[int, int]:
    multiple, overlap = self.network.multiple, self.options.tile_overlap
    pixels = self._pixels_per_device()
    if height * width <= pixels:
      return height, width
    side = int(math.sqrt(pixels)) // multiple * multiple
    if side >= height:  # a full-height strip fits: widen it
      return height, int(pixels // height) // multiple * multiple
    if side <= 2 * overlap:
      raise UserInputError(
          f"a memory budget of {self._budget() / 2**30:.2f} GiB allows tiles of only {side} "
          f"LR px, too small for tile_overlap {overlap}; raise memory_budget_gb, lower "
          "tile_overlap or batch_size", ("tile_overlap", "memory_budget_gb", "batch_size"))
    return side, side
