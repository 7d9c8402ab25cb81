"""The jit-compiled train and eval steps."""

from typing import Callable, Dict, Optional

import jax
import jax.numpy as jnp
import optax

from star_jax.model import OUTPUT_NAMES
from star_jax.train import objectives
from star_jax.train.state import TrainState

IMAGENET_MEAN = jnp.array([0.485, 0.456, 0.406], jnp.float32)
IMAGENET_STD = jnp.array([0.229, 0.224, 0.225], jnp.float32)


def _model_inputs(batch):
  return batch["im1"], batch["im2"], batch["flow_f"], batch["flow_b"]


def train_step(state: TrainState, batch: Dict[str, jnp.ndarray], *, model, tx, seed: int,
               objective: str, loss_type: str, schedule: Callable,
               features: Optional[Callable] = None):
  """One optimisation step; returns (new state, metrics). The step's rng is derived from
  (seed, step) so a resumed run draws the same noise as an uninterrupted one."""
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
  param_updates, opt_state = tx.update(grads, state.opt_state, state.params)
  new_state = state.replace(
      step=state.step + 1, params=optax.apply_updates(state.params, param_updates),
      batch_stats=updates.get("batch_stats", state.batch_stats), opt_state=opt_state)
  metrics = {f"loss/{k}": v for k, v in terms.items()}
  metrics["learning_rate"] = schedule(state.step)
  metrics["grad_norm"] = optax.global_norm(grads)
  return new_state, metrics


def to_uint8_range(normalised):
  """ImageNet-normalised -> 8-bit values (clamped, rounded), as the paper evaluates."""
  x = normalised.astype(jnp.float32) * IMAGENET_STD + IMAGENET_MEAN
  return jnp.round(jnp.clip(x, 0.0, 1.0) * 255.0)


def eval_step(state: TrainState, batch, *, model):
  """Eval-mode forward; returns per-sample PSNR of every output vs its target and the
  8-bit predictions (for SSIM and image summaries)."""
  variables = {"params": state.params}
  if state.batch_stats:
    variables["batch_stats"] = state.batch_stats
  outputs = model.apply(variables, *_model_inputs(batch), train=False)
  psnr, images = {}, {}
  for name in OUTPUT_NAMES:
    key = objectives.TARGET_KEYS[name]
    if key not in batch:
      continue
    pred, target = to_uint8_range(outputs[name]), to_uint8_range(batch[key])
    mse = jnp.mean(jnp.square(pred - target), axis=(1, 2, 3))
    psnr[name] = 10.0 * jnp.log10(255.0 ** 2 / jnp.maximum(mse, 1e-10))
    images[name] = pred.astype(jnp.uint8)
    images[f"{name}_target"] = target.astype(jnp.uint8)
  return psnr, images
