"""Resuming a workdir whose checkpoints were saved for another model: one line, before any
array is restored; compute settings (remat, dtype) may change."""

import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest

from star_jax.model import default_model_config
from star_jax.train import checkpoints


def _config(**model_fields):
  model = default_model_config()
  model.update(model_fields)
  return ml_collections.ConfigDict(dict(model=model.to_dict(), total_steps=10))


def test_checkpoint_of_another_model_is_refused_before_restoring(tmp_path):
  saved_config = _config(variant="V4", scale=2, feat=8)
  manager = checkpoints.make_manager(tmp_path, keep=1)
  manager.save(7, args=ocp.args.Composite(
      state=ocp.args.StandardSave({"w": np.zeros((3, 3), np.float32)}),
      config=ocp.args.JsonSave(saved_config.to_dict())))
  manager.wait_until_finished()
  checkpoints.check_saved_model(manager, 7, saved_config.model)  # the same model passes
  with pytest.raises(ValueError) as info:
    checkpoints.check_saved_model(manager, 7, _config(variant="V4", scale=4, feat=16).model)
  assert str(info.value) == (
      f"checkpoint 7 in {tmp_path / 'checkpoints'} was saved with model feat=8, scale=2 but "
      "the config says feat=16, scale=4; resume with the same model or use another workdir "
      "(only model.dtype and model.remat may change on resume)")
  # Compute settings may change on resume; what the model computes may not.
  checkpoints.check_saved_model(
      manager, 7, _config(variant="V4", scale=2, feat=8, remat="blocks", dtype="bfloat16").model)
  with pytest.raises(ValueError, match="residual_bicubic=False but the config says "
                                       "residual_bicubic=True"):
    checkpoints.check_saved_model(
        manager, 7, _config(variant="V4", scale=2, feat=8, residual_bicubic=True).model)
  manager.close()


def test_a_saved_config_is_read_with_the_defaults_it_was_written_under(tmp_path):
  """A checkpoint written before a model field existed was trained with that field's
  default (a new field's default keeps the old behaviour): a config asking otherwise is
  refused, the default passes."""
  written = _config(variant="V4", scale=2, feat=8).to_dict()
  del written["model"]["residual_bicubic"]
  manager = checkpoints.make_manager(tmp_path, keep=1)
  manager.save(3, args=ocp.args.Composite(
      state=ocp.args.StandardSave({"w": np.zeros((3, 3), np.float32)}),
      config=ocp.args.JsonSave(written)))
  manager.wait_until_finished()
  checkpoints.check_saved_model(manager, 3, _config(variant="V4", scale=2, feat=8).model)
  with pytest.raises(ValueError, match="residual_bicubic=False but the config says "
                                       "residual_bicubic=True"):
    checkpoints.check_saved_model(
        manager, 3, _config(variant="V4", scale=2, feat=8, residual_bicubic=True).model)
  manager.close()
