"""ModelConfig: the one field list, its defaults, mapping access, validation on
construction, hashing, the one comparison, and reading the model_config.json files earlier
code wrote."""

import dataclasses
import json

import pytest

from star_jax.model import (COMPUTE_DTYPES, COMPUTE_FIELDS, SHAPE_FIELDS, VARIANTS, ModelConfig,
                            build_model)
from star_jax.train.config import base_config


def test_defaults_are_the_release_and_feed_the_experiment_configs():
  cfg = ModelConfig()
  assert (cfg.variant, cfg.scale, cfg.base_filter, cfg.feat, cfg.n_resblock) == (
      "V4_REF", 4, 256, 64, 5)
  assert base_config().model.to_dict() == cfg.to_dict()
  assert set(SHAPE_FIELDS) <= set(ModelConfig.field_names())


def test_the_training_configdict_converts_in_one_call():
  config = base_config()
  config.model.scale, config.model.dtype = 2, "bfloat16"
  assert ModelConfig.from_mapping(config.model) == ModelConfig(scale=2, dtype="bfloat16")


def test_reads_as_a_mapping_and_is_frozen():
  cfg = ModelConfig(scale=2, feat=8)
  assert cfg["scale"] == 2 and dict(cfg)["feat"] == 8 and len(cfg) == len(cfg.to_dict())
  with pytest.raises(KeyError):
    cfg["nope"]  # pylint: disable=pointless-statement
  with pytest.raises(dataclasses.FrozenInstanceError):
    cfg.scale = 4
  assert cfg.replace(scale=4).scale == 4 and cfg.scale == 2


def test_reads_model_config_json_as_earlier_code_wrote_it():
  """The file as the code before ModelConfig wrote it (json of the ConfigDict), and an
  older one without ``residual_bicubic``: both load, missing fields take the defaults."""
  written = json.dumps(base_config().model.to_dict() | {"scale": 2, "feat": 8}, indent=2)
  assert ModelConfig.from_mapping(json.loads(written)) == ModelConfig(scale=2, feat=8)
  older = {k: v for k, v in json.loads(written).items() if k != "residual_bicubic"}
  assert ModelConfig.from_mapping(older) == ModelConfig(scale=2, feat=8)


def test_unknown_fields_are_refused_by_name():
  with pytest.raises(ValueError, match=r"unknown model config fields: \['widht'\]"):
    ModelConfig.from_mapping({"widht": 3})
  with pytest.raises(ValueError, match="widht"):
    build_model({"widht": 3})


@pytest.mark.parametrize("field, value, allowed", [
    ("variant", "V5", ", ".join(VARIANTS)),
    ("scale", 3, "2, 4, 8"),
    ("dtype", "float16", ", ".join(COMPUTE_DTYPES)),
    ("param_dtype", "float64", ", ".join(COMPUTE_DTYPES)),
    ("remat", "some", "none, blocks, full"),
])
def test_values_out_of_range_are_refused_on_construction(field, value, allowed):
  message = f"model.{field}={value!r} is not one of {allowed}"
  for make in (lambda: ModelConfig(**{field: value}),
               lambda: ModelConfig().replace(**{field: value}),
               lambda: ModelConfig.from_mapping({field: value})):
    with pytest.raises(ValueError) as info:
      make()
    assert str(info.value) == message
  with pytest.raises(ValueError, match=r"unknown model config fields: \['widht'\]"):
    ModelConfig().replace(widht=3)


def test_equal_configs_are_one_cache_key():
  first, second = ModelConfig(scale=2), ModelConfig.from_mapping({"scale": 2})
  assert first == second and hash(first) == hash(second)
  assert len({first, second, ModelConfig(scale=2, dtype="bfloat16")}) == 2


def test_differences_name_the_differing_fields_in_field_order():
  ours = ModelConfig(scale=2, feat=8, dtype="bfloat16")
  theirs = ModelConfig(scale=4, feat=16)
  assert ours.differences(theirs) == ("scale", "feat", "dtype")
  assert ours.differences(theirs, SHAPE_FIELDS) == ("scale", "feat")
  assert ours.differences(ours.replace(remat="full"), COMPUTE_FIELDS) == ("remat",)
  assert ours.differences(ours) == ()
  assert ours.describe(("scale", "feat")) == "scale=2, feat=8"
