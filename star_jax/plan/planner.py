"""Compile the real train, eval and inference steps for a device set, ahead of time, and read
what the compiler says about them.

What is compiled is what training and inference build, from the same functions:
``trainer.build_program`` (model, optimiser, schedule, abstract state, parameter
shardings from ``config.param_sharding``), ``sharding.make_mesh`` (``config.mesh_shape``),
``trainer.jit_train_step`` (batch sharded on 'data', heights on 'space', state donated),
``evaluation.jit_eval_step`` and the inference engine's forward
(``infer.network.engine_forward`` on its ('batch', 'space') mesh, ``engine_shardings``, the
'space' size taken from ``config.mesh_shape``). Only the
inputs are abstract (``jax.ShapeDtypeStruct`` with their shardings): nothing is computed or
run, so the devices may be compile-only TPU devices (``star_jax.plan.topology``) on a CPU host.

Per step (:class:`StepPlan`): XLA's memory analysis (``compiled_stats``), FLOPs per chip, the
TPU compiler's own time estimate (``cost_analysis()['optimal_seconds']``: an estimate of one
step's device time, not a measurement), the collectives in the HLO
(``hlo_collectives``) and the compile time.
"""

import copy
import dataclasses
import logging
import re
import threading
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp

from star_jax import accelerators
from star_jax.data import pipeline, vimeo
from star_jax.errors import UserInputError
from star_jax.infer import padding
from star_jax.infer.network import engine_forward, engine_shardings
from star_jax.model import ModelConfig, abstract_variables, build_model
from star_jax.plan import hlo_collectives
from star_jax.train import chip_peaks, checkpoints, compiled_stats, config_checks, evaluation
from star_jax.train import config as config_lib
from star_jax.train import sharding, trainer

STEP_KINDS = ("train", "eval", "infer")
# Seconds between the "still compiling" lines of a compile (a full-width train step takes
# the TPU compiler 7-30 min here: benchmarks/results/plan.md).
HEARTBEAT_S = 60.0
# The done-events of compiles still running (``compiling``): a worker thread's is_alive()
# is not to be trusted after a join() that Ctrl-C interrupted (CPython 3.11/3.12).
_RUNNING = set()
_NOT_READ = "(not read when planning)"


@dataclasses.dataclass
class StepPlan:
  """What the compiler says about one step on one slice ("compiled, not run").

  Attributes:
    kind: 'train', 'eval' or 'infer'.
    device_kind, num_chips: the devices (``jax.Device.device_kind``) and how many.
    compute_dtype: 'float32' or 'bfloat16' (``model.dtype``); remat: ``model.remat``.
    global_batch, batch_per_chip: samples per step over the slice and per chip of the
      mesh's 'data' axis (a 'model' axis > 1 holds copies or FSDP shards of the same samples;
      a 'space' axis > 1 splits each of them over that many chips).
    frame_height, frame_width: the input frames' pixels (LR, or HR with ``data.hr_input``;
      for 'infer' the engine's padded frame).
    memory: ``compiled_stats.compiled_step_stats`` (bytes per chip and FLOPs per chip).
    hbm_bytes_per_chip: ``chip_peaks.hbm_bytes_per_chip`` (None for unlisted chips).
    peak_flops_per_chip: ``chip_peaks.peak_flops_per_chip`` for the compute dtype (None
      for unlisted chips).
    estimated_step_s: the TPU compiler's ``optimal_seconds`` (None where the backend gives
      none, e.g. XLA:CPU, or a negative one, as XLA:TPU does for v5e and v6e train steps).
    bytes_accessed_per_chip: the compiler's count of bytes its optimised program reads and
      writes per chip per step (``cost_analysis()['bytes accessed']``; None where absent).
    hbm_bandwidth_per_chip: ``chip_peaks.hbm_bandwidth_per_chip`` (bytes/s; None for
      unlisted chips).
    collectives: ``hlo_collectives.collective_stats``.
    compile_s: wall seconds of ``lower`` + ``compile``.
    model_flops_per_chip: ``model_flops_per_chip`` (None until set by ``plan_step``).
    mesh_axis_sizes: the mesh's (data, model, space) sizes (``sharding.mesh_axis_sizes``;
      set by ``plan_step``).
    optimizer_state_sharded: a train step whose optimiser state is split over them (ZeRO-1:
      ``config.shard_optimizer_state`` and more than one such chip; set by ``plan_step``).
    compile_error: XLA's message when it refused the program for lack of device memory
      (TPU: the compiler checks the chip's HBM itself); ``memory`` then holds only
      'peak_bytes', the bytes that message says are needed, and nothing else is known.
  """

  kind: str
  device_kind: str
  num_chips: int
  compute_dtype: str
  remat: str
  global_batch: int
  batch_per_chip: int
  frame_height: int
  frame_width: int
  memory: Dict[str, float]
  hbm_bytes_per_chip: Optional[float]
  peak_flops_per_chip: Optional[float]
  estimated_step_s: Optional[float]
  collectives: Dict[str, Dict[str, float]]
  compile_s: float
  model_flops_per_chip: Optional[float] = None
  compile_error: Optional[str] = None
  mesh_axis_sizes: Tuple[int, int, int] = (1, 1, 1)
  optimizer_state_sharded: bool = False
  bytes_accessed_per_chip: Optional[float] = None
  hbm_bandwidth_per_chip: Optional[float] = None

  @property
  def data_parallel_chips(self) -> int:
    """The mesh's data x space: the chips ZeRO-1 splits the optimiser state over."""
    data, _, space = self.mesh_axis_sizes
    return data * space

  @property
  def peak_bytes_per_chip(self) -> float:
    return self.memory["peak_bytes"]

  @property
  def flops_per_chip(self) -> Optional[float]:
    """The compiler's FLOP count of one step on one chip (None: XLA:GPU gives none)."""
    return self.memory["flops"]

  @property
  def fits(self) -> Optional[bool]:
    """Compiled, and peak memory <= HBM (None when the chip's HBM is unknown)."""
    if self.compile_error is not None:
      return False
    if self.hbm_bytes_per_chip is None:
      return None
    return self.peak_bytes_per_chip <= self.hbm_bytes_per_chip

  @property
  def shortfall_bytes(self) -> Optional[float]:
    """Bytes per chip beyond HBM (0 when it fits; None when HBM is unknown)."""
    if self.hbm_bytes_per_chip is None:
      return None
    return max(0.0, self.peak_bytes_per_chip - self.hbm_bytes_per_chip)

  @property
  def implied_mfu(self) -> Optional[float]:
    """Model FLOPs per chip / (estimated step time x peak FLOP/s per chip), a fraction."""
    if not self.estimated_step_s or not self.peak_flops_per_chip:
      return None
    flops = self.model_flops_per_chip or self.flops_per_chip
    return flops / (self.estimated_step_s * self.peak_flops_per_chip)

  @property
  def roofline_step_s(self) -> Optional[float]:
    """A lower bound of one step's device time, not an estimate: max(compiler FLOPs / peak
    FLOP/s, bytes accessed / HBM bandwidth), per chip, as if compute, memory traffic and
    collectives overlapped perfectly (the roofline model: Williams, Waterman and Patterson,
    CACM 2009). None when a term is unknown."""
    if None in (self.flops_per_chip, self.peak_flops_per_chip, self.bytes_accessed_per_chip,
                self.hbm_bandwidth_per_chip):
      return None
    return max(self.flops_per_chip / self.peak_flops_per_chip,
               self.bytes_accessed_per_chip / self.hbm_bandwidth_per_chip)

  @property
  def samples_per_s(self) -> Optional[float]:
    """Samples (frame pairs) per second over the slice at the estimated step time."""
    if not self.estimated_step_s:
      return None
    return self.global_batch / self.estimated_step_s


def _time_costs(compiled) -> Dict[str, Optional[float]]:
  """The compiler's ``optimal_seconds`` (None unless positive) and ``bytes accessed`` (None
  when absent) of one step per chip, as StepPlan fields."""
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else None
  cost = cost or {}
  seconds = cost.get("optimal_seconds")
  if not seconds or seconds <= 0:
    logging.info("no step-time estimate: cost_analysis() optimal_seconds = %r", seconds)
    seconds = None
  moved = cost.get("bytes accessed")
  return {"estimated_step_s": None if seconds is None else float(seconds),
          "bytes_accessed_per_chip": float(moved) if moved and moved > 0 else None}


def _compile_waiting(kind: str, jitted, args: Sequence[Any], started: Callable[[], None],
                     heartbeat: Callable[[float], None], interval_s: float):
  """``jitted.lower(*args).compile()`` on a worker thread while this thread waits on an
  event, calling ``started()`` once the worker runs and ``heartbeat(seconds since the
  start)`` every ``interval_s``. A compile cannot be stopped, but the wait can: Ctrl-C raises KeyboardInterrupt("the <kind> step's compile
  was abandoned after N s") here at once, and the compile is left to the process's exit
  (:func:`compiling` says it still runs). The compile's own exception is raised here."""
  outcome = {}
  done = threading.Event()

  def work():
    try:
      outcome["compiled"] = jitted.lower(*args).compile()
    except BaseException as error:  # pylint: disable=broad-except (raised on the waiting thread)
      outcome["error"] = error
    finally:
      _RUNNING.discard(done)
      done.set()

  start = time.perf_counter()
  _RUNNING.add(done)
  threading.Thread(target=work, name=f"star_jax-plan-{kind}", daemon=True).start()
  try:
    started()
    while not done.wait(interval_s):
      heartbeat(time.perf_counter() - start)
  except KeyboardInterrupt:
    raise KeyboardInterrupt(f"the {kind} step's compile was abandoned after "
                            f"{time.perf_counter() - start:.0f} s") from None
  if "error" in outcome:
    raise outcome["error"]
  return outcome["compiled"]


def still_compiling(label: str, seconds: float) -> str:
  """The progress line of a heartbeat: '<label>: still compiling, <minutes> min so far'."""
  return f"{label}: still compiling, {seconds / 60:.0f} min so far"


def compiling() -> bool:
  """Whether a compile that :func:`_compile_waiting` started still runs (True while it waits
  too, and after Ctrl-C ended its wait, until the compile ends)."""
  return bool(_RUNNING)


def compile_step(kind: str, jitted, args: Sequence[Any], devices: Sequence[Any], *,
                 compute_dtype: str, remat: str, global_batch: int, batch_per_chip: int,
                 frame: Tuple[int, int], log_path: Optional[str] = None,
                 started: Callable[[], None] = lambda: None,
                 heartbeat: Callable[[float], None] = lambda seconds: None,
                 heartbeat_s: float = HEARTBEAT_S) -> StepPlan:
  """Lowers and compiles ``jitted`` for ``args`` (abstract, with shardings) and reads the
  compiler's analysis into a :class:`StepPlan`. The compiler's native output goes to
  ``log_path`` (``accelerators.native_output_to``). ``started()`` is called as lowering and
  compiling begin, then ``heartbeat(seconds so far)`` every ``heartbeat_s``; from then on
  Ctrl-C stops the wait at once (:func:`_compile_waiting`).

  Raises:
    ValueError: the backend gives no memory analysis.
    KeyboardInterrupt: Ctrl-C (its message says the compile was abandoned).
    Exception: the compiler's own error when it refuses the program for another reason than
      device memory (a refusal for memory is a StepPlan with ``compile_error``).
  """
  start = time.perf_counter()
  device_kind = devices[0].device_kind
  common = dict(kind=kind, device_kind=device_kind, num_chips=len(devices),
                compute_dtype=compute_dtype, remat=remat, global_batch=global_batch,
                batch_per_chip=batch_per_chip, frame_height=frame[0], frame_width=frame[1],
                hbm_bytes_per_chip=chip_peaks.hbm_bytes_per_chip(device_kind),
                hbm_bandwidth_per_chip=chip_peaks.hbm_bandwidth_per_chip(device_kind),
                peak_flops_per_chip=chip_peaks.peak_flops_per_chip(device_kind, compute_dtype))
  try:
    with accelerators.native_output_to(log_path):
      compiled = _compile_waiting(kind, jitted, args, started, heartbeat, heartbeat_s)
  except Exception as error:  # pylint: disable=broad-except (XLA's errors have one type)
    required = out_of_memory_bytes(str(error))
    if required is None:
      raise
    return StepPlan(**common, memory={"flops": None, "argument_bytes": None,
                                      "output_bytes": None, "temp_bytes": None,
                                      "alias_bytes": None, "peak_bytes": required},
                    estimated_step_s=None, collectives={}, compile_s=time.perf_counter() - start,
                    compile_error=str(error).splitlines()[0])
  return StepPlan(
      **common, memory=compiled_stats.compiled_step_stats(compiled, require_flops=False),
      **_time_costs(compiled),
      collectives=hlo_collectives.collective_stats(compiled.as_text()),
      compile_s=time.perf_counter() - start)


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
# XLA:TPU refuses a program that does not fit, e.g. "RESOURCE_EXHAUSTED: Ran out of memory on
# HBM, the total memory required for HLO temporaries (48.00G) exceeds available HBM (15.75G)"
# or "... Used 20.51G of 15.75G hbm. Exceeded hbm capacity by 4.76G."
_REQUIRED = (re.compile(r"required[^(]*\(([0-9.]+)([KMGT]?)i?B?\)"),
             re.compile(r"Used ([0-9.]+)([KMGT]?)i?B? of"))


def out_of_memory_bytes(message: str) -> Optional[float]:
  """The bytes per chip XLA said a program needs when it refused to compile it for lack of
  device memory (``RESOURCE_EXHAUSTED`` ... memory), or None for any other error. For the
  "HLO temporaries" form this counts the temporaries only (a lower bound of the peak)."""
  if "RESOURCE_EXHAUSTED" not in message or "memory" not in message.lower():
    return None
  for pattern in _REQUIRED:
    match = pattern.search(message)
    if match:
      return float(match.group(1)) * _UNITS[match.group(2)]
  return None


def compute_dtype(config) -> str:
  return "bfloat16" if config.model.dtype == "bfloat16" else "float32"


def train_frame_size(config) -> Tuple[int, int]:
  """(H, W) of the training batch's input frames: ``data.patch_size`` squared, or the
  dataset's whole frame when it is 0 (Vimeo-90K: 256x448 HR, so LR 64x112 at x4; the HR
  frame itself with ``data.hr_input``)."""
  if config.data.patch_size:
    return config.data.patch_size, config.data.patch_size
  if config.data.hr_input:
    return vimeo.FRAME_HEIGHT, vimeo.FRAME_WIDTH
  scale = int(config.model.scale)
  return vimeo.FRAME_HEIGHT // scale, vimeo.FRAME_WIDTH // scale


def _num_processes(devices) -> int:
  return len({getattr(device, "process_index", 0) for device in devices})


def check_config(config, devices, kinds: Sequence[str] = ("train", "eval")) -> None:
  """``config_checks.validate`` for ``devices`` (the slice's hosts as processes); the data
  fields a plan does not read (``data.dir``) are not required, nor is the batch size of a
  step not in ``kinds``.

  Raises ValueError: as ``validate``; the perceptual loss (``loss='Lf'``), whose VGG19
  weights the plan does not load.
  """
  checked = copy.deepcopy(config)
  processes = _num_processes(devices)
  with checked.unlocked():
    if not checked.data.dir:
      checked.data.dir = _NOT_READ
    if checked.loss == "Lf" and not checked.vgg19_weights:
      checked.vgg19_weights = _NOT_READ
    if not {"train", "eval"} <= set(kinds):
      # The batch size of a step not planned: one sample per process and data-parallel group.
      unplanned_batch = processes * sharding.mesh_axis_sizes(checked.mesh_shape, len(devices))[0]
      if "train" not in kinds:
        checked.batch_size = unplanned_batch
      if "eval" not in kinds:
        checked.eval_batch_size = unplanned_batch
  config_checks.validate(checked, num_devices=len(devices), num_processes=processes)
  if config.loss == "Lf":
    raise UserInputError("loss='Lf' cannot be planned yet (the VGG19 perceptual features are not "
                         "built without their weights); plan with loss='Lr'")


def _abstract_batch(shapes: Dict[str, tuple], mesh) -> Dict[str, Any]:
  return {key: jax.ShapeDtypeStruct(shape, jnp.float32,
                                    sharding=sharding.batch_sharding(mesh, shape))
          for key, shape in shapes.items()}


@dataclasses.dataclass
class _Call:
  """A jitted step, its abstract arguments, the input frame size, the batch and the size of
  the 'space' axis each sample's height is split over."""
  jitted: Any
  args: Tuple[Any, ...]
  frame: Tuple[int, int]
  global_batch: int
  batch_per_chip: int
  space: int


def _train_or_eval_call(kind: str, config, devices) -> _Call:
  mesh = sharding.make_mesh(config.mesh_shape, devices)
  steps_per_epoch = max(1, vimeo.TRIPLET_TRAIN_CLIPS // config.batch_size)
  program = trainer.build_program(config, mesh, steps_per_epoch)
  state = checkpoints.abstract_with_shardings(program.abstract_state, program.state_shardings)
  if kind == "train":
    jitted = trainer.jit_train_step(config, program.model, program.tx, program.schedule, mesh,
                                    program.state_shardings)
    batch_size, frame = config.batch_size, train_frame_size(config)
  else:
    jitted = evaluation.jit_eval_step(program.model, int(config.model.scale), mesh,
                                      program.state_shardings)
    batch_size = config.eval_batch_size
    frame = train_frame_size(config_lib.with_fields(config, **{"data.patch_size": 0}))
  batch = _abstract_batch(
      pipeline.batch_shapes(batch_size, *frame, int(config.model.scale), config.data.hr_input),
      mesh)
  return _Call(jitted, (state, batch), frame, batch_size, batch_size // mesh.shape["data"],
               mesh.shape["space"])


def _infer_call(config, devices, width: int, height: int) -> _Call:
  # The engine's ('batch', 'space') mesh: the config mesh's 'space' size, every other device
  # on 'batch' (inference replicates the variables: no 'model' axis).
  space = sharding.mesh_axis_sizes(config.mesh_shape, len(devices))[2]
  model_cfg = ModelConfig.from_mapping(config.model)
  replicated, batch_sharding, split = engine_shardings(devices, space)
  forward = engine_forward(model_cfg, split if space > 1 else None)
  variables = jax.tree_util.tree_map(
      lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=replicated),
      abstract_variables(model_cfg))
  frame = padding.network_input_size(
      height, width, padding.lr_side_multiple(model_cfg.variant, int(model_cfg.scale)))
  batch = len(devices) // space
  frames = jax.ShapeDtypeStruct((batch, *frame, 3), jnp.float32, sharding=batch_sharding)
  flows = jax.ShapeDtypeStruct((batch, *frame, 2), jnp.float32, sharding=batch_sharding)
  return _Call(forward, (variables, frames, frames, flows, flows), frame, batch, 1, space)


def _call(kind: str, config, devices, infer_size) -> _Call:
  if kind == "infer":
    return _infer_call(config, devices, *infer_size)
  return _train_or_eval_call(kind, config, devices)


def model_flops_per_chip(kind: str, config, batch_per_chip: int, infer_size=None) -> float:
  """FLOPs of the samples one chip of the 'data' axis holds (:func:`plan_step` divides them
  by a 'space' axis), counted as XLA:CPU counts them: the step for
  one sample group of ``batch_per_chip`` on one host CPU device (mesh (1, 1)), lowered but
  not optimised, through ``Lowered.cost_analysis()`` (a multiply-add is 2 FLOPs; taps on
  convolution padding are not counted). Cheap: nothing is compiled. This is the count MFU is
  quoted against; the TPU compiler's own ``flops`` counts its k x k convolutions higher
  (about 1.5x for 3x3, measured; 1x1 convolutions and matmuls alike)."""
  local = config_lib.with_fields(config, batch_size=batch_per_chip, eval_batch_size=batch_per_chip,
                      mesh_shape=(1, 1))
  call = _call(kind, local, jax.devices("cpu")[:1], infer_size)
  cost = call.jitted.lower(*call.args).cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else None
  if not cost or "flops" not in cost:
    raise ValueError(f"XLA:CPU returned no FLOP count for the {kind} step")
  return float(cost["flops"])


def plan_step(kind: str, config, devices, infer_size: Optional[Tuple[int, int]] = None,
              log_path: Optional[str] = None, model_flops: bool = True,
              started: Callable[[], None] = lambda: None,
              heartbeat: Callable[[float], None] = lambda seconds: None) -> StepPlan:
  """One step of ``config`` compiled for ``devices`` ('train': global batch
  ``config.batch_size`` of ``data.patch_size`` crops or whole frames; 'eval': whole frames,
  ``config.eval_batch_size``; 'infer': the engine's forward on one ``infer_size`` = (LR
  width, height) frame pair per chip, or per ``space`` chips when ``config.mesh_shape`` has
  a 'space' axis, each frame's height split over them), with :func:`model_flops_per_chip` unless
  ``model_flops`` is False; ``started`` and ``heartbeat`` as :func:`compile_step`'s."""
  call = _call(kind, config, devices, infer_size)
  step = compile_step(kind, call.jitted, call.args, devices,
                      compute_dtype=compute_dtype(config), remat=config.model.remat,
                      global_batch=call.global_batch, batch_per_chip=call.batch_per_chip,
                      frame=call.frame, log_path=log_path, started=started,
                      heartbeat=heartbeat)
  step.mesh_axis_sizes = sharding.mesh_axis_sizes(config.mesh_shape, len(devices))
  step.optimizer_state_sharded = (kind == "train" and bool(config.shard_optimizer_state)
                                  and step.data_parallel_chips > 1)
  if model_flops:
    # A 'space' axis splits each sample's work over its chips (heights; halos aside).
    step.model_flops_per_chip = model_flops_per_chip(kind, config, call.batch_per_chip,
                                                     infer_size) / call.space
  return step


def check_kinds(kinds: Sequence[str], infer_size: Optional[Tuple[int, int]]) -> None:
  """UserInputError (its parameters 'kinds' and 'infer_size', which a command line says as
  its options) for a kind not in :data:`STEP_KINDS`, or 'infer' without ``infer_size``."""
  unknown = [kind for kind in kinds if kind not in STEP_KINDS]
  if unknown:
    raise UserInputError(f"kinds {','.join(unknown)}: not a step (train, eval; infer comes "
                         "with infer_size)", parameters=("kinds", "infer_size"))
  if "infer" in kinds and infer_size is None:
    raise UserInputError("kinds infer needs infer_size=WIDTHxHEIGHT (LR pixels)",
                         parameters=("kinds", "infer_size"))


def plan(config, devices, kinds: Sequence[str] = ("train", "eval"),
         infer_size: Optional[Tuple[int, int]] = None,
         log_path: Optional[str] = None,
         progress: Callable[[str], None] = lambda line: None) -> Dict[str, StepPlan]:
  """{kind: StepPlan} for every kind in ``kinds`` (once each; 'train', 'eval'; 'infer' needs
  ``infer_size`` = LR (width, height)), after :func:`check_plan`. ``progress`` gets a line
  as each step starts compiling, one every :data:`HEARTBEAT_S` while it compiles and one when
  it is done (a full-width train step took the TPU compiler 7-30 min on 2 idle CPU cores, up
  to 75 beside other work: benchmarks/results/plan.md).

  Raises:
    ValueError: an impossible config for these devices (``check_config``), an unknown kind
      or 'infer' without ``infer_size`` (:func:`check_kinds`).
  """
  check_plan(config, devices, kinds, infer_size)
  plans = {}
  for kind in dict.fromkeys(kinds):
    step = plans[kind] = plan_step(
        kind, config, devices, infer_size, log_path,
        started=lambda kind=kind: progress(f"{kind}: compiling ..."),
        heartbeat=lambda seconds, kind=kind: progress(still_compiling(kind, seconds)))
    if step.compile_error is None:
      progress(f"{kind}: compiled in {step.compile_s:.0f} s, peak "
               f"{step.peak_bytes_per_chip / 2**30:.2f} GiB per chip")
    else:
      progress(f"{kind}: refused after {step.compile_s:.0f} s: out of device memory")
  return plans


def check_plan(config, devices, kinds: Sequence[str],
               infer_size: Optional[Tuple[int, int]] = None) -> None:
  """:func:`check_kinds`, then :func:`check_config` (only the model's fields and the mesh
  shape when planning inference alone: the batch fields are training's). Raises
  UserInputError; compiles nothing."""
  check_kinds(kinds, infer_size)
  if {"train", "eval"} & set(kinds):
    check_config(config, devices, kinds)
  else:
    build_model(ModelConfig.from_mapping(config.model))
    sharding.mesh_axis_sizes(config.mesh_shape, len(devices))


