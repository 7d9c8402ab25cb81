"""The accelerator numbers of issue 9 in one command: training, inference and flow throughput.

    python -m benchmarks accelerator-suite --out gpu.json          # one H100/H200: <= 8 min
    python -m benchmarks accelerator-suite --smoke --out s.json    # tiny sizes, any CPU (CI)

(from the repository root: star_jax and starnet_torch are imported from there).

Measures, each with its compile time (or, for eager PyTorch, its first step) apart from the
timed steps, after one untimed warm-up, with ``block_until_ready`` / ``cuda.synchronize``:

(a) ``train``: one optimisation step of full-width V4_REF x4 (256/64/5) at LR 112x64 (HxW
    64x112), batch 10, the release's objective (STAR, L_r: pixel L1 of every output and
    stage + 0.1 flow MSE) and Adamax: star_jax (``star_jax.train.step.train_step``) in
    float32 and bfloat16 (``model.dtype``), and the PyTorch restatement
    (``starnet_torch/``) on the same device in float32 (as the release trains;
    PyTorch's default TF32 settings) and in ``torch.autocast`` bfloat16. Samples/s,
    XLA's FLOP count of the compiled step (``cost_analysis``, counted once), achieved
    TFLOP/s and MFU against ``star_jax.train.chip_peaks`` (the PyTorch rows use the same FLOP count: the
    same network and loss).
    Each star_jax row also records XLA's compiled peak memory per device
    (``compiled_stats``) and the allocator's measured high-water mark so far; the ``remat``
    part (run last) repeats the bfloat16 step with ``model.remat=blocks``.
(b) ``infer``: space-time inference 360p -> 1440p (LR 640x360 -> 2560x1440, 2x frame rate)
    through ``PairEngine`` and ``generate_output_frames`` (flows included, coarse2fine exact,
    prefetch thread on), float32 and bfloat16: output frames/s over a synthetic clip.
(c) ``flow``: coarse2fine pairs/s on a batch at 448x256 (WxH), exact and fast, and at 112x64,
    the size of the fixtures whose ``pyflow_time_s`` is pyflow's measured CPU time
    (tests/fixtures/flow, a 2-core machine): the speed-up over pyflow is measured there;
    at 448x256 the table compares pixel rates (Mpx/s), not a scaled pyflow time.

Random weights of the release architecture (the time does not depend on their values) and
synthetic inputs. ``--smoke`` runs every code path above at tiny sizes and widths (narrow
model, small frames, one timed step). Each section's failure (e.g. out of memory) is
recorded in the JSON and the table, and the next section still runs; the JSON is rewritten
after every section, so a run cut short keeps what it measured.

Needs only JAX, flax, optax, orbax-checkpoint, NumPy, Pillow, OpenCV and (for the PyTorch
rows) torch.
"""

import argparse
import dataclasses
import datetime
import functools
import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Dict, List, Optional

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent

# JAX would otherwise reserve 75 % of the GPU at start, leaving too little for the PyTorch
# rows that share the process; it then allocates as it goes.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # pylint: disable=wrong-import-position
import optax  # pylint: disable=wrong-import-position

from star_jax import flow as flow_lib  # pylint: disable=wrong-import-position
from star_jax.infer import EngineOptions, JaxNetwork, PairEngine, frame_schedule  # pylint: disable=wrong-import-position
from star_jax.model import COMPUTE_DTYPES, ModelConfig, build_model, sample_inputs  # pylint: disable=wrong-import-position
from star_jax.train import chip_peaks, compiled_stats, objectives, throughput  # pylint: disable=wrong-import-position
from star_jax.train import step as step_lib  # pylint: disable=wrong-import-position
from star_jax.train.state import create_state  # pylint: disable=wrong-import-position

from . import harness  # pylint: disable=wrong-import-position

FLOW_FIXTURES = ROOT / "tests" / "fixtures" / "flow" / "fixtures"
PYFLOW_SIZE = (64, 112)  # (H, W) of the fixtures with pyflow's measured times
DTYPES = COMPUTE_DTYPES


@dataclasses.dataclass(frozen=True)
class Sizes:
  """Everything a run's size depends on."""
  model: Dict[str, Any]         # ModelConfig fields over its defaults (V4_REF x4)
  train_lr: tuple               # (H, W)
  train_batch: int
  train_steps: int
  infer_lr: tuple               # (H, W)
  infer_frames: int             # input frames of the timed clip
  infer_batch: int              # pairs per step
  flow_size: tuple              # (H, W)
  flow_batch: int
  flow_steps: int


FULL = Sizes(model={}, train_lr=(64, 112), train_batch=10, train_steps=10,
             infer_lr=(360, 640), infer_frames=9, infer_batch=2,
             flow_size=(256, 448), flow_batch=16, flow_steps=3)
# Narrow widths, tiny frames (32 px: the flow UNet pools five times by 2, and PyTorch refuses
# a level of 0 px); flow_size equals PYFLOW_SIZE and infer_lr too, and
# flow_batch = 2 * infer_batch, so one flow compile serves the flow rows and inference.
SMOKE = Sizes(model=dict(base_filter=8, feat=8, n_resblock=1), train_lr=(32, 32),
              train_batch=2, train_steps=1, infer_lr=PYFLOW_SIZE, infer_frames=3,
              infer_batch=2, flow_size=PYFLOW_SIZE, flow_batch=4, flow_steps=1)


def mfu(flops_per_step: Optional[float], seconds_per_step: float, device_kind: str,
        dtype: str) -> Dict[str, Optional[float]]:
  """Achieved TFLOP/s of one device and model FLOP utilisation (fraction of the chip's dense
  peak in ``star_jax.train.chip_peaks``; None with the reason when the chip or the FLOP
  count is unknown)."""
  if not flops_per_step:
    return {"tflops": None, "mfu": None, "mfu_note": "no FLOP count"}
  achieved = throughput.achieved_flops_per_sec(flops_per_step, 1, 1.0 / seconds_per_step)
  peak = chip_peaks.peak_flops_per_chip(device_kind, dtype)
  if peak is None:
    return {"tflops": achieved / 1e12, "mfu": None,
            "mfu_note": f"unknown device kind {device_kind!r} (not in star_jax.train.chip_peaks)"}
  return {"tflops": achieved / 1e12, "mfu": throughput.model_flops_utilisation(achieved, peak, 1),
          "mfu_note": f"peak {peak / 1e12:g} TFLOP/s"}


def hlo_flops(stage) -> Optional[float]:
  """XLA's FLOP count of a ``jax.stages.Lowered`` or ``Compiled`` program (None if absent).

  The suite's MFU uses the *lowered* program's count: it is the same on every backend
  (within 1 % of XLA:CPU's compiled count), while XLA:GPU's compiled count leaves out the
  convolutions it hands to cuDNN (on an H200 it gave 0.17 TFLOP for a float32 step whose
  program holds 60 TFLOP)."""
  analysis = stage.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older JAX: one dict per computation
    analysis = analysis[0] if analysis else {}
  flops = (analysis or {}).get("flops")
  return float(flops) if flops else None


# ------------------------------------------------------------------------------ inputs
def synthetic_clip(count: int, height: int, width: int, seed: int = 0) -> List[np.ndarray]:
  """``count`` uint8 RGB frames: a smooth random texture panning 2 px right, 1 px down per
  frame (so the flow has real motion to find)."""
  rng = np.random.default_rng(seed)
  coarse = rng.random((height // 8 + count + 2, width // 8 + count + 2, 3))
  texture = np.kron(coarse, np.ones((8, 8, 1)))  # 8x8 blocks, then blurred
  kernel = np.ones(9) / 9
  for axis in (0, 1):
    texture = np.apply_along_axis(lambda line: np.convolve(line, kernel, "same"), axis,
                                  texture)
  return [np.round(255 * texture[i:i + height, 2 * i:2 * i + width]).astype(np.uint8)
          for i in range(count)]


# ------------------------------------------------------------------------------ sections
def device_peak_bytes(device) -> Optional[float]:
  """The device allocator's high-water mark since the process started
  (``memory_stats()['peak_bytes_in_use']``; None where the backend keeps no statistics, as
  on CPU). It only grows: a row's value is the largest of every section run before it."""
  stats = device.memory_stats() or {}
  return float(stats["peak_bytes_in_use"]) if "peak_bytes_in_use" in stats else None


@functools.lru_cache(maxsize=None)
def random_variables(cfg: ModelConfig) -> Dict[str, Any]:
  """The random initial variables of ``cfg``'s model (its init with key 0, as NumPy arrays on
  the host), made once per process: the rows share them (give them the config of
  ``sizes.model``: the variables do not depend on the compute dtype or the remat mode), since
  the release architecture's init takes as long as a smoke row's compile. A row copies them to
  its device (a train step donates its state)."""
  return jax.device_get(build_model(cfg).init(
      {"params": jax.random.key(0), "noise": jax.random.key(0)}, *sample_inputs()))


def jax_train_step(sizes: Sizes, dtype: str, remat: str = "none"):
  """(model config, model, optimiser, train step function) of the suite's training rows:
  the STAR objective, L_r loss and the release's Adamax, ``model.dtype=dtype``,
  ``model.remat=remat``."""
  cfg = ModelConfig(**sizes.model, dtype=dtype, remat=remat)
  model = build_model(cfg)
  tx = optax.adamax(1e-4, b1=0.9, b2=0.999, eps=1e-8)
  step_fn = functools.partial(step_lib.train_step, model=model, tx=tx, seed=0,
                              objective="STAR", loss_type="Lr", schedule=lambda _: 1e-4)
  return cfg, model, tx, step_fn


def train_step_flops(sizes: Sizes, dtype: str) -> Optional[float]:
  """:func:`hlo_flops` of the lowered train step, traced on abstract inputs (no device
  memory, nothing compiled): the FLOP count the PyTorch rows' MFU uses."""
  cfg, model, tx, step_fn = jax_train_step(sizes, dtype)
  state = jax.eval_shape(functools.partial(create_state, model, tx,
                                           sample_inputs=sample_inputs()), jax.random.key(0))
  batch = jax.eval_shape(lambda: harness.train_batch(sizes.train_batch, *sizes.train_lr,
                                             int(cfg["scale"])))
  return hlo_flops(jax.jit(step_fn).lower(state, batch))


def star_jax_train(sizes: Sizes, dtype: str, device, remat: str = "none") -> Dict[str, Any]:
  """Compile (timed apart), warm up, time ``sizes.train_steps`` steps of the real train step
  with ``model.remat=remat``. Also records XLA's compiled peak per device
  (``compiled_stats``) beside the allocator's measured high-water mark."""
  cfg, model, tx, step_fn = jax_train_step(sizes, dtype, remat)
  with jax.default_device(device):
    state = create_state(model, tx, jax.random.key(0), sample_inputs(),
                         initial_variables=jax.device_put(
                             random_variables(ModelConfig(**sizes.model)), device))
  batch = jax.device_put(
      harness.train_batch(sizes.train_batch, *sizes.train_lr, int(cfg["scale"])), device)

  def lower_and_compile():
    lowered = jax.jit(step_fn, donate_argnums=0).lower(state, batch)
    return lowered, lowered.compile()

  (lowered, compiled), compile_s, _ = harness.timed(lower_and_compile)
  flops = hlo_flops(lowered)
  compiled_peak = compiled_stats.compiled_step_stats(compiled)["peak_bytes"]
  holder = [state]

  def run_step():
    holder[0], metrics = compiled(holder[0], batch)
    return metrics["loss/total"]

  def finish(loss):
    loss = float(loss)  # blocks on the step (and the ones before it)
    if not np.isfinite(loss):
      raise FloatingPointError(f"star_jax {dtype} train loss is {loss}")

  finish(run_step())  # warm-up
  seconds = harness.back_to_back_seconds(run_step, sizes.train_steps, finish)
  return dict(compile_s=compile_s, step_s=seconds, flops_per_step=flops,
              samples_per_s=sizes.train_batch / seconds, remat=remat,
              compiled_peak_gib=compiled_peak / 2**30,
              device_peak_gib=(lambda b: b and b / 2**30)(device_peak_bytes(device)),
              **mfu(flops, seconds, device.device_kind, dtype))


def torch_train(sizes: Sizes, dtype: str, device_kind: str) -> Dict[str, Any]:
  """The PyTorch restatement's train step (same objective, Adamax) on CUDA if present; MFU
  from :func:`train_step_flops` (the same network and loss)."""
  flops = train_step_flops(sizes, dtype)
  import torch  # pylint: disable=import-outside-toplevel
  from starnet_torch import build_model as build_torch  # pylint: disable=import-outside-toplevel

  cfg = ModelConfig(**sizes.model)
  device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
  torch.manual_seed(0)
  model = build_torch(cfg["variant"], base_filter=int(cfg["base_filter"]),
                      feat=int(cfg["feat"]), n_resblock=int(cfg["n_resblock"]),
                      scale_factor=int(cfg["scale"])).to(device).train()
  optimizer = torch.optim.Adamax(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
  batch = {k: torch.from_numpy(np.ascontiguousarray(v.transpose(0, 3, 1, 2))).to(device)
           for k, v in harness.train_batch(sizes.train_batch, *sizes.train_lr,
                                           int(cfg["scale"])).items()}
  weights = objectives.objective_weights("STAR")
  names = ("ht", "h1", "h2", "l")

  def synchronize():
    if device.type == "cuda":
      torch.cuda.synchronize()

  def run_step():
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
      outputs = model(batch["im1"], batch["im2"], batch["flow_f"], batch["flow_b"], train=True)
    loss = 0.0
    for name, stages in zip(names, outputs[:4]):
      target = batch[objectives.TARGET_KEYS[name]]
      for stage_weight, output in zip(objectives.STAGE_WEIGHTS, stages):
        loss = loss + weights[name] * stage_weight * torch.mean(torch.abs(output.float() - target))
    flow_terms = [torch.mean((flow.float() - batch[key]) ** 2)
                  for flow, key in zip(outputs[4:], ("gt_flow_f", "gt_flow_b"))]
    if flow_terms:
      loss = loss + objectives.FLOW_WEIGHT * sum(flow_terms)
    loss.backward()
    optimizer.step()
    return loss.detach()

  def finish(loss):
    synchronize()
    value = float(loss)
    if not np.isfinite(value):
      raise FloatingPointError(f"PyTorch {dtype} train loss is {value}")

  # first step: cuDNN autotuning and allocator warm-up, reported apart
  _, first_s, _ = harness.timed(lambda: finish(run_step()))
  seconds = harness.back_to_back_seconds(run_step, sizes.train_steps, finish)
  del model, optimizer, batch
  if device.type == "cuda":
    torch.cuda.empty_cache()  # the inference rows plan tiles from the free memory
  settings = {"cudnn.allow_tf32": bool(torch.backends.cudnn.allow_tf32),
              "matmul.allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
              "device": str(device)}
  return dict(first_step_s=first_s, step_s=seconds, samples_per_s=sizes.train_batch / seconds,
              flops_per_step=flops, torch_settings=settings,
              **mfu(flops, seconds, device_kind if device.type == "cuda" else "cpu", dtype))


def inference(sizes: Sizes, dtype: str) -> Dict[str, Any]:
  """Space-time x4 inference of a synthetic clip: first (compiling) run on a 2-pair clip
  apart, then output frames/s of ``sizes.infer_frames`` input frames, flows included."""
  cfg = ModelConfig(**sizes.model)
  network = JaxNetwork(cfg, random_variables(cfg), dtype=dtype, devices=jax.local_devices()[:1])
  engine = PairEngine(network, options=EngineOptions(batch_size=sizes.infer_batch))
  clip = synthetic_clip(sizes.infer_frames, *sizes.infer_lr)

  def run(frames):
    count = 0
    for frame in frame_schedule.generate_output_frames(
        engine, frames, "space-time", 2, "synthetic clip", pairs_per_step=engine.batch_size):
      count += 1
      last = frame
    assert last.shape[:2] == (4 * sizes.infer_lr[0], 4 * sizes.infer_lr[1])
    return count

  # the first run compiles flow and forward at the clip's batch shape
  _, first_s, _ = harness.timed(lambda: run(clip[:engine.batch_size + 1]))
  frames_out, seconds, _ = harness.timed(lambda: run(clip))
  padded = engine.planner.padded_frame_size(*sizes.infer_lr)
  return dict(first_run_s=first_s, seconds=seconds, input_frames=len(clip),
              output_frames=frames_out, output_fps=frames_out / seconds,
              tiles_per_pair=len(engine.planner.tile_plan(*padded)), batch_size=engine.batch_size)


def flow_rate(size, batch: int, steps: int, mode: str, device) -> Dict[str, Any]:
  """coarse2fine pairs/s on a (batch, H, W, 3) batch of panning frames."""
  clip = synthetic_clip(batch + 1, *size)
  first = np.stack(clip[:-1]).astype(np.float32) / 255
  second = np.stack(clip[1:]).astype(np.float32) / 255
  first, second = jax.device_put((first, second), device)

  def run_step():
    return flow_lib.coarse2fine_flow(first, second, mode=mode).flow

  _, first_s, _ = harness.timed(lambda: jax.block_until_ready(run_step()))  # compiles
  seconds = harness.back_to_back_seconds(run_step, steps, jax.block_until_ready)
  return dict(first_call_s=first_s, batch_s=seconds, pairs_per_s=batch / seconds,
              mpx_per_s=batch * size[0] * size[1] / seconds / 1e6, size_hw=list(size),
              batch=batch)


def pyflow_reference() -> Dict[str, Any]:
  """pyflow's measured CPU time per pair on the fixtures at ``PYFLOW_SIZE`` (mean of every
  run of every fixture; each fixture records several runs)."""
  times = []
  for path in sorted(FLOW_FIXTURES.glob(f"*_{PYFLOW_SIZE[1]}x{PYFLOW_SIZE[0]}.npz")):
    with np.load(path, allow_pickle=False) as data:
      times.extend(np.ravel(data["pyflow_time_s"]).astype(float).tolist())
  if not times:
    raise FileNotFoundError(f"no pyflow fixtures at {PYFLOW_SIZE[1]}x{PYFLOW_SIZE[0]} in "
                            f"{FLOW_FIXTURES}")
  seconds = float(np.mean(times))
  return dict(fixture_runs=len(times), s_per_pair=seconds, pairs_per_s=1 / seconds,
              mpx_per_s=PYFLOW_SIZE[0] * PYFLOW_SIZE[1] / seconds / 1e6,
              machine="2-core CPU (tests/fixtures/flow/README.md)")


# ------------------------------------------------------------------------------ report
def environment(argv: List[str]) -> Dict[str, Any]:
  info = {"date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
          "command": "python -m benchmarks accelerator-suite " + " ".join(map(shlex.quote, argv)),
          "python": platform.python_version(), "machine": platform.machine(),
          "cpus": os.cpu_count(), "xla_flags": os.environ.get("XLA_FLAGS", ""),
          "jax": jax.__version__,
          "jaxlib": getattr(jax.lib, "__version__", "?"),
          "devices": [f"{d.platform}:{d.device_kind}" for d in jax.local_devices()]}
  for name in ("flax", "optax", "orbax.checkpoint", "numpy", "cv2", "torch"):
    try:
      module = __import__(name, fromlist=["__version__"])
      info[name] = getattr(module, "__version__", "?")
    except ImportError:
      info[name] = None
  try:
    import jax_plugins  # pylint: disable=import-outside-toplevel
    info["jax_plugins"] = sorted(getattr(jax_plugins, "__path__", []))
  except ImportError:
    pass
  try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                          "--format=csv,noheader"], capture_output=True, text=True,
                         timeout=30, check=True)
    info["nvidia_smi"] = smi.stdout.strip()
  except (OSError, subprocess.SubprocessError):
    info["nvidia_smi"] = None
  return info


def _fmt(value, digits=2, percent=False):
  if value is None:
    return "-"
  return f"{100 * value:.1f} %" if percent else f"{value:.{digits}f}"


def markdown(report: Dict[str, Any]) -> str:
  env = report["environment"]
  lines = [f"`{env['command']}` ({env['date_utc']}, {'smoke sizes' if report['smoke'] else 'full sizes'})",
           "",
           f"- device: {', '.join(env['devices'])}; nvidia-smi: {env['nvidia_smi'] or 'absent'}",
           f"- python {env['python']} ({env['machine']}, {env['cpus']} CPUs), jax {env['jax']}, "
           f"jaxlib {env['jaxlib']}, flax {env['flax']}, optax {env['optax']}, "
           f"orbax-checkpoint {env['orbax.checkpoint']}, numpy {env['numpy']}, "
           f"opencv {env['cv2']}, torch {env['torch']}",
           f"- {report['workload']}",
           "",
           "| part | what | dtype | compile / first s | steady | rate | TFLOP/s | MFU |",
           "|---|---|---|---|---|---|---|---|"]
  for row in report["rows"]:
    if "error" in row:
      lines.append(f"| {row['part']} | {row['what']} | {row.get('dtype') or '-'} | failed: "
                   f"{row['error'][:120]} | | | | |")
      continue
    lines.append(f"| {row['part']} | {row['what']} | {row.get('dtype') or '-'} | "
                 f"{_fmt(row.get('compile_s'))} | {row['steady']} | {row['rate']} | "
                 f"{_fmt(row.get('tflops'))} | {_fmt(row.get('mfu'), percent=True)} |")
  return "\n".join(lines)


def _row(part, what, dtype, result):
  """A table row from a section's result."""
  row = dict(part=part, what=what, dtype=dtype, **result)
  if part == "train":
    row["compile_s"] = result.get("compile_s", result.get("first_step_s"))
    row["steady"] = f"{result['step_s']:.4f} s/step"
    row["rate"] = f"{result['samples_per_s']:.2f} samples/s"
  elif part == "infer":
    row["compile_s"] = result["first_run_s"]
    row["steady"] = f"{result['seconds']:.2f} s / {result['output_frames']} frames"
    row["rate"] = f"{result['output_fps']:.3f} output frames/s"
  elif part == "flow":
    row["compile_s"] = result["first_call_s"]
    row["steady"] = f"{result['batch_s']:.4f} s / {result['batch']} pairs"
    row["rate"] = (f"{result['pairs_per_s']:.2f} pairs/s ({result['mpx_per_s']:.3f} Mpx/s; "
                   f"{result['vs_pyflow']})")
  return row


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--out", type=pathlib.Path, default=None,
                      help="JSON file for every measurement (rewritten after each section)")
  parser.add_argument("--smoke", action="store_true",
                      help="tiny sizes and widths, one timed step: every code path, on CPU")
  parser.add_argument("--parts", default="train,infer,flow,remat",
                      help="comma-separated subset of train,infer,flow,remat (remat: the "
                      "bfloat16 train step again with model.remat=blocks, run last)")
  parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows")
  parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                      help="measure each row in a fresh process (default: on GPU)")
  parser.add_argument("--job", type=int, default=None, help=argparse.SUPPRESS)
  parser.add_argument("--job-out", type=pathlib.Path, default=None, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  args.parts = [p for p in args.parts.split(",") if p]
  if not args.parts or set(args.parts) - {"train", "infer", "flow", "remat"}:
    parser.error("--parts must be a comma-separated subset of train,infer,flow,remat")
  return args


def main(argv=None, sizes: Optional[Sizes] = None) -> int:
  """Runs the suite; ``sizes`` replaces FULL / SMOKE (for checks of the full run's code
  paths at other sizes)."""
  argv = sys.argv[1:] if argv is None else argv
  args = parse_args(argv)
  sizes = sizes or (SMOKE if args.smoke else FULL)
  if args.smoke and "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    # Smoke numbers are not measurements; LLVM's optimisation dominates XLA:CPU compile
    # time of the train step. Read when the backend starts, i.e. below.
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_backend_optimization_level=0").strip()
  device = jax.local_devices()[0]
  if args.isolate is None:
    args.isolate = device.platform == "gpu" and args.job is None
  cfg = ModelConfig(**sizes.model)
  report = {"smoke": args.smoke, "sizes": dataclasses.asdict(sizes),
            "environment": environment(argv), "rows": [],
            "workload": (f"random weights of {cfg['variant']} x{cfg['scale']} "
                         f"({cfg['base_filter']}/{cfg['feat']}/{cfg['n_resblock']}), "
                         "synthetic inputs; train LR "
                         f"{sizes.train_lr[0]}x{sizes.train_lr[1]} (HxW) batch "
                         f"{sizes.train_batch}, {sizes.train_steps} timed steps after 1 "
                         f"warm-up; inference LR {sizes.infer_lr[1]}x{sizes.infer_lr[0]} -> "
                         f"{4 * sizes.infer_lr[1]}x{4 * sizes.infer_lr[0]} space-time, "
                         f"{sizes.infer_frames} input frames, batch {sizes.infer_batch}; flow "
                         f"{sizes.flow_size[1]}x{sizes.flow_size[0]} batch {sizes.flow_batch}")}
  started = time.perf_counter()
  jobs = suite_jobs(args, sizes, device, report)

  def record(index):
    part, what, dtype, compute = jobs[index]
    print(f"[{time.perf_counter() - started:7.1f} s] {part}: {what} {dtype or ''} ...",
          file=sys.stderr, flush=True)
    if args.isolate:
      row = run_isolated(argv, index, part, what, dtype)
    else:
      try:
        row = _row(part, what, dtype, compute())
      except Exception as error:  # pylint: disable=broad-except  (recorded, next section runs)
        traceback.print_exc()
        row = dict(part=part, what=what, dtype=dtype,
                   error=f"{type(error).__name__}: {error}".splitlines()[0])
    report["rows"].append(row)
    report["elapsed_s"] = time.perf_counter() - started
    if args.out:
      args.out.write_text(json.dumps(report, indent=1, default=str))

  if args.job is not None:  # a child of --isolate: one row, to --job-out
    part, what, dtype, compute = jobs[args.job]
    args.job_out.write_text(json.dumps(_row(part, what, dtype, compute()), default=str))
    return 0
  for index in range(len(jobs)):
    record(index)
  table = markdown(report)
  report["markdown"] = table
  if args.out:
    args.out.write_text(json.dumps(report, indent=1, default=str))
  print(table)
  print(f"\ntotal {time.perf_counter() - started:.1f} s", file=sys.stderr)
  return 1 if any("error" in row for row in report["rows"]) else 0


def suite_jobs(args, sizes: Sizes, device, report) -> List[tuple]:
  """The rows ``args`` asks for, in order, as (part, what, dtype, compute) with ``compute``
  returning the section's result dict."""
  jobs = []
  if "train" in args.parts:
    for dtype in DTYPES:
      jobs.append(("train", "star_jax", dtype,
                   functools.partial(star_jax_train, sizes, dtype, device)))
    if not args.no_torch:
      for dtype in DTYPES:
        jobs.append(("train", "PyTorch" + (" autocast" if dtype == "bfloat16" else ""), dtype,
                     functools.partial(torch_train, sizes, dtype, device.device_kind)))
  if "infer" in args.parts:
    for dtype in DTYPES:
      jobs.append(("infer", "space-time x4 (flows incl.)", dtype,
                   functools.partial(inference, sizes, dtype)))
  if "flow" in args.parts:
    pyflow = report["pyflow"] = pyflow_reference()
    for size in ([sizes.flow_size] + ([PYFLOW_SIZE] if sizes.flow_size != PYFLOW_SIZE else [])):
      for mode in ("exact", "fast"):
        def compute(size=size, mode=mode):
          result = flow_rate(size, sizes.flow_batch, sizes.flow_steps, mode, device)
          if tuple(size) == PYFLOW_SIZE:
            result["vs_pyflow"] = f"{result['pairs_per_s'] / pyflow['pairs_per_s']:.1f}x pyflow"
          else:
            result["vs_pyflow"] = (f"{result['mpx_per_s'] / pyflow['mpx_per_s']:.1f}x "
                                   "pyflow's Mpx/s at 112x64")
          return result
        jobs.append(("flow", f"coarse2fine {mode} {size[1]}x{size[0]}", None, compute))
  if "remat" in args.parts:
    jobs.append(("train", "star_jax remat=blocks", "bfloat16",
                 functools.partial(star_jax_train, sizes, "bfloat16", device, remat="blocks")))
  return jobs


def run_isolated(argv: List[str], index: int, part: str, what: str, dtype) -> Dict[str, Any]:
  """Row ``index`` measured in a fresh process (``--job``): each row then starts with an
  empty device, where JAX's allocator would otherwise keep the memory of every earlier row
  (PyTorch and later JAX rows ran out of memory that way on an H200)."""
  with tempfile.TemporaryDirectory() as tmp:
    out = pathlib.Path(tmp) / "row.json"
    # The package from this tree, whatever the working directory.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    child = subprocess.run([sys.executable, "-m", "benchmarks", "accelerator-suite", *argv,
                            "--job", str(index), "--job-out", str(out)], env=env, check=False)
    if child.returncode == 0 and out.exists():
      return json.loads(out.read_text())
  return dict(part=part, what=what, dtype=dtype,
              error=f"the row's process exited with status {child.returncode} (its output "
                    "is above)")
