"""Preemption-safe checkpoints: orbax ``CheckpointManager`` (async, keep-N) holding the
train state, the grain iterator state and the config together, so a restart resumes
exactly -- same parameters, same next batch."""

import logging
import pathlib
from typing import Any, Optional

import grain
import jax
import orbax.checkpoint as ocp

CHECKPOINT_DIR = "checkpoints"


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


def finish_saves(manager: ocp.CheckpointManager) -> None:
  """Waits until the async saves in flight are final on disk, on the way out of a failed
  run (so a failure elsewhere, e.g. in a data worker, never leaves the last checkpoint
  half-written). A failure of the save itself is logged, not raised: the run's own error
  is the one to report."""
  try:
    manager.wait_until_finished()
  except Exception as error:  # pylint: disable=broad-except
    logging.warning("the checkpoint save in flight failed too (%s: %s)", type(error).__name__,
                    error)


def abstract_with_shardings(abstract_tree, shardings):
  """ShapeDtypeStructs carrying the *target* shardings: restoring onto them places each
  array on the current mesh, whatever mesh it was saved from."""
  return jax.tree_util.tree_map(
      lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), abstract_tree, shardings)


def check_saved_model(manager: ocp.CheckpointManager, step: int, model_config) -> None:
  """Refuses, before restoring any array, a checkpoint saved for another model config.

  Raises:
    ValueError: one line naming the fields, e.g. "checkpoint 200 in .../checkpoints was
      saved with model scale=2, feat=8 but the config says scale=4, feat=16 ...".
  """
  saved = manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
  saved_model = dict(saved["config"].get("model", {}))
  wanted = dict(model_config)
  fields = [k for k in sorted(wanted) if k in saved_model and saved_model[k] != wanted[k]]
  if fields:
    raise ValueError(
        f"checkpoint {step} in {manager.directory} was saved with model "
        f"{', '.join(f'{k}={saved_model[k]}' for k in fields)} but the config says "
        f"{', '.join(f'{k}={wanted[k]}' for k in fields)}; resume with the same model or "
        "use another workdir")


def restore_latest(manager: ocp.CheckpointManager, abstract_state, data_iter,
                   model_config=None) -> Optional[Any]:
  """Restore the newest checkpoint into ``data_iter`` (in place) and return the state, or
  None when the workdir has no checkpoint. With ``model_config``, a checkpoint of another
  model is refused first (:func:`check_saved_model`)."""
  step = manager.latest_step()
  if step is None:
    return None
  if model_config is not None:
    check_saved_model(manager, step, model_config)
  restored = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state),
      data_iter=grain.checkpoint.CheckpointRestore(data_iter)))
  return restored["state"]
