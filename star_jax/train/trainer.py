"""The training loop behind ``python -m star_jax.main``: data and flow cache, mesh, sharded
jit train step (compiled ahead of the loop; its XLA FLOPs and peak memory are logged once),
throughput and MFU (``star_jax.train.throughput``), optional profiles
(``config.profile_steps``), periodic evaluation, metrics and checkpoints, exact resume."""

import contextlib
import dataclasses
import functools
import logging
import math
import pathlib
import time
from typing import Any, Dict, Optional

from clu import metric_writers, parameter_overview
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np

from star_jax.convert import load_weights, save_checkpoint
from star_jax.data import demo as demo_data
from star_jax.data import pipeline, pixels, vimeo
from star_jax.evaluate import metrics as frame_metrics
from star_jax.model import SHAPE_FIELDS, build_model, sample_inputs
from star_jax.train import checkpoints, compiled_stats, objectives, profiling, sharding
from star_jax.train import step as step_lib
from star_jax.train import throughput
from star_jax.train.state import TrainState, create_state, learning_rate_schedule, make_optimizer


EXPORT_DIR = "model"  # <workdir>/model: final weights + model_config.json


class NonFiniteLossError(RuntimeError):
  """Training produced a NaN/Inf loss; the last good checkpoint is left as it was."""


@dataclasses.dataclass
class TrainResult:
  step: int
  eval_metrics: Dict[str, float]


def _pipeline_config(config, split: str, training: bool, batch_size: int):
  d = config.data
  return pipeline.PipelineConfig(
      root=d.dir, split=split, scale=int(config.model.scale),
      batch_size=batch_size // jax.process_count(),
      patch_size=d.patch_size if training else 0, augment=d.augment and training,
      shuffle=training, num_epochs=None if training else 1, seed=config.seed,
      num_workers=d.num_workers if training else 0, num_threads=d.num_threads,
      hr_input=d.hr_input, flow_backend=d.flow_backend, source=d.source,
      tfds_data_dir=d.tfds_data_dir, tfds_config=d.tfds_config, skip_corrupt=d.skip_corrupt,
      drop_remainder=training)


def prepare_data(config) -> None:
  """Generate the demo dataset if asked, and make sure both splits' flows are cached
  (process 0 computes; the others wait)."""
  if not config.data.dir:
    raise ValueError("config.data.dir is not set: pass --config.data.dir=/path/to/vimeo")
  if jax.process_index() == 0:
    if config.data.generate_demo:
      demo_data.ensure_demo_dataset(config.data.dir)
    flow_params = {"mode": config.data.flow_mode} if config.data.flow_backend == "coarse2fine" else {}
    for split in (config.data.train_split, config.data.eval_split):
      pipeline.ensure_flow_cache(config.data.dir, split, scale=int(config.model.scale),
                                 hr_input=config.data.hr_input, backend=config.data.flow_backend,
                                 skip_corrupt=config.data.skip_corrupt, **flow_params)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("flow cache ready")


def _num_clips(config, split: str) -> int:
  return len(vimeo.VimeoClips.open(config.data.dir, "triplet", split).clips)


def _perceptual_features(config):
  if config.loss != "Lf":
    return None
  if not config.vgg19_weights:
    raise ValueError("loss 'Lf' needs config.vgg19_weights: torchvision's VGG19 ImageNet "
                     "state dict (.pth)")
  from star_jax.convert.vgg import load_vgg19_variables  # pylint: disable=g-import-not-at-top
  from star_jax.model.vgg import VGG19Features  # pylint: disable=g-import-not-at-top
  vgg_variables = jax.tree_util.tree_map(jnp.asarray, load_vgg19_variables(config.vgg19_weights))
  vgg = VGG19Features()
  return lambda images: vgg.apply(jax.lax.stop_gradient(vgg_variables), images)


def initial_state(config, model, tx, shardings) -> TrainState:
  """The initial train state, created directly in its shardings: from ``config.init_from``
  (fine-tuning; the checkpoint must hold the configured model) or fresh from ``config.seed``."""
  if not config.init_from:
    init = functools.partial(create_state, model, tx, sample_inputs=sample_inputs(),
                             init_kernel_scale=config.init_kernel_scale,
                             init_kernel_gains=config.init_kernel_gains,
                             init_transposed=config.init_transposed)
    return jax.jit(init, out_shardings=shardings)(jax.random.key(config.seed))
  model_cfg, variables = load_weights(config.init_from)
  mismatched = {k: (model_cfg[k], config.model[k])
                for k in SHAPE_FIELDS
                if model_cfg[k] != config.model[k]}
  if mismatched:
    raise ValueError(f"init_from {config.init_from} holds a different model "
                     f"(checkpoint vs config): {mismatched}")
  state = create_state(model, tx, None, sample_inputs(), initial_variables=dict(variables))
  return jax.device_put(state, shardings)


def jit_train_step(config, model, tx, schedule, mesh, state_shardings, features=None):
  """The train step compiled for ``mesh``: batch sharded on 'data', state as
  ``state_shardings``, metrics replicated, the old state's buffers donated."""
  return jax.jit(
      functools.partial(step_lib.train_step, model=model, tx=tx, seed=config.seed,
                        objective=config.objective, loss_type=config.loss, schedule=schedule,
                        features=features),
      in_shardings=(state_shardings, sharding.batch_sharding(mesh)),
      out_shardings=(state_shardings, sharding.replicated(mesh)), donate_argnums=(0,))


def compile_train_step(train_fn, state, batch):
  """Compile ``train_fn`` (a ``jit_train_step``) ahead of the loop for ``state`` and
  ``batch``; returns (compiled step, ``compiled_stats.compiled_step_stats``, seconds)."""
  start = time.perf_counter()
  compiled = train_fn.lower(state, batch).compile()
  seconds = time.perf_counter() - start
  return compiled, compiled_stats.compiled_step_stats(compiled), seconds


def _compute_dtype(config) -> str:
  return "bfloat16" if config.model.get("dtype", "float32") == "bfloat16" else "float32"


@contextlib.contextmanager
def _untimed(meter: throughput.ThroughputMeter, state):
  """Leaves the time of the block (evaluation, checkpointing) out of ``meter``'s rates; the
  steps already dispatched finish first, so their time stays training time."""
  jax.block_until_ready(state)
  start = time.perf_counter()
  try:
    yield
  finally:
    meter.exclude(time.perf_counter() - start)


def _evaluate(config, model, state, mesh, eval_fn, writer, step: int) -> Dict[str, float]:
  """Held-out metrics over the eval split: PSNR of every output and of its baseline
  (``pixels.BASELINES``), SSIM of ht, and the checkerboard measure
  (``frame_metrics.grid_energy_ratio``, period = the scale) of the HR outputs and of their
  baselines."""
  ds = pipeline.make_dataset(_pipeline_config(config, config.data.eval_split, False,
                                              config.eval_batch_size))
  psnr_sums: Dict[str, float] = {}
  frames: Dict[str, list] = {}
  ssim_sum, count = 0.0, 0
  for batch_index, local in enumerate(ds):
    if config.eval_num_batches and batch_index >= config.eval_num_batches:
      break
    # Pad every process's last batch to the full size (one compiled shape) and keep a mask
    # of the real samples; outputs are replicated, so every process sums the same values.
    local_size = config.eval_batch_size // jax.process_count()
    valid = len(local["im1"])
    local = {k: np.concatenate([v, np.repeat(v[-1:], local_size - valid, axis=0)])
             for k, v in local.items()}
    valid_per_process = multihost_utils.process_allgather(np.array([valid])).reshape(-1)
    real = np.concatenate([np.arange(local_size) < v for v in valid_per_process])
    psnr, images = jax.device_get(eval_fn(state, sharding.global_batch(local, mesh)))
    for name, values in psnr.items():
      psnr_sums[name] = psnr_sums.get(name, 0.0) + float(values[real].sum())
    for name in ("ht", "h1", "h2"):
      for key in (name, f"{name}_target", f"{name}_baseline"):
        if key in images:
          frames.setdefault(key, []).append(np.asarray(images[key])[real])
    if "ht" in images:
      ssim_sum += sum(frame_metrics.ssim(images["ht"][i], images["ht_target"][i])
                      for i in np.flatnonzero(real))
    count += int(real.sum())
    if batch_index == 0 and "ht" in images:
      writer.write_images(step, {"eval/lr_input_upsampled": np.asarray(images["lr_input"])[:3],
                                 "eval/ht_prediction": np.asarray(images["ht"])[:3],
                                 "eval/ht_ground_truth": np.asarray(images["ht_target"])[:3]})
  if count == 0:
    raise ValueError(f"eval split {config.data.eval_split!r} produced no samples")
  result = {f"eval/psnr_{k}": v / count for k, v in psnr_sums.items()}
  if "ht" in psnr_sums:
    result["eval/ssim_ht"] = ssim_sum / count
  period = int(config.model.scale)
  for name in ("ht", "h1", "h2"):
    if f"{name}_target" not in frames:
      continue
    target = np.concatenate(frames[f"{name}_target"])
    for key, suffix in ((name, ""), (f"{name}_baseline", "_baseline")):
      if key in frames and target.shape[1] % period == 0 and target.shape[2] % period == 0:
        result[f"eval/grid_{name}{suffix}"] = frame_metrics.grid_energy_ratio(
            np.concatenate(frames[key]), target, period)
  result["eval/num_samples"] = count
  writer.write_scalars(step, result)
  return result


def summary_line(eval_metrics: Dict[str, float]) -> str:
  """The held-out metrics as one line: each output's PSNR next to its baseline's, then SSIM
  and the checkerboard measure (ours vs baseline; ~1 = no grid beyond bicubic's)."""
  m = {k.split("/")[-1]: v for k, v in eval_metrics.items()}
  parts = []
  for name in ("h1", "h2", "ht", "l"):
    if f"psnr_{name}" not in m:
      continue
    part = f"{name} {m[f'psnr_{name}']:.2f} dB"
    if f"psnr_{name}_baseline" in m:
      base = m[f"psnr_{name}_baseline"]
      part += f" ({pixels.BASELINES[name]} {base:.2f}, {m[f'psnr_{name}'] - base:+.2f})"
    parts.append(part)
  if "ssim_ht" in m:
    parts.append(f"ssim_ht {m['ssim_ht']:.4f}")
  grids = [f"{name} {m[f'grid_{name}']:.2f} (baseline {m[f'grid_{name}_baseline']:.2f})"
           for name in ("ht", "h1", "h2") if f"grid_{name}" in m and f"grid_{name}_baseline" in m]
  if grids:
    parts.append("grid " + ", ".join(grids))
  samples = f" on {int(m['num_samples'])} samples" if "num_samples" in m else ""
  return f"held-out PSNR{samples}: " + " | ".join(parts)


def _eval_step_with_baseline(state, batch, *, model, scale: int):
  """``step_lib.eval_step`` plus each output's baseline (``pixels.BASELINES``): its per-sample
  PSNR (under '<name>_baseline') and 8-bit frames (images '<name>_baseline')."""
  psnr, images = step_lib.eval_step(state, batch, model=model)
  predictions = pixels.baseline_predictions(batch["im1"], batch["im2"], scale)
  for name, prediction in predictions.items():
    target_key = objectives.TARGET_KEYS[name]
    if name not in psnr or batch[target_key].shape != prediction.shape:
      continue
    baseline = pixels.normalised_to_uint8(prediction)
    psnr[f"{name}_baseline"] = pixels.psnr_per_sample(
        baseline, pixels.normalised_to_uint8(batch[target_key]))
    if name != "l":
      images[f"{name}_baseline"] = baseline
  if "ht" in images:
    b, h, w, c = batch["im1"].shape
    images["lr_input"] = pixels.normalised_to_uint8(jax.image.resize(
        batch["im1"], (b, h * scale, w * scale, c), "nearest"))
  return psnr, images


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainResult:
  workdir = pathlib.Path(workdir).absolute()
  workdir.mkdir(parents=True, exist_ok=True)
  if config.batch_size % jax.process_count() or config.eval_batch_size % jax.process_count():
    raise ValueError(f"batch sizes must divide over {jax.process_count()} processes")
  prepare_data(config)
  mesh = sharding.make_mesh(config.mesh_shape)
  if config.batch_size % mesh.shape["data"]:
    raise ValueError(f"batch_size {config.batch_size} is not divisible by the mesh's data "
                     f"axis ({mesh.shape['data']})")

  steps_per_epoch = max(1, _num_clips(config, config.data.train_split) // config.batch_size)
  total_steps = config.total_steps or config.num_epochs * steps_per_epoch
  schedule = learning_rate_schedule(config.optimizer.learning_rate, steps_per_epoch,
                                    config.lr_decay_every_epochs, config.lr_decay_factor)
  tx = make_optimizer(config, schedule)
  model = build_model(config.model)
  objectives.objective_weights(config.objective)  # fail fast on a typo

  abstract_state = jax.eval_shape(functools.partial(
      create_state, model, tx, sample_inputs=sample_inputs()), jax.random.key(0))
  state_shardings = sharding.param_shardings(abstract_state, mesh, config.param_sharding)
  data_sharding = sharding.batch_sharding(mesh)

  train_ds = pipeline.make_dataset(_pipeline_config(config, config.data.train_split, True,
                                                    config.batch_size))
  train_iter = iter(train_ds)
  manager = checkpoints.make_manager(workdir, config.keep_checkpoints)
  state = checkpoints.restore_latest(
      manager, checkpoints.abstract_with_shardings(abstract_state, state_shardings), train_iter,
      model_config=config.model)
  if state is None:
    state = initial_state(config, model, tx, state_shardings)
    start_step = 0
  else:
    start_step = int(state.step)
    logging.info("resumed from %s at step %d", manager.directory, start_step)

  writer = metric_writers.create_default_writer(
      str(workdir), just_logging=jax.process_index() > 0, asynchronous=True)
  if start_step == 0:
    parameter_overview.log_parameter_overview(state.params)
    writer.write_hparams({k: str(v) for k, v in config.to_dict().items()
                          if not isinstance(v, dict)})

  features = _perceptual_features(config)
  train_fn = jit_train_step(config, model, tx, schedule, mesh, state_shardings, features)
  eval_fn = jax.jit(functools.partial(_eval_step_with_baseline, model=model,
                                      scale=int(config.model.scale)),
                    in_shardings=(state_shardings, data_sharding),
                    out_shardings=sharding.replicated(mesh))

  profiler = profiling.StepProfiler(config.profile_steps, workdir, start_step)
  eval_metrics: Dict[str, float] = {}
  pending: Optional[Dict[str, Any]] = None  # last step's metrics, checked one step late

  def check_finite(metrics, at_step):
    loss = float(metrics["loss/total"])
    if not math.isfinite(loss):
      manager.wait_until_finished()
      raise NonFiniteLossError(
          f"loss became {loss} at step {at_step}; stopping. The last good checkpoint "
          f"(step {manager.latest_step()}) in {manager.directory} is intact.")

  logging.info("training %s for %d steps (%d per epoch), mesh %s", config.model.variant,
               total_steps, steps_per_epoch, dict(mesh.shape))
  first_step = start_step + 1
  if first_step <= total_steps:
    batch = sharding.global_batch(next(train_iter), mesh)
    compiled_step, stats, compile_seconds = compile_train_step(train_fn, state, batch)
    peak, peak_note = throughput.resolve_peak(jax.devices()[0].device_kind,
                                              _compute_dtype(config), config.peak_flops_per_chip)
    logging.info(compiled_stats.format_step_stats(stats, compile_seconds))
    logging.info("%s (%d device%s)", peak_note, jax.device_count(),
                 "s" if jax.device_count() > 1 else "")
    writer.write_scalars(start_step, {"perf/compile_seconds": compile_seconds,
                                      "perf/gflop_per_step_per_device": stats["flops"] / 1e9,
                                      "perf/peak_gib_per_device": stats["peak_bytes"] / 2**30})
    meter = throughput.ThroughputMeter(
        flops_per_step_per_device=stats["flops"], num_devices=jax.device_count(),
        batch_size=config.batch_size, total_steps=total_steps, peak_flops_per_chip=peak)

  try:
    for step in range(first_step, total_steps + 1):
      if step > first_step:
        batch = sharding.global_batch(next(train_iter), mesh)
      profiler.before_step(step, (state, pending))
      state, metrics = compiled_step(state, batch)
      profiler.after_step(step, (state, metrics))
      if step == first_step:
        jax.block_until_ready((state, metrics))
        meter.first_step_done(step)
      if pending is not None and config.halt_on_nonfinite:
        check_finite(pending, step - 1)
      pending = metrics
      if step % config.log_every_steps == 0 or step == total_steps:
        scalars = {k: float(v) for k, v in jax.device_get(metrics).items()}
        rates = meter.report(step)
        if rates is not None:
          scalars.update(rates.scalars())
          logging.info(throughput.format_rates(step, total_steps, rates))
        if config.data.skip_corrupt:
          scalars["data/skipped_clips"] = train_iter.num_skipped
        writer.write_scalars(step, scalars)
      if step % config.eval_every_steps == 0 or step == total_steps:
        with _untimed(meter, state):
          eval_metrics = _evaluate(config, model, state, mesh, eval_fn, writer, step)
      if step % config.checkpoint_every_steps == 0 or step == total_steps:
        if config.halt_on_nonfinite:
          check_finite(metrics, step)  # never write a checkpoint from a diverged state
        with _untimed(meter, state):
          checkpoints.save(manager, step, state, train_iter, config)
        logging.info("saving checkpoint %d to %s (async)", step, manager.directory)
  finally:
    profiler.close()
  if not eval_metrics:  # resumed a finished run: report its held-out metrics anyway
    eval_metrics = _evaluate(config, model, state, mesh, eval_fn, writer, int(state.step))
  manager.wait_until_finished()
  # The final weights in the converter's format: what infer/evaluate/init_from load.
  variables = {"params": state.params}
  if state.batch_stats:
    variables["batch_stats"] = state.batch_stats
  save_checkpoint(workdir / EXPORT_DIR, config.model, variables)
  writer.flush()
  return TrainResult(step=int(state.step), eval_metrics=eval_metrics)
