"""Model weights on disk: star_jax's own checkpoint directory, and one loader for it or a
release ``.pth``.

A checkpoint directory holds ``model_config.json`` (the fields of
``star_jax.model.ModelConfig``) and ``variables/``, an orbax tree of the Flax variables
(``params`` and ``batch_stats``, float32 unless the model was trained with another
``param_dtype``). Training exports one to ``<workdir>/model``; ``python -m star_jax.convert
to-flax`` writes one from a release ``.pth``; infer, evaluate, export and
``config.init_from`` load either kind through :func:`load_weights`.

This module sits above ``star_jax.convert`` (its config check names fields through the
release's shape detection) and below infer, evaluate and train.
"""

import json
import pathlib
from typing import Any, Dict, Optional, Tuple

import jax
import orbax.checkpoint as ocp

from star_jax.convert import mapping, torch_io
from star_jax.convert.detect import detect_model_config
from star_jax.errors import UserInputError
from star_jax.model import SHAPE_FIELDS, ModelConfig, abstract_variables

MODEL_CONFIG_FILE = "model_config.json"
VARIABLES_DIR = "variables"


def save_checkpoint(directory, model_cfg: ModelConfig, variables) -> pathlib.Path:
  """Write ``directory/model_config.json`` (``model_cfg``'s fields) and
  ``directory/variables`` (orbax).

  With several JAX processes every process must call this (orbax writes each array's
  shards from the processes that hold them); the JSON is written by process 0.
  """
  directory = pathlib.Path(directory).absolute()
  directory.mkdir(parents=True, exist_ok=True)
  with ocp.StandardCheckpointer() as ckptr:
    ckptr.save(directory / VARIABLES_DIR, dict(variables), force=True)
  if jax.process_index() == 0:
    (directory / MODEL_CONFIG_FILE).write_text(json.dumps(model_cfg.to_dict(), indent=2) + "\n")
  return directory


def stored_state_dict_shapes(directory) -> Dict[str, jax.ShapeDtypeStruct]:
  """Release key -> shape of every array in a checkpoint's ``variables/`` tree, from orbax's
  metadata only (no array is read)."""
  variables_dir = pathlib.Path(directory).absolute() / VARIABLES_DIR
  if not variables_dir.is_dir():
    raise UserInputError(f"{directory} is not a star_jax checkpoint: {VARIABLES_DIR}/ missing")
  with ocp.StandardCheckpointer() as ckptr:
    tree = ckptr.metadata(variables_dir).item_metadata
  nested: Dict[str, Any] = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
    node = nested
    keys = [getattr(key, "key", getattr(key, "name", key)) for key in path]
    for key in keys[:-1]:
      node = node.setdefault(key, {})
    node[keys[-1]] = leaf
  return {key: jax.ShapeDtypeStruct(shape, "float32")
          for key, (shape, _) in mapping.expected_state_dict_shapes(nested).items()}


def check_config_matches_weights(directory, model_cfg: ModelConfig, stored) -> None:
  """One line naming the ``model_config.json`` fields the stored shapes contradict, before
  any model is built; then the key-by-key check (CheckpointMismatchError) for anything the
  shapes reveal beyond those fields.

  Raises:
    UserInputError: e.g. "... model_config.json says scale=2, feat=8 but the weights are
      scale=4, feat=16".
  """
  try:
    found = detect_model_config(stored)
  except ValueError:
    found = None  # not recognisable as a STARnet: the key-by-key check below says why
  if found is not None:
    fields = model_cfg.differences(found, SHAPE_FIELDS)
    if fields:
      raise UserInputError(f"{pathlib.Path(directory) / MODEL_CONFIG_FILE} says "
                           f"{model_cfg.describe(fields)} but the weights in {VARIABLES_DIR}/ are "
                           f"{found.describe(fields)}")
  mapping.check_state_dict(stored, abstract_variables(model_cfg),
                           context=f"configured in {MODEL_CONFIG_FILE}")


def load_checkpoint(directory) -> Tuple[ModelConfig, Dict[str, Any]]:
  """(model config, variables) of a star_jax checkpoint directory.

  ``model_config.json`` is checked against the shapes stored in the orbax metadata before
  anything is restored or computed (:func:`check_config_matches_weights`).

  Raises:
    UserInputError: no ``model_config.json`` or ``variables/``; ``model_config.json`` holds an unknown field or a value out of range, or
      the config and the stored weights disagree (one line naming the fields).
  """
  directory = pathlib.Path(directory).absolute()
  config_file = directory / MODEL_CONFIG_FILE
  if not config_file.is_file():
    raise UserInputError(f"{directory} is not a star_jax checkpoint: {MODEL_CONFIG_FILE} missing")
  try:
    cfg = ModelConfig.from_mapping(json.loads(config_file.read_text()))
  except ValueError as error:
    raise UserInputError(f"{config_file}: {error}") from None
  check_config_matches_weights(directory, cfg, stored_state_dict_shapes(directory))
  target = abstract_variables(cfg)
  with ocp.StandardCheckpointer() as ckptr:
    variables = ckptr.restore(directory / VARIABLES_DIR, target)
  return cfg, variables


def load_weights(path, overrides: Optional[dict] = None
                 ) -> Tuple[ModelConfig, Dict[str, Any]]:
  """(model config, variables) from a release ``.pth``/``.pth.gz`` (converted on the fly;
  ``overrides`` as in ``star_jax.convert.release_to_variables``) or a star_jax checkpoint
  directory (:func:`load_checkpoint`); a directory is a checkpoint, a file a ``.pth``.

  Raises:
    UserInputError: ``path`` does not exist, or is a directory without the checkpoint's
      files; weights that match no STARnet or contradict their config (one line);
      ``CheckpointMismatchError`` (a UserInputError) lists every offending key.
  """
  path = pathlib.Path(path)
  if path.is_dir():
    return load_checkpoint(path)
  if not path.exists():
    raise UserInputError(f"weights {path} do not exist")
  return mapping.release_to_variables(torch_io.load_release_state_dict(path), overrides)
