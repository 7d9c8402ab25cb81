"""A plan as JSON and as the console table, and what would make a step fit.

Every number here comes from the compiler (``star_jax.plan.planner``): compiled, not run.
JSON layout (:func:`plan_json`)::

  {"compiled_not_run": true, "topology": {...}, "config": {...}, "versions": {...},
   "units": {...}, "train": STEP, "eval": STEP, "infer": STEP, ["infer_size": {...}],
   ["sweep": [...]]}

``units`` gives each STEP number's unit (:data:`UNITS`); ``infer_size`` the LR frame size
asked for (``{"width", "height"}`` pixels; the infer STEP's frame is the network's padded one).

with, per STEP (:func:`step_json`): ``kind``, ``compute_dtype``, ``remat``,
``global_batch``, ``batch_per_chip``, ``mesh_axis_sizes`` (the resolved (data, model,
space) sizes of the config's ``mesh_shape``; the inference engine runs on (chips / space,
space)), ``frame_height``, ``frame_width`` (pixels of the input
frames), ``peak_bytes_per_chip`` (arguments + outputs + temporaries - donated, XLA's
buffer assignment), ``argument_bytes``, ``output_bytes``, ``temp_bytes``, ``alias_bytes``,
``hbm_bytes_per_chip`` (``train.chip_peaks``), ``fits``, ``shortfall_bytes`` (0 when it
fits), ``flops_per_chip`` (one step, one chip, the compiler's count of its optimised
program), ``model_flops_per_chip`` (the same step's FLOPs as XLA:CPU counts them,
``planner.model_flops_per_chip``: the TPU compiler counts k x k convolutions ~1.5x higher),
``estimated_step_s`` (the TPU compiler's ``optimal_seconds``: an estimate, not a
measurement), ``peak_flops_per_chip``, ``implied_mfu`` (model flops / (estimated_step_s x
peak)), ``samples_per_s`` (global batch /
estimated_step_s, the whole slice), ``bytes_accessed_per_chip`` (the compiler's count of HBM
bytes read and written per step), ``hbm_bandwidth_per_chip`` (bytes/s, ``train.chip_peaks``),
``roofline_step_s`` (a lower bound of the step time, not an estimate: max(flops_per_chip /
peak, bytes accessed / bandwidth) whenever all four are known; the one time figure on v5e and
v6e, where the compiler gives none), ``collectives`` ({kind: {count, bytes}}, bytes per
chip), ``compile_s``, ``compile_error`` (XLA:TPU's own refusal when the program does not fit its
HBM: then ``peak_bytes_per_chip`` is what that message says is needed and the compiled
program's fields are null) and ``advice`` (what would make a step that does not fit fit;
empty when it fits). Unknown values (a chip without a listed HBM or peak, a backend without a
time estimate) are null.
"""

import importlib.metadata
from typing import Any, Dict, List, Optional, Tuple

from star_jax.plan.planner import StepPlan

GIB = 2**30
# The unit of each number of a STEP, written into every plan's JSON.
UNITS = {
    "global_batch": "samples per step over the slice",
    "batch_per_chip": "samples per step per chip of the data axis",
    "mesh_axis_sizes": "chips along (data, model, space)",
    "peak_bytes_per_chip": "bytes", "argument_bytes": "bytes per chip",
    "output_bytes": "bytes per chip", "temp_bytes": "bytes per chip",
    "alias_bytes": "bytes per chip", "hbm_bytes_per_chip": "bytes",
    "shortfall_bytes": "bytes per chip", "frame_height": "pixels", "frame_width": "pixels",
    "flops_per_chip": "FLOP per step", "model_flops_per_chip": "FLOP per step",
    "peak_flops_per_chip": "FLOP/s", "implied_mfu": "fraction of peak (0-1)",
    "estimated_step_s": "seconds", "roofline_step_s": "seconds", "compile_s": "seconds",
    "samples_per_s": "samples/s over the slice",
    "bytes_accessed_per_chip": "bytes per step", "hbm_bandwidth_per_chip": "bytes/s",
    "collectives": "count and bytes per chip per step",
}


def advice(step: StepPlan) -> List[str]:
  """What would lower the peak of a step that does not fit, most effective first as
  measured on the full-width train step (benchmarks/results/plan.md: remat blocks -57 %,
  bfloat16 -14 %): remat (train), bfloat16, a smaller per-chip batch (or, at one sample, a
  smaller train crop), FSDP (on more than one chip) and ZeRO-1 (on more than one
  data-parallel chip, when it is off), these two when the arguments (parameters and
  optimiser state) are unknown, over a tenth of the peak or at least the shortfall; for
  inference, tiling. Empty when the step fits or HBM is unknown."""
  if step.fits is not False:
    return []
  tips = []
  if step.kind == "train" and step.remat != "full":
    tips.append(f"--config.model.remat={'blocks' if step.remat == 'none' else 'full'} "
                "(recompute in the backward pass instead of storing)")
  if step.compute_dtype == "float32":
    tips.append("--config.model.dtype=bfloat16 (activations in bfloat16)")
  if step.kind == "infer":
    tips.append("a smaller frame per call: star_jax.infer tiles frames that do not fit "
                "(--tile-size)")
  elif step.kind == "eval" and step.batch_per_chip > 1:
    tips.append(f"a smaller per-chip batch (now {step.batch_per_chip}; "
                "--config.eval_batch_size)")
  elif step.kind == "train" and step.batch_per_chip > 1:
    tips.append(f"a smaller per-chip batch (now {step.batch_per_chip}; --sweep finds the "
                "largest that fits)")
  elif step.kind == "train" and step.frame_height * step.frame_width > 64 * 64:
    tips.append("a smaller crop (--config.data.patch_size; --sweep finds the largest)")
  state = step.memory["argument_bytes"]
  if step.kind == "train" and step.num_chips > 1 and (
      state is None or state > 0.1 * step.peak_bytes_per_chip
      or state >= step.shortfall_bytes):
    now = "" if state is None else f" ({state / GIB:.2f} GiB per chip now)"
    model = step.mesh_axis_sizes[1]
    example = "" if model > 1 else _fsdp_mesh(step.mesh_axis_sizes, step.batch_per_chip) or ""
    axis = f"the mesh's 'model' axis ({model} chips)" if model > 1 else "a 'model' mesh axis"
    tips.append(f"FSDP: shard parameters and optimiser state{now} over {axis}, "
                f"e.g. {example}"
                "--config.param_sharding='((\".*kernel\", (None, None, None, \"model\")),)'")
    if step.data_parallel_chips > 1 and not step.optimizer_state_sharded:
      tips.append("ZeRO-1: split only the optimiser state over the data-parallel chips, "
                  "--config.shard_optimizer_state=True")
  return tips


def _fsdp_mesh(sizes: Tuple[int, int, int], batch_per_chip: int) -> Optional[str]:
  """The option ``--config.mesh_shape='(4,2)' (COST) `` (or '(1,2,2)' with a space axis) for
  a 'model' axis of 2, its chips taken from 'data' (else from 'space'); COST says that the
  taken axis halves, so the same global batch puts twice the samples on each data-parallel
  group (or twice the rows on each chip). None when neither axis has an even size."""
  data, _, space = sizes
  if data % 2 == 0:
    data //= 2
    cost = (f"the 'data' axis halves: {2 * batch_per_chip} samples per data-parallel group, "
            f"not {batch_per_chip}")
  elif space % 2 == 0:
    space //= 2
    cost = "the 'space' axis halves: each chip holds twice the rows"
  else:
    return None
  shape = (data, 2) + ((space,) if space > 1 else ())
  return f"--config.mesh_shape='({','.join(map(str, shape))})' ({cost}) "


def step_json(step: StepPlan) -> Dict[str, Any]:
  """One step's JSON object (module docstring)."""
  return {
      "kind": step.kind,
      "compute_dtype": step.compute_dtype,
      "remat": step.remat,
      "global_batch": step.global_batch,
      "batch_per_chip": step.batch_per_chip,
      "mesh_axis_sizes": list(step.mesh_axis_sizes),
      "frame_height": step.frame_height,
      "frame_width": step.frame_width,
      "peak_bytes_per_chip": step.peak_bytes_per_chip,
      "argument_bytes": step.memory["argument_bytes"],  # None when XLA refused the program
      "output_bytes": step.memory["output_bytes"],
      "temp_bytes": step.memory["temp_bytes"],
      "alias_bytes": step.memory["alias_bytes"],
      "hbm_bytes_per_chip": step.hbm_bytes_per_chip,
      "fits": step.fits,
      "shortfall_bytes": step.shortfall_bytes,
      "flops_per_chip": step.flops_per_chip,
      "model_flops_per_chip": step.model_flops_per_chip,
      "estimated_step_s": step.estimated_step_s,
      "peak_flops_per_chip": step.peak_flops_per_chip,
      "implied_mfu": step.implied_mfu,
      "samples_per_s": step.samples_per_s,
      "bytes_accessed_per_chip": step.bytes_accessed_per_chip,
      "hbm_bandwidth_per_chip": step.hbm_bandwidth_per_chip,
      "roofline_step_s": step.roofline_step_s,
      "collectives": step.collectives,
      "compile_s": step.compile_s,
      "compile_error": step.compile_error,
      "advice": advice(step),
  }


def versions() -> Dict[str, Optional[str]]:
  """Installed versions of jax, jaxlib and libtpu (None when not installed)."""
  found = {}
  for name in ("jax", "jaxlib", "libtpu"):
    try:
      found[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      found[name] = None
  return found


def plan_json(steps: Dict[str, StepPlan], topology: Dict[str, Any], config,
              sweep: Optional[List[Dict[str, Any]]] = None,
              infer_size: Optional[Tuple[int, int]] = None) -> Dict[str, Any]:
  """The whole plan (module docstring); ``topology`` describes the devices, ``config`` is
  the training config (its model, batch and mesh fields are recorded), ``infer_size`` the
  (width, height) LR pixels asked for the infer step."""
  out = {
      "compiled_not_run": True,
      "topology": topology,
      "config": {"model": config.model.to_dict(), "batch_size": config.batch_size,
                 "eval_batch_size": config.eval_batch_size,
                 "patch_size": config.data.patch_size,
                 "mesh_shape": list(config.mesh_shape),
                 "param_sharding": [list(rule) for rule in config.param_sharding],
                 "shard_optimizer_state": bool(config.shard_optimizer_state)},
      "versions": versions(),
      "units": dict(UNITS),
  }
  for kind, step in steps.items():
    out[kind] = step_json(step)
  if infer_size is not None and "infer" in steps:
    out["infer_size"] = {"width": infer_size[0], "height": infer_size[1]}
  if sweep is not None:
    out["sweep"] = sweep
  return out


def _number(value: Optional[float], fmt: str) -> str:
  return "-" if value is None else format(value, fmt)


def _tera(flops: Optional[float]) -> str:
  return _number(None if flops is None else flops / 1e12, ".3g")


def table(steps: Dict[str, StepPlan], infer_size: Optional[Tuple[int, int]] = None) -> str:
  """The console table: one row per step, then the infer step's frame as asked
  (``infer_size`` = LR (width, height)) and as padded, a line naming the compiled steps
  without a time estimate, then each non-fitting step's advice."""
  header = ("step", "batch/chip", "frame HxW", "peak GiB/chip", "HBM GiB", "fits",
            "TFLOP/chip (model)", "est. step s", "MFU %", "samples/s", "roofline s >=",
            "collectives (n, MiB)", "compile s")
  rows = [header]
  for step in steps.values():
    count = sum(c["count"] for c in step.collectives.values())
    moved = sum(c["bytes"] for c in step.collectives.values())
    fits = {True: "yes", False: "NO", None: "?"}[step.fits]
    rows.append((step.kind, str(step.batch_per_chip), f"{step.frame_height}x{step.frame_width}",
                 f"{step.peak_bytes_per_chip / GIB:.2f}",
                 _number(None if step.hbm_bytes_per_chip is None
                         else step.hbm_bytes_per_chip / GIB, ".1f"),
                 fits, f"{_tera(step.flops_per_chip)} ({_tera(step.model_flops_per_chip)})",
                 _number(step.estimated_step_s, ".4f"),
                 _number(None if step.implied_mfu is None else 100 * step.implied_mfu, ".1f"),
                 _number(step.samples_per_s, ".1f"), _number(step.roofline_step_s, ".4f"),
                 f"{int(count)}, {moved / 2**20:.1f}", f"{step.compile_s:.0f}"))
  widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
  lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
           for row in rows]
  if infer_size is not None and "infer" in steps:
    infer = steps["infer"]
    space = infer.mesh_axis_sizes[2]
    lines.append(f"infer: one LR frame pair of {infer_size[0]}x{infer_size[1]} (WxH) per "
                 + (f"{space} chips" if space > 1 else "chip")
                 + f", padded to {infer.frame_height}x{infer.frame_width} (HxW) for the network")
  unestimated = [kind for kind, step in steps.items()
                 if step.compile_error is None and step.estimated_step_s is None]
  if unestimated:
    bounded = all(steps[kind].roofline_step_s is not None for kind in unestimated)
    lines.append(f"no time estimate for {', '.join(unestimated)}: the compiler gave none or a "
                 "non-positive one (its value is in the log), so est. step s, MFU % and "
                 "samples/s are '-'" + ("; the roofline bound stands" if bounded else ""))
  for step in steps.values():
    if step.fits is False:
      lines.append(f"{step.kind} does not fit: {step.peak_bytes_per_chip / GIB:.2f} GiB per "
                   f"chip, {step.shortfall_bytes / GIB:.2f} GiB over the "
                   f"{step.hbm_bytes_per_chip / GIB:.1f} GiB of HBM"
                   + (f" (XLA: {step.compile_error})" if step.compile_error else "")
                   + ". Try: " + "; ".join(advice(step)))
  return "\n".join(lines)
