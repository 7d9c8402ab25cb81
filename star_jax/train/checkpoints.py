"""Preemption-safe checkpoints: orbax ``CheckpointManager`` (async, keep-N) holding the
train state, the grain iterator state and the config together, so a restart resumes
exactly -- same parameters, same next batch.

A checkpoint that does not restore (missing, truncated or zeroed files, unreadable
metadata) is passed over with a warning naming it and why, for the newest one that does;
it is moved, never deleted, to ``<workdir>/unrestorable_checkpoints/<step>`` so that the
run's next saves do not collide with it (:func:`restore_latest`).
"""

import logging
import pathlib
from typing import Any, Dict, Optional

import grain
import jax
from jax.experimental import multihost_utils
import numpy as np
import orbax.checkpoint as ocp

from star_jax.errors import UserInputError
from star_jax.model import COMPUTE_FIELDS, ModelConfig

CHECKPOINT_DIR = "checkpoints"
UNRESTORABLE_DIR = "unrestorable_checkpoints"  # beside CHECKPOINT_DIR


class ModelMismatchError(UserInputError):
  """A checkpoint holds another model than the config's (:func:`check_saved_model`)."""


class NoRestorableCheckpointError(UserInputError):
  """The workdir has checkpoints, and none of them restores (:func:`restore_latest`)."""


def make_manager(workdir, keep: int) -> ocp.CheckpointManager:
  directory = pathlib.Path(workdir).absolute() / CHECKPOINT_DIR
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                         enable_async_checkpointing=True)
  return ocp.CheckpointManager(directory, options=options,
                               item_names=("state", "data_iter", "config"))


def save(manager: ocp.CheckpointManager, step: int, state, data_iter, config,
         force: bool = False) -> None:
  """Starts the async save of ``step``: ``state``, ``data_iter``'s grain state and
  ``config`` (``force``: also when orbax's save policy would skip the step, e.g. on
  preemption)."""
  manager.save(step, force=force, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state),
      data_iter=grain.checkpoint.CheckpointSave(data_iter),
      config=ocp.args.JsonSave(config.to_dict())))


def abstract_with_shardings(abstract_tree, shardings):
  """ShapeDtypeStructs carrying the *target* shardings: restoring onto them places each
  array on the current mesh, whatever mesh it was saved from."""
  return jax.tree_util.tree_map(
      lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), abstract_tree, shardings)


def saved_config(manager: ocp.CheckpointManager, step: int) -> Dict[str, Any]:
  """The training config checkpoint ``step`` was saved with, as a dict (``config.to_dict()``
  of the run that wrote it)."""
  return manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))["config"]


def check_saved_model(manager: ocp.CheckpointManager, step: int,
                      model_config: ModelConfig) -> None:
  """Refuses, before restoring any array, a checkpoint saved for another model config.

  The saved model config is read with ``ModelConfig``'s defaults for fields it lacks: a field
  added later defaults to the behaviour before it existed, i.e. what the checkpoint was
  trained with. ``COMPUTE_FIELDS`` (``dtype``, ``remat``) may differ: they change how the
  same parameters are computed, not what they are.

  Raises:
    ModelMismatchError: one line naming the fields in ``ModelConfig``'s order, e.g.
      "checkpoint 200 in .../checkpoints was saved with model scale=2, feat=8 but the config
      says scale=4, feat=16 ...".
  """
  saved_model = ModelConfig.from_mapping(
      {k: v for k, v in saved_config(manager, step).get("model", {}).items()
       if k in ModelConfig.field_names()})
  fields = saved_model.differences(model_config, [k for k in ModelConfig.field_names()
                                                  if k not in COMPUTE_FIELDS])
  if fields:
    raise ModelMismatchError(
        f"checkpoint {step} in {manager.directory} was saved with model "
        f"{saved_model.describe(fields)} but the config says {model_config.describe(fields)}; "
        "resume with the same model or use another workdir (only model.dtype and "
        "model.remat may change on resume)")


def _reason(error: BaseException) -> str:
  """An exception as one short line: its type and the first line of its message."""
  lines = str(error).strip().splitlines()
  text = lines[0].split(" See full TensorStore details")[0] if lines else ""
  return f"{type(error).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"


def _everywhere(ok: bool) -> bool:
  """Whether ``ok`` holds on every process (one all-gather under jax.distributed)."""
  if jax.process_count() == 1:
    return ok
  return bool(np.all(multihost_utils.process_allgather(np.asarray(ok, np.int32))))


def _set_aside(manager: ocp.CheckpointManager, steps) -> Dict[int, pathlib.Path]:
  """Moves the checkpoints of ``steps`` to ``<workdir>/unrestorable_checkpoints/`` (process
  0 moves, every process waits for it); returns {step: new path}."""
  directory = pathlib.Path(manager.directory)
  target_root = directory.parent / UNRESTORABLE_DIR
  moved = {}
  for step in steps:
    target = target_root / str(step)
    suffix = 1
    while target.exists():
      target, suffix = target_root / f"{step}.{suffix}", suffix + 1
    moved[step] = target
    if jax.process_index() == 0 and (directory / str(step)).exists():
      target_root.mkdir(parents=True, exist_ok=True)
      (directory / str(step)).rename(target)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("star_jax: unrestorable checkpoints set aside")
  manager.reload()
  return moved


def restore_latest(manager: ocp.CheckpointManager, abstract_state, data_iter,
                   model_config=None) -> Optional[Any]:
  """Restores the newest checkpoint that restores into ``data_iter`` (in place) and
  returns the state, or None when the workdir has no checkpoint.

  Newer checkpoints that fail to restore (any error reading them: missing or damaged
  files, unreadable metadata or config) are logged as warnings naming the step and the
  error, and moved to ``<workdir>/unrestorable_checkpoints/<step>`` (never deleted) once an
  older one has restored. Under jax.distributed every process must restore the same step.

  Args:
    manager: the run's checkpoint manager.
    abstract_state: the state's ShapeDtypeStructs with their target shardings
      (:func:`abstract_with_shardings`).
    data_iter: the grain iterator, set to the restored checkpoint's position.
    model_config: a ``ModelConfig``; when given, a checkpoint of another model is refused first
      (:func:`check_saved_model`).
  Raises:
    ModelMismatchError: a checkpoint holds another model (not passed over: the config is
      what is wrong).
    NoRestorableCheckpointError: checkpoints exist and none restores; the message lists
      each step tried and why it failed.
  """
  steps = sorted(manager.all_steps(), reverse=True)
  failed = {}
  for step in steps:
    try:
      if model_config is not None:
        check_saved_model(manager, step, model_config)
      restored = manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state),
          data_iter=grain.checkpoint.CheckpointRestore(data_iter)))
      error = None
    except ModelMismatchError:
      raise
    except Exception as caught:  # pylint: disable=broad-except (any damage, any reader)
      error = caught
    if _everywhere(error is None):
      if failed:
        for moved_step, path in _set_aside(manager, failed).items():
          logging.warning("checkpoint %d in %s does not restore (%s); moved to %s, "
                          "resuming from checkpoint %d", moved_step, manager.directory,
                          failed[moved_step], path, step)
      return restored["state"]
    failed[step] = _reason(error) if error is not None else "failed on another process"
  if failed:
    raise NoRestorableCheckpointError(
        f"no checkpoint in {manager.directory} restores; tried "
        + ", ".join(f"checkpoint {step} ({reason})" for step, reason in failed.items())
        + ". Move them aside to start afresh (nothing was deleted), or use another workdir")
  return None
