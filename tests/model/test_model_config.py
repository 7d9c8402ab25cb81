"""ModelConfig: the one field list, its defaults, mapping access, and reading the
model_config.json files earlier code wrote."""

import dataclasses
import json

import pytest

from star_jax.model import SHAPE_FIELDS, ModelConfig, build_model, default_model_config


def test_defaults_are_the_release_and_feed_the_experiment_configs():
  cfg = ModelConfig()
  assert (cfg.variant, cfg.scale, cfg.base_filter, cfg.feat, cfg.n_resblock) == (
      "V4_REF", 4, 256, 64, 5)
  assert default_model_config().to_dict() == cfg.to_dict()
  assert set(SHAPE_FIELDS) <= set(ModelConfig.field_names())


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
  written = json.dumps(default_model_config().to_dict() | {"scale": 2, "feat": 8}, indent=2)
  assert ModelConfig.from_mapping(json.loads(written)) == ModelConfig(scale=2, feat=8)
  older = {k: v for k, v in json.loads(written).items() if k != "residual_bicubic"}
  assert ModelConfig.from_mapping(older) == ModelConfig(scale=2, feat=8)


def test_unknown_fields_are_refused_by_name():
  with pytest.raises(ValueError, match=r"unknown model config fields: \['widht'\]"):
    ModelConfig.from_mapping({"widht": 3})
  with pytest.raises(ValueError, match="widht"):
    build_model({"widht": 3})
