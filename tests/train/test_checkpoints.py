"""Resuming a workdir whose checkpoints were saved for another model: one line, before any
array is restored; compute settings (remat, dtype) may change; checkpoints that do not
restore are passed over (and kept), or listed in one error when none restores."""

import grain
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
import pytest

from star_jax.model import ModelConfig
from star_jax.train import checkpoints


def _config(**model_fields):
  """A training config (a ConfigDict, as training saves it) with these model fields."""
  return ml_collections.ConfigDict(dict(model=ModelConfig(**model_fields).to_dict(),
                                        total_steps=10))


def test_checkpoint_of_another_model_is_refused_before_restoring(tmp_path):
  saved_config = _config(variant="V4", scale=2, feat=8)
  manager = checkpoints.make_manager(tmp_path, keep=1)
  manager.save(7, args=ocp.args.Composite(
      state=ocp.args.StandardSave({"w": np.zeros((3, 3), np.float32)}),
      config=ocp.args.JsonSave(saved_config.to_dict())))
  manager.wait_until_finished()
  # The same model passes, handed over as the trainer does.
  checkpoints.check_saved_model(manager, 7, ModelConfig.from_mapping(saved_config.model))
  with pytest.raises(ValueError) as info:
    checkpoints.check_saved_model(manager, 7, ModelConfig(variant="V4", scale=4, feat=16))
  assert str(info.value) == (
      f"checkpoint 7 in {tmp_path / 'checkpoints'} was saved with model scale=2, feat=8 but "
      "the config says scale=4, feat=16; resume with the same model or use another workdir "
      "(only model.dtype and model.remat may change on resume)")
  # Compute settings may change on resume; what the model computes may not.
  checkpoints.check_saved_model(
      manager, 7, ModelConfig(variant="V4", scale=2, feat=8, remat="blocks", dtype="bfloat16"))
  with pytest.raises(ValueError, match="residual_bicubic=False but the config says "
                                       "residual_bicubic=True"):
    checkpoints.check_saved_model(
        manager, 7, ModelConfig(variant="V4", scale=2, feat=8, residual_bicubic=True))
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
  checkpoints.check_saved_model(manager, 3, ModelConfig(variant="V4", scale=2, feat=8))
  with pytest.raises(ValueError, match="residual_bicubic=False but the config says "
                                       "residual_bicubic=True"):
    checkpoints.check_saved_model(
        manager, 3, ModelConfig(variant="V4", scale=2, feat=8, residual_bicubic=True))
  manager.close()


def _save_steps(workdir, steps):
  """Checkpoints of a tiny state {"w": [step] * 4} and a grain iterator that has yielded
  ``step`` elements, at each of ``steps``."""
  manager = checkpoints.make_manager(workdir, keep=5)
  data_iter = iter(grain.MapDataset.range(100).to_iter_dataset())
  for step in range(1, max(steps) + 1):
    next(data_iter)
    if step in steps:
      checkpoints.save(manager, step, {"w": np.full((4,), step, np.float32)}, data_iter,
                       _config())
  manager.wait_until_finished()
  return manager


def _restore(manager):
  data_iter = iter(grain.MapDataset.range(100).to_iter_dataset())
  abstract = {"w": jax.ShapeDtypeStruct((4,), np.float32)}
  state = checkpoints.restore_latest(manager, abstract, data_iter)
  return state, data_iter


def test_unrestorable_newest_checkpoints_are_passed_over_and_moved_aside(tmp_path):
  manager = _save_steps(tmp_path, (2, 4, 6))
  data_file = tmp_path / "checkpoints" / "6" / "state" / "manifest.ocdbt"
  data_file.write_bytes(bytes(data_file.stat().st_size))  # zeroed
  (tmp_path / "checkpoints" / "4" / "data_iter" / "process_0-of-1.json").unlink()  # missing
  state, data_iter = _restore(manager)
  np.testing.assert_array_equal(state["w"], np.full((4,), 2, np.float32))
  assert next(data_iter) == 2  # the iterator is where checkpoint 2 left it
  assert manager.all_steps() == [2]
  aside = tmp_path / checkpoints.UNRESTORABLE_DIR
  assert sorted(p.name for p in aside.iterdir()) == ["4", "6"]
  kept = aside / "6" / data_file.relative_to(tmp_path / "checkpoints" / "6")
  assert kept.read_bytes() == bytes(len(kept.read_bytes())) and kept.stat().st_size > 0
  manager.close()


def test_no_checkpoint_restores_lists_what_was_tried(tmp_path):
  manager = _save_steps(tmp_path, (1, 3))
  for step in (1, 3):
    (tmp_path / "checkpoints" / str(step) / "state" / "_METADATA").write_text("{not json")
  with pytest.raises(checkpoints.NoRestorableCheckpointError) as info:
    _restore(manager)
  assert str(info.value).startswith(
      f"no checkpoint in {tmp_path / 'checkpoints'} restores; tried checkpoint 3 (")
  assert "checkpoint 1 (" in str(info.value)
  assert manager.all_steps() == [1, 3]  # nothing moved, nothing deleted
  manager.close()
