"""star_jax checkpoint directories whose ``model_config.json`` disagrees with the stored
weights: one line naming the fields, before any model is built."""

import json
import shutil

import pytest

from star_jax import weights
from star_jax.convert import release_to_variables, torch_io
from star_jax.errors import UserInputError
from star_jax.weights import load_checkpoint, save_checkpoint
from star_jax.infer.inference_weights import load_inference_weights


@pytest.fixture(scope="module")
def checkpoint(shared_dir, tmp_path_factory):
  """The narrow V4 x2 release model (base_filter 16, feat 8, n_resblock 2) as a checkpoint."""
  cfg, variables = release_to_variables(
      torch_io.load_release_state_dict(shared_dir / "parity" / "V4_x2" / "model.pth.gz"))
  return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "v4x2", cfg, variables)


def _with_config(checkpoint, tmp_path, **fields):
  copy = tmp_path / "edited"
  shutil.copytree(checkpoint, copy)
  config = json.loads((copy / weights.MODEL_CONFIG_FILE).read_text())
  config.update(fields)
  (copy / weights.MODEL_CONFIG_FILE).write_text(json.dumps(config))
  return copy


@pytest.mark.parametrize("fields, said, are", [
    (dict(scale=4, feat=16), "scale=4, feat=16", "scale=2, feat=8"),
    (dict(variant="V2", n_resblock=5), "variant=V2, n_resblock=5", "variant=V4, n_resblock=2"),
    (dict(base_filter=32), "base_filter=32", "base_filter=16"),
])
def test_disagreeing_config_is_named_in_one_line_before_building(checkpoint, tmp_path,
                                                                 monkeypatch, fields, said, are):
  edited = _with_config(checkpoint, tmp_path, **fields)

  def no_model(cfg):
    raise AssertionError("the model was built before the config was checked")
  monkeypatch.setattr(weights, "abstract_variables", no_model)
  with pytest.raises(ValueError) as info:
    load_checkpoint(edited)
  assert str(info.value) == (f"{edited / 'model_config.json'} says {said} but the weights in "
                             f"variables/ are {are}")
  with pytest.raises(UserInputError, match=f"^cannot load weights .* says {said} but"):
    load_inference_weights(edited)


def test_agreeing_config_loads(checkpoint):
  cfg, variables = load_checkpoint(checkpoint)
  assert (cfg.variant, cfg.scale, cfg.feat) == ("V4", 2, 8)
  assert variables["params"]["RBPN"]["feat0"]["conv"]["kernel"].shape[-1] == 16  # base_filter


def test_missing_variables_folder_is_named(checkpoint, tmp_path):
  copy = tmp_path / "novars"
  copy.mkdir()
  shutil.copy(checkpoint / weights.MODEL_CONFIG_FILE, copy)
  with pytest.raises(UserInputError, match="novars is not a star_jax checkpoint: variables/ missing"):
    load_checkpoint(copy)


def test_a_value_out_of_range_names_the_file_and_the_field(checkpoint, tmp_path):
  edited = _with_config(checkpoint, tmp_path, remat="sometimes")
  with pytest.raises(ValueError) as info:
    load_checkpoint(edited)
  assert str(info.value) == (f"{edited / 'model_config.json'}: model.remat='sometimes' is not "
                             "one of none, blocks, full")


def test_init_from_another_model_is_refused_naming_the_fields(checkpoint):
  """The trainer's ``init_from`` check compares the shape fields through
  ``ModelConfig.differences``, the training ConfigDict handed over by ``from_mapping``."""
  from star_jax.train import config as config_lib, trainer  # pylint: disable=g-import-not-at-top
  config = config_lib.base_config()
  config.init_from = str(checkpoint)
  config.model.update(variant="V4", scale=4, base_filter=16, feat=16, n_resblock=2,
                      dtype="bfloat16")
  with pytest.raises(ValueError) as info:
    trainer.init_from_weights(config)
  assert str(info.value) == (f"init_from {checkpoint} holds a different model: the weights are "
                             "scale=2, feat=8 but the config says scale=4, feat=16")
  config.model.update(scale=2, feat=8)  # dtype is not a shape field
  model_cfg, _ = trainer.init_from_weights(config)
  assert (model_cfg.scale, model_cfg.feat) == (2, 8)
