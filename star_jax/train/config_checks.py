"""``validate(config)``: the training config's impossible combinations, refused before any
data is prepared, compiled or trained, each with one line naming the config fields.

Checked: ``data.dir`` is set; ``objective``, ``loss``, ``optimizer.name``,
``init_transposed``, ``data.source``, ``data.clips``, ``data.lr_method`` and the flow settings (``data.flow_backend``,
``data.flow_mode``) are known values; ``model`` builds (its own checks of variant, dtype,
remat and fields) with a scale of 2, 4 or 8; ``skip_refinement`` / ``flow_noise_std`` only
with a ``_REF`` variant (the FR wrapper is what reads them); ``objective='STAR-T-HR'``
exactly when ``data.hr_input`` (HR inputs have no HR targets for ht/h1/h2, and STAR-T-HR's
target is the HR in-between frame); ``loss='Lf'`` has ``vgg19_weights``; ``source='tfds'``
has ``data.tfds_data_dir`` and triplet clips; ``mesh_shape`` fits the devices and both batch sizes divide over
the processes and the mesh's 'data' axis; every ``param_sharding`` rule is a (regex, spec)
pair whose regex compiles and whose spec names only the mesh's axes; step intervals, ``keep_checkpoints``,
``lost_process_timeout_seconds`` and ``num_epochs`` (when ``total_steps`` is unset) are
positive; ``profile_steps`` parses.
"""

import math
import re
from typing import Optional

import jax

from star_jax.data.frames import LR_METHODS
from star_jax.errors import UserInputError
from star_jax.infer.padding import lr_side_multiple
from star_jax.model import ModelConfig, build_model, parse_variant
from star_jax.train import data_setup, objectives, sharding
from star_jax.train.profiling import parse_profile_steps
from star_jax.train.state import INIT_TRANSPOSED, OPTIMIZERS

SOURCES = ("folder", "tfds")  # data.source (star_jax.data.pipeline)
HR_INPUT_OBJECTIVE = "STAR-T-HR"


def _one_of(name: str, value, allowed) -> None:
  if value not in allowed:
    raise UserInputError(f"{name}={value!r} is not one of {sorted(allowed)}")


def _check_param_sharding(rules) -> None:
  for rule in rules:
    if len(rule) != 2:
      raise UserInputError(f"param_sharding rule {rule!r} must be a pair (regex, spec)")
    pattern, spec = rule
    try:
      re.compile(pattern)
    except re.error as error:
      raise UserInputError(f"param_sharding regex {pattern!r}: {error}") from None
    unknown = sorted({a for entry in spec for a in sharding.spec_axes(entry)}
                     - set(sharding.MESH_AXES))
    if unknown:
      raise UserInputError(f"param_sharding rule {pattern!r} names {unknown}, not axes of the "
                           f"mesh {sharding.MESH_AXES}")


def validate(config, num_devices: Optional[int] = None,
             num_processes: Optional[int] = None) -> None:
  """Refuses a training config that cannot run (module docstring lists the checks).

  Args:
    config: the training config (``star_jax.train.config.base_config`` fields).
    num_devices, num_processes: what the run has; default ``jax.device_count()`` and
      ``jax.process_count()``.
  Raises:
    ValueError: the first impossible setting or combination, naming its config fields.
  """
  num_devices = jax.device_count() if num_devices is None else num_devices
  num_processes = jax.process_count() if num_processes is None else num_processes
  d, m = config.data, config.model
  if not d.dir:
    raise UserInputError("config.data.dir is not set (the Vimeo-90K root)")
  _one_of("objective", config.objective, objectives.OBJECTIVE_WEIGHTS)
  _one_of("loss", config.loss, objectives.LOSS_TYPES)
  _one_of("optimizer.name", config.optimizer.name, OPTIMIZERS)
  _one_of("init_transposed", config.init_transposed, INIT_TRANSPOSED)
  _one_of("data.source", d.source, SOURCES)
  try:
    data_setup.flow_settings(d)
  except ValueError as error:
    raise UserInputError(f"data.flow_backend={d.flow_backend!r} / data.flow_mode="
                         f"{d.flow_mode!r}: {error}") from None
  build_model(ModelConfig.from_mapping(m))  # every model field (ModelConfig), then the module
  if not parse_variant(m.variant)[1] and (m.skip_refinement or m.flow_noise_std):
    raise UserInputError(f"model.skip_refinement={m.skip_refinement} / model.flow_noise_std="
                         f"{m.flow_noise_std} need a flow-refinement variant (model.variant="
                         f"'{m.variant}_REF'); model.variant={m.variant!r} has none")
  if (config.objective == HR_INPUT_OBJECTIVE) != bool(d.hr_input):
    raise UserInputError(f"objective={config.objective!r} with data.hr_input={d.hr_input}: "
                         f"objective '{HR_INPUT_OBJECTIVE}' and data.hr_input=True go together")
  if config.loss == "Lf" and not config.vgg19_weights:
    raise UserInputError("loss 'Lf' needs config.vgg19_weights: torchvision's VGG19 ImageNet "
                         "state dict (.pth)")
  _one_of("data.clips", d.clips, ("triplet", "septuplet_triplets"))
  _one_of("data.lr_method", d.lr_method, LR_METHODS)
  if d.source == "tfds" and d.clips != "triplet":
    raise UserInputError(f"data.clips={d.clips!r} needs data.source='folder' (the TFDS builds "
                         "hold triplet samples)")
  if d.source == "tfds" and not d.tfds_data_dir:
    raise UserInputError("data.source='tfds' needs data.tfds_data_dir (where tfds_vimeo.prepare "
                         "built it)")
  if d.patch_size < 0:
    raise UserInputError(f"data.patch_size={d.patch_size} must be >= 0 (0 = whole frames)")
  multiple = lr_side_multiple(m.variant, int(m.scale))
  if not d.hr_input and d.patch_size % multiple:
    raise UserInputError(f"data.patch_size={d.patch_size} must be a multiple of {multiple} for "
                         f"model.variant={m.variant!r} at model.scale={m.scale} (its LR sides)")
  data_axis, _, _ = sharding.mesh_axis_sizes(config.mesh_shape, num_devices)
  step = math.lcm(num_processes, data_axis)
  for name in ("batch_size", "eval_batch_size"):
    size = config[name]
    if size < 1 or size % step:
      below = size // step * step
      nearest = (f"{below} or {below + step}" if below >= step else str(step))
      processes = f"the {num_processes} processes and " if num_processes > 1 else ""
      raise UserInputError(f"{name}={size} must be a positive multiple of {step} ({processes}"
                           f"the mesh's data axis of {data_axis}, mesh_shape="
                           f"{tuple(config.mesh_shape)}): e.g. {nearest}")
  _check_param_sharding(config.param_sharding)
  for name in ("log_every_steps", "eval_every_steps", "checkpoint_every_steps",
               "keep_checkpoints", "lost_process_timeout_seconds"):
    if config[name] < 1:
      raise UserInputError(f"{name}={config[name]} must be at least 1")
  if not config.total_steps and config.num_epochs < 1:
    raise UserInputError(f"num_epochs={config.num_epochs} must be at least 1 when total_steps "
                         "is not set")
  parse_profile_steps(config.profile_steps)
