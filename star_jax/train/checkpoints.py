"""Preemption-safe checkpoints: orbax ``CheckpointManager`` (async, keep-N) holding the
train state, the grain iterator state and the config together, so a restart resumes
exactly -- same parameters, same next batch."""

import pathlib
from typing import Any, Dict, Optional

import grain
import jax
import orbax.checkpoint as ocp

from star_jax.model import COMPUTE_FIELDS, ModelConfig

CHECKPOINT_DIR = "checkpoints"


def make_manager(workdir, keep: int) -> ocp.CheckpointManager:
  directory = pathlib.Path(workdir).absolute() / CHECKPOINT_DIR
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                         enable_async_checkpointing=True)
  return ocp.CheckpointManager(directory, options=options,
                               item_names=("state", "data_iter", "config"))


def save(manager: ocp.CheckpointManager, step: int, state, data_iter, config) -> None:
  manager.save(step, args=ocp.args.Composite(
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


def check_saved_model(manager: ocp.CheckpointManager, step: int, model_config) -> None:
  """Refuses, before restoring any array, a checkpoint saved for another model config.

  The saved model config is read with ``ModelConfig``'s defaults for fields it lacks: a field
  added later defaults to the behaviour before it existed, i.e. what the checkpoint was
  trained with. ``COMPUTE_FIELDS`` (``dtype``, ``remat``) may differ: they change how the
  same parameters are computed, not what they are.

  Raises:
    ValueError: one line naming the fields, e.g. "checkpoint 200 in .../checkpoints was
      saved with model scale=2, feat=8 but the config says scale=4, feat=16 ...".
  """
  saved_model = ModelConfig.from_mapping(
      {k: v for k, v in saved_config(manager, step).get("model", {}).items()
       if k in ModelConfig.field_names()})
  wanted = dict(model_config)
  fields = [k for k in sorted(wanted) if k in saved_model and k not in COMPUTE_FIELDS
            and saved_model[k] != wanted[k]]
  if fields:
    raise ValueError(
        f"checkpoint {step} in {manager.directory} was saved with model "
        f"{', '.join(f'{k}={saved_model[k]}' for k in fields)} but the config says "
        f"{', '.join(f'{k}={wanted[k]}' for k in fields)}; resume with the same model or "
        "use another workdir (only model.dtype and model.remat may change on resume)")


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
