"""The train state (everything a checkpoint must hold besides the data iterator), its
optimiser and learning-rate schedule."""

import re
from typing import Any, Sequence, Tuple

import flax
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  step: jnp.ndarray
  params: Any
  batch_stats: Any  # {} for models without BatchNorm (only the FR UNet has it)
  opt_state: Any


def learning_rate_schedule(base_lr: float, steps_per_epoch: int, decay_every_epochs: int,
                           decay_factor: float) -> optax.Schedule:
  """The release's step decay: lr x factor every ``decay_every_epochs`` epochs."""
  return optax.exponential_decay(base_lr, transition_steps=max(1, decay_every_epochs
                                                               * steps_per_epoch),
                                 decay_rate=decay_factor, staircase=True)


def make_optimizer(config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """``config.optimizer.name``: 'adamax' as the paper (betas 0.9/0.999, eps 1e-8), or
  'adam' (the demo's choice: a from-scratch model learns faster per step with it).

  Adamax: optax adds eps to the infinity norm (u = max(b2 u, |g|); m / (u + eps)) where
  torch puts it inside the max; with eps 1e-8 the difference is below float32 resolution of
  any non-vanishing gradient.
  """
  o = config.optimizer
  optimizers = {"adamax": optax.adamax, "adam": optax.adam}
  if o.name not in optimizers:
    raise ValueError(f"optimizer.name must be one of {sorted(optimizers)}, got {o.name!r}")
  return optimizers[o.name](schedule, b1=o.b1, b2=o.b2, eps=o.eps)


def path_name(path) -> str:
  """A pytree key path as the '/'-joined name that config regexes are matched against
  (dict keys and dataclass fields alike, e.g. 'params/motion_feat/conv/kernel')."""
  return "/".join(str(getattr(key, "key", getattr(key, "name", key))) for key in path)


def scale_kernels(params, factor: float, gains: Sequence[Tuple[str, float]] = ()):
  """Every conv kernel times a gain: Kaiming-normal init with that gain.

  The gain is ``factor``, or that of the first ``(regex, gain)`` in ``gains`` whose regex
  fully matches the '/'-joined parameter path. The release's init (factor 1) makes a
  from-scratch STARnet's outputs explode (std ~10^3 for the narrow demo model), which costs
  many steps to undo; 0.5 starts near zero.
  """
  if factor == 1.0 and not gains:
    return params
  compiled = [(re.compile(regex), gain) for regex, gain in gains]

  def scale(path, x):
    if path[-1].key != "kernel":
      return x
    name = path_name(path)
    return x * next((gain for regex, gain in compiled if regex.fullmatch(name)), factor)

  return jax.tree_util.tree_map_with_path(scale, params)


def create_state(model, tx, rng, sample_inputs, initial_variables=None,
                 init_kernel_scale: float = 1.0,
                 init_kernel_gains: Sequence[Tuple[str, float]] = ()) -> TrainState:
  """A fresh state (kernels scaled as :func:`scale_kernels` says), or one around
  ``initial_variables`` for fine-tuning (used as they are)."""
  if initial_variables is not None:
    variables = initial_variables
  else:
    variables = model.init({"params": rng, "noise": rng}, *sample_inputs)
    variables = dict(variables, params=scale_kernels(
        variables["params"], init_kernel_scale, init_kernel_gains))
  params = variables["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get("batch_stats", {}),
                    opt_state=tx.init(params))
