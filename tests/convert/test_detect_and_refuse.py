"""Auto-detection of all 8 variants from state dicts, and refusal of foreign checkpoints."""

import jax
import numpy as np
import pytest
import torch

from star_jax.convert import (CheckpointMismatchError, detect_model_config, release_to_variables,
                              torch_io, variables_to_state_dict)
from star_jax.cli import convert as convert_cli
from star_jax.model import VARIANTS, ModelConfig, abstract_variables
from star_jax.weights import save_checkpoint


def _exported_state_dict(**fields):
  """A release-format state dict of our own model (zeros), at narrow widths."""
  shapes = abstract_variables(ModelConfig(**fields))
  variables = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
  return variables_to_state_dict(variables)


@pytest.mark.parametrize("variant", VARIANTS)
def test_detects_every_variant(variant):
  scale = {"V1": 2, "V2": 8}.get(variant[:2], 4)
  state = _exported_state_dict(variant=variant, scale=scale, base_filter=12, feat=6, n_resblock=3)
  cfg = detect_model_config(state)
  assert (cfg.variant, cfg.scale, cfg.base_filter, cfg.feat, cfg.n_resblock) == (
      variant, scale, 12, 6, 3)


def _save(state, path, prefix="module."):
  torch.save({prefix + k: torch.from_numpy(v) for k, v in state.items()}, path)
  return path


@pytest.mark.parametrize("prefix", ["module.", ""])
def test_loads_with_or_without_dataparallel_prefix(tmp_path, prefix):
  state = _exported_state_dict(variant="V3", base_filter=8, feat=4, n_resblock=1)
  loaded = torch_io.load_release_state_dict(_save(state, tmp_path / "m.pth", prefix))
  assert set(loaded) == set(state)


def test_refuses_missing_unexpected_and_misshaped_keys_listing_them():
  state = _exported_state_dict(variant="V4", base_filter=8, feat=4, n_resblock=1)
  del state["motion_feat.conv.bias"]
  state["extra.layer.weight"] = np.zeros(3, np.float32)
  state["reconstruction_h.conv.weight"] = np.zeros((3, 4, 5, 5), np.float32)
  with pytest.raises(CheckpointMismatchError) as info:
    release_to_variables(state)
  message = str(info.value)
  assert "motion_feat.conv.bias" in message and "extra.layer.weight" in message
  assert "reconstruction_h.conv.weight: (3, 4, 5, 5) vs (3, 4, 3, 3)" in message
  assert info.value.missing == ["motion_feat.conv.bias"]


def test_override_that_contradicts_the_weights_is_refused():
  state = _exported_state_dict(variant="V4", base_filter=8, feat=4, n_resblock=1)
  with pytest.raises(CheckpointMismatchError, match="RBPN.res_feat1.5.deconv.weight"):
    release_to_variables(state, {"scale": 2})


def test_refuses_foreign_and_ambiguous_models():
  with pytest.raises(ValueError, match="not a STARnet"):
    detect_model_config({"features.0.weight": np.zeros((64, 3, 3, 3))})
  v1 = _exported_state_dict(variant="V1", base_filter=8, feat=4, n_resblock=1)
  v4 = _exported_state_dict(variant="V4", base_filter=8, feat=4, n_resblock=1)
  mixed = dict(v4, **{k: v for k, v in v1.items() if k.startswith("warp1.")})
  with pytest.raises(ValueError, match="ambiguous"):
    detect_model_config(mixed)
  ref = _exported_state_dict(variant="V2_REF", base_filter=8, feat=4, n_resblock=1)
  with pytest.raises(ValueError, match="ambiguous"):
    detect_model_config({k: v for k, v in ref.items() if not k.startswith("flow_net.")})


def test_cli_refusal_is_one_clear_error(tmp_path, capsys):
  state = _exported_state_dict(variant="V2", base_filter=8, feat=4, n_resblock=1)
  del state["t_net_hr.1.final.conv.weight"]
  path = _save(state, tmp_path / "broken.pth")
  assert convert_cli.main(["to-flax", str(path), str(tmp_path / "out")]) == 2
  err = capsys.readouterr().err
  assert err.startswith("error: checkpoint does not match") and "t_net_hr.1.final.conv.weight" in err
  assert not (tmp_path / "out").exists()  # never a partial conversion
  (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
  assert convert_cli.main(["detect", str(tmp_path / "junk.pth")]) == 2
  assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


def test_to_torch_refuses_a_residual_bicubic_model(tmp_path, capsys):
  """The release has no output-over-bicubic: exporting it would silently change outputs."""
  cfg = ModelConfig(variant="V4", base_filter=8, feat=4, n_resblock=1, residual_bicubic=True)
  variables = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype),
                                     abstract_variables(cfg))
  save_checkpoint(tmp_path / "ckpt", cfg, variables)
  out = tmp_path / "out.pth"
  assert convert_cli.main(["to-torch", str(tmp_path / "ckpt"), str(out)]) == 2
  error = capsys.readouterr().err
  assert error.count("\n") == 1 and "residual_bicubic=True" in error
  assert not out.exists()
