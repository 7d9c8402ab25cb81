"""Held-out evaluation during training: every output's PSNR next to its baseline's
(``pixels.BASELINES``), SSIM of ht, the checkerboard measure, TensorBoard images, and the one-line
summary the run ends with."""

import functools
from typing import Dict

import jax
from jax.experimental import multihost_utils
import numpy as np

from star_jax import pixels
from star_jax.data import pipeline
from star_jax.errors import UserInputError
from star_jax.evaluate import metrics as frame_metrics
from star_jax.train import data_setup, objectives, sharding
from star_jax.train import step as step_lib


def evaluate(config, state, mesh, eval_fn, writer, step: int) -> Dict[str, float]:
  """Held-out metrics over the eval split (``data.eval_split``, at most
  ``eval_num_batches`` batches of ``eval_batch_size``), written to ``writer`` at ``step``.

  Args:
    config: the training config.
    state: the train state, sharded as ``eval_fn`` expects.
    mesh: the device mesh; batches are sharded over its 'data' axis, image heights over
      'space'.
    eval_fn: :func:`jit_eval_step`'s function.
    writer: a clu metric writer (scalars, and the first batch's ht images).
    step: the step the metrics are logged at.
  Returns:
    {'eval/psnr_<output>' and 'eval/psnr_<output>_baseline' (dB, 8-bit),
    'eval/ssim_ht', 'eval/grid_<output>[_baseline]' (``frame_metrics.grid_energy_ratio``,
    period = the scale), 'eval/num_samples'}, averaged over the samples.
  Raises:
    ValueError: the eval split produced no samples.
  """
  ds = pipeline.make_dataset(data_setup.pipeline_config(config, config.data.eval_split, False,
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
    raise UserInputError(f"eval split {config.data.eval_split!r} produced no samples")
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


def jit_eval_step(model, scale: int, mesh, state_shardings):
  """:func:`eval_step_with_baseline` compiled for ``mesh``: state as ``state_shardings``,
  the batch as ``sharding.global_batch`` places it (samples on 'data', image heights on
  'space', split inside and traced under the mesh: ``sharding.on_mesh``), outputs replicated (so every process sums the
  same values)."""
  step = functools.partial(eval_step_with_baseline, model=model, scale=scale)
  return jax.jit(sharding.on_mesh(step, mesh), in_shardings=(state_shardings, None),
                 out_shardings=sharding.replicated(mesh))


def eval_step_with_baseline(state, batch, *, model, scale: int):
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
