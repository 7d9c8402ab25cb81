"""validate(config): every shipped config passes; each impossible combination is refused
with one line naming its fields."""

import importlib.util
import re

import pytest

from star_jax.train.config_checks import validate
from tests.train.conftest import REPO

CONFIGS = ("star", "star_st", "star_s", "star_t_lr", "star_t_hr", "star_septuplet", "demo")


def _config(name="star", **overrides):
  spec = importlib.util.spec_from_file_location(name, REPO / "configs" / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  config.data.dir = "/data/vimeo"
  for path, value in overrides.items():
    *parents, leaf = path.split("__")
    node = config
    for parent in parents:
      node = node[parent]
    node[leaf] = value
  return config


@pytest.mark.parametrize("name", CONFIGS)
def test_every_shipped_config_passes(name):
  validate(_config(name), num_devices=1, num_processes=1)


@pytest.mark.parametrize("name, objective", [("star_st", "STAR-ST"), ("star_s", "STAR-S"),
                                             ("star_t_lr", "STAR-T-LR"),
                                             ("star_t_hr", "STAR-T-HR")])
def test_the_fine_tuning_configs_follow_the_papers_schedule(name, objective):
  # ../shared/spec/starnet-data-and-training.md: 20 more epochs at 1e-4, / 10 every 10.
  config = _config(name)
  assert (config.objective, config.num_epochs, config.lr_decay_every_epochs,
          config.lr_decay_factor, config.optimizer.learning_rate,
          config.require_accelerator) == (objective, 20, 10, 0.1, 1e-4, True)


@pytest.mark.parametrize("overrides, message", [
    (dict(data__dir=None), "data.dir is not set"),
    (dict(objective="STAR-T-HR"), "objective='STAR-T-HR' with data.hr_input=False"),
    (dict(data__hr_input=True), "objective='STAR' with data.hr_input=True"),
    (dict(objective="STAR-X"), "objective='STAR-X' is not one of"),
    (dict(loss="Lf"), "vgg19_weights"),
    (dict(loss="L2"), "loss='L2'"),
    (dict(optimizer__name="sgd"), "optimizer.name='sgd'"),
    (dict(init_transposed="zeros"), "init_transposed='zeros'"),
    (dict(data__source="lmdb"), "data.source='lmdb'"),
    (dict(data__source="tfds"), "data.tfds_data_dir"),
    (dict(data__clips="septuplet"), "data.clips='septuplet'"),
    (dict(data__lr_method="lanczos"), "data.lr_method='lanczos'"),
    (dict(data__source="tfds", data__tfds_data_dir="/t", data__clips="septuplet_triplets"),
     "data.clips='septuplet_triplets' needs data.source='folder'"),
    (dict(data__flow_backend="raft"), "data.flow_backend='raft'"),
    (dict(data__flow_mode="slow"), "data.flow_mode='slow'"),
    (dict(model__scale=3), "model.scale=3"),
    (dict(model__variant="V5"), "model.variant='V5' is not one of V1, V2"),
    (dict(model__remat="some"), "model.remat"),
    (dict(model__dtype="float16"), "model.dtype='float16' is not one of float32, bfloat16"),
    (dict(model__param_dtype="float16"), "model.param_dtype='float16'"),
    (dict(model__variant="V4", model__flow_noise_std=0.1), "model.variant='V4_REF'"),
    (dict(data__patch_size=-1), "data.patch_size=-1"),
    (dict(batch_size=5), r"batch_size=5 .* data axis of 2, mesh_shape=\(-1, 1\)\): e\.g\. 4 or 6"),
    (dict(eval_batch_size=3), "eval_batch_size=3"),
    (dict(mesh_shape=(3, 1)), "needs 3 devices"),
    (dict(eval_every_steps=0), "eval_every_steps=0"),
    (dict(num_epochs=0), "num_epochs=0"),
    (dict(profile_steps=(0, 2)), "profile_steps"),
    (dict(param_sharding=((".*kernel", (None, None, None, "modle")),)),
     r"param_sharding rule '.\*kernel' names \['modle'\], not axes of the mesh"),
    (dict(param_sharding=((".*kernel", (None, ("model", "dta"))),)), r"names \['dta'\]"),
    (dict(param_sharding=(("(kernel", (None, "model")),)), r"param_sharding regex '\(kernel'"),
    (dict(param_sharding=((".*kernel",),)), "must be a pair"),
])
def test_impossible_combinations_are_refused(overrides, message):
  with pytest.raises(ValueError, match=message):
    validate(_config(**overrides), num_devices=2, num_processes=2)


def test_batch_sizes_must_divide_over_the_processes():
  with pytest.raises(ValueError, match=re.escape(
      "batch_size=10 must be a positive multiple of 4 (the 4 processes and the mesh's data "
      "axis of 4, mesh_shape=(-1, 1)): e.g. 8 or 12")):
    validate(_config(), num_devices=4, num_processes=4)
  validate(_config(batch_size=8, eval_batch_size=8), num_devices=8, num_processes=4)
