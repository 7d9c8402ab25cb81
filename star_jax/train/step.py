"""The jit-compiled train and eval steps."""

from typing import Callable, Dict, Optional

import jax
import jax.numpy as jnp
import optax

from star_jax import pixels
from star_jax.model import OUTPUT_NAMES
from star_jax.train import objectives
from star_jax.train.state import TrainState


def _model_inputs(batch):
  return batch["im1"], batch["im2"], batch["flow_f"], batch["flow_b"]


def train_step(state: TrainState, batch: Dict[str, jnp.ndarray], *, model, tx, seed: int,
               objective: str, loss_type: str, schedule: Callable,
               features: Optional[Callable] = None, grad_shardings=None):
  """One optimisation step; returns (new state, metrics).

  Args:
    state: the replicated or sharded ``TrainState``.
    batch: the pipeline's batch (``star_jax.data.pipeline``), NHWC float32, batch size B:
      ``im1``, ``im2`` (B, H, W, 3) ImageNet-normalised LR frames; ``flow_f``, ``flow_b``
      (B, H, W, 2) flows in network units ``-clip(px, -150, 150) / 150``; targets ``hr1``,
      ``hr_t``, ``hr2`` (B, scale*H, scale*W, 3) and ``lr_t`` (B, H, W, 3), normalised
      like the inputs; ``gt_flow_f``, ``gt_flow_b`` (B, H, W, 2), network units, the
      flow targets only FR models' loss reads. STAR-T-HR (``data.hr_input``): ``im1``,
      ``im2`` and ``lr_t`` are HR frames and there are no ``hr1``/``hr_t``/``hr2``. Only
      the targets ``objective`` trains need be present.
    model, tx: the Flax module and the optax transformation.
    seed: the run's seed; the step's rng is ``fold_in(key(seed), step)``, so a resumed
      run draws the same noise (``flow_noise_std``) as an uninterrupted one.
    objective, loss_type, features: as in ``objectives.star_loss``.
    schedule: step -> learning rate, logged as ``learning_rate``.
    grad_shardings: the parameters' shardings (a tree like ``state.params``), or None: the
      gradients are constrained to them before the update, so that an optimiser state
      split over more chips (``sharding.zero1_shardings``) does not propagate its split
      back into the backward pass (XLA would then partition the convolutions over
      channels instead of over 'space').

  Returns:
    (new state, metrics): metrics are float32 scalars ``loss/<term>`` (``loss/total``
    included), ``learning_rate`` and ``grad_norm`` (global L2 norm of the gradients).
  """
  rng = jax.random.fold_in(jax.random.key(seed), state.step)
  has_batch_stats = bool(state.batch_stats)

  def loss_fn(params):
    variables = {"params": params}
    if has_batch_stats:
      variables["batch_stats"] = state.batch_stats
      outputs, updates = model.apply(variables, *_model_inputs(batch), train=True,
                                     mutable=["batch_stats"], rngs={"noise": rng})
    else:
      outputs, updates = model.apply(variables, *_model_inputs(batch), train=True,
                                     rngs={"noise": rng}), {}
    terms = objectives.star_loss(outputs, batch, objective, loss_type, features)
    return terms["total"], (terms, updates)

  grads, (terms, updates) = jax.grad(loss_fn, has_aux=True)(state.params)
  if grad_shardings is not None:
    grads = jax.lax.with_sharding_constraint(grads, grad_shardings)
  param_updates, opt_state = tx.update(grads, state.opt_state, state.params)
  new_state = state.replace(
      step=state.step + 1, params=optax.apply_updates(state.params, param_updates),
      batch_stats=updates.get("batch_stats", state.batch_stats), opt_state=opt_state)
  metrics = {f"loss/{k}": v for k, v in terms.items()}
  metrics["learning_rate"] = schedule(state.step)
  metrics["grad_norm"] = optax.tree.norm(grads)
  return new_state, metrics


def eval_step(state: TrainState, batch, *, model):
  """Eval-mode forward; returns per-sample PSNR of every output vs its target
  (``pixels.psnr_per_sample`` of the 8-bit frames, (B,) float32 dB) and the uint8
  predictions and targets (for SSIM and image summaries)."""
  variables = {"params": state.params}
  if state.batch_stats:
    variables["batch_stats"] = state.batch_stats
  outputs = model.apply(variables, *_model_inputs(batch), train=False)
  psnr, images = {}, {}
  for name in OUTPUT_NAMES:
    key = objectives.TARGET_KEYS[name]
    if key not in batch:
      continue
    pred = pixels.normalised_to_uint8(outputs[name])
    target = pixels.normalised_to_uint8(batch[key])
    psnr[name] = pixels.psnr_per_sample(pred, target)
    images[name] = pred
    images[f"{name}_target"] = target
  return psnr, images
