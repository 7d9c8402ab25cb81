"""The train state (everything a checkpoint must hold besides the data iterator), its
optimiser and learning-rate schedule."""

import re
from typing import Any, Dict, Sequence, Tuple

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from star_jax.errors import UserInputError
from star_jax.model.layers import ConvTranspose2d


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


OPTIMIZERS = {"adamax": optax.adamax, "adam": optax.adam}  # config.optimizer.name
INIT_TRANSPOSED = ("kaiming", "icnr")  # config.init_transposed


def make_optimizer(config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """``config.optimizer.name``: 'adamax' as the paper (betas 0.9/0.999, eps 1e-8), or
  'adam' (the demo's choice: a from-scratch model learns faster per step with it).

  Adamax is the release's ``torch.optim.Adamax`` update: optax 0.2.8 keeps
  ``u = max(|g| + eps, b2 u)`` (eps inside the max, ``optax.tree.update_infinity_moment``),
  ``m = b1 m + (1 - b1) g`` and steps by ``-lr m / ((1 - b1^t) u)``, as torch does; no
  weight decay. ``tests/train/test_trainstep_parity.py`` checks two steps against the
  release's training script (eps after the max would show there as ~6e-5 relative).
  """
  o = config.optimizer
  if o.name not in OPTIMIZERS:
    raise UserInputError(f"optimizer.name must be one of {sorted(OPTIMIZERS)}, got {o.name!r}")
  return OPTIMIZERS[o.name](schedule, b1=o.b1, b2=o.b2, eps=o.eps)


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


def checkerboard_free_kernel(rng, kernel_size: int, stride: int, features_out: int,
                             features_in: int, dtype=jnp.float32) -> jnp.ndarray:
  """An ICNR-style init (Aitken et al. 2017, "Checkerboard artifact free sub-pixel
  convolution") for a transposed convolution kernel, shape (k, k, out, in) as
  ``ConvTranspose2d`` stores it.

  The kernel is a random (k-s+1)^2 kernel ``g`` convolved with an s x s box, so the
  transposed convolution equals nearest-neighbour upsampling by ``s`` followed by a
  convolution with ``g``: every output phase receives the same total weight, and a
  constant input gives a constant output (no checkerboard at the start of training).
  ``g`` is Kaiming-normal for that convolution (std sqrt(2 / (in (k-s+1)^2))), the release's
  init for the equivalent resize-convolution. Raises ValueError when ``stride > kernel_size``.
  """
  k, s = kernel_size, stride
  if s > k:
    raise ValueError(f"checkerboard-free init needs stride <= kernel_size, got {s} > {k}")
  taps = k - s + 1
  g = jax.random.normal(rng, (taps, taps, features_out, features_in), jnp.float32)
  g = g * jnp.sqrt(2.0 / (features_in * taps * taps))
  # Full 2-D convolution of g with the s x s box, separably: along each spatial axis,
  # out[m] = sum_{q<s} g[m-q] = C[m] - C[m-s] with C the running sum of g zero-padded to k.
  def box_along(x, axis):
    pad = [(0, 0)] * x.ndim
    pad[axis] = (0, s - 1)
    running = jnp.cumsum(jnp.pad(x, pad), axis=axis)
    shift = [(0, 0)] * x.ndim
    shift[axis] = (s, 0)
    earlier = jax.lax.slice_in_dim(jnp.pad(running, shift), 0, k, axis=axis)
    return running - earlier

  kernel = box_along(box_along(g, 0), 1)
  return kernel.astype(dtype)


def transposed_conv_strides(model, sample_inputs) -> Dict[Tuple[str, ...], int]:
  """{module path: stride} of every ``ConvTranspose2d`` in ``model`` with stride > 1
  (recorded while tracing an init on ``sample_inputs``; nothing is computed)."""
  strides: Dict[Tuple[str, ...], int] = {}

  def record(next_fun, args, kwargs, context):
    module = context.module
    if isinstance(module, ConvTranspose2d) and context.method_name == "__call__":
      if module.stride > 1:
        strides[tuple(module.path)] = module.stride
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    jax.eval_shape(lambda: model.init({"params": jax.random.key(0), "noise": jax.random.key(0)},
                                      *sample_inputs))
  return strides


def checkerboard_free_transposed_kernels(params, strides: Dict[Tuple[str, ...], int], rng):
  """``params`` with the kernel of every module in ``strides`` (see
  :func:`transposed_conv_strides`) redrawn by :func:`checkerboard_free_kernel`."""
  params = flax.core.unfreeze(params)
  for index, (path, stride) in enumerate(sorted(strides.items())):
    node = params
    for name in path:
      node = node[name]
    k, _, c_out, c_in = node["kernel"].shape
    node["kernel"] = checkerboard_free_kernel(jax.random.fold_in(rng, index), k, stride,
                                              c_out, c_in, node["kernel"].dtype)
  return params


def create_state(model, tx, rng, sample_inputs, initial_variables=None,
                 init_kernel_scale: float = 1.0,
                 init_kernel_gains: Sequence[Tuple[str, float]] = (),
                 init_transposed: str = "kaiming") -> TrainState:
  """A fresh state, or one around ``initial_variables`` for fine-tuning (used as they are).

  Fresh: the release's Kaiming init, transposed convolutions redrawn checkerboard-free when
  ``init_transposed='icnr'`` (:func:`checkerboard_free_kernel`), then every kernel scaled as
  :func:`scale_kernels` says. Raises ValueError for another ``init_transposed``.
  """
  if init_transposed not in INIT_TRANSPOSED:
    raise UserInputError(f"init_transposed must be 'kaiming' or 'icnr', got {init_transposed!r}")
  if initial_variables is not None:
    variables = initial_variables
  else:
    variables = model.init({"params": rng, "noise": rng}, *sample_inputs)
    if init_transposed == "icnr":
      variables = dict(variables, params=checkerboard_free_transposed_kernels(
          variables["params"], transposed_conv_strides(model, sample_inputs),
          jax.random.fold_in(rng, 1)))
    variables = dict(variables, params=scale_kernels(
        variables["params"], init_kernel_scale, init_kernel_gains))
  params = variables["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get("batch_stats", {}),
                    opt_state=tx.init(params))
