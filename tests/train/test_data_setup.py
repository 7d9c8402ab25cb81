"""The config's data fields -> flow settings, flow caches and pipeline configs."""

import json

from star_jax.data import flow_cache
from star_jax.flow import FlowSettings
from star_jax.train import data_setup
from star_jax.train.config import base_config


def _config(data_dir, **data):
  config = base_config()
  config.data.update(dir=str(data_dir), flow_backend="opencv_dis", **data)
  return config


def test_flow_settings_carry_the_mode_for_coarse2fine_only():
  config = base_config()
  config.data.flow_mode = "fast"
  assert data_setup.flow_settings(config.data) == FlowSettings("coarse2fine", {"mode": "fast"})
  config.data.flow_backend = "opencv_dis"
  assert data_setup.flow_settings(config.data) == FlowSettings("opencv_dis")


def test_pipelines_read_the_cache_prepare_data_wrote(tiny_dataset, tmp_path):
  config = _config(tiny_dataset, flow_cache_dir=str(tmp_path / "flows"), patch_size=8)
  data_setup.prepare_data(config)
  recorded = json.loads((tmp_path / "flows" / flow_cache.META_FILE).read_text())
  assert recorded["backend"] == "opencv_dis"
  assert len(list((tmp_path / "flows").rglob("*.npz"))) == 16 + 8  # both splits
  train = data_setup.pipeline_config(config, "train", True, 4)
  held_out = data_setup.pipeline_config(config, "test", False, 4)
  assert train.flow_cache_dir == held_out.flow_cache_dir == str(tmp_path / "flows")
  assert train.flow == held_out.flow == FlowSettings("opencv_dis")
  assert (train.patch_size, train.shuffle, train.num_epochs, train.drop_remainder) == (
      8, True, None, True)
  assert (held_out.patch_size, held_out.shuffle, held_out.num_epochs,
          held_out.drop_remainder, held_out.augment) == (0, False, 1, False, False)
  assert data_setup.num_clips(config, "train") == 16


def test_septuplet_triplets_with_matlab_lr(tiny_dataset, tmp_path):
  """configs/star_septuplet.py's data fields: the septuplet lists as triplets (five per
  septuplet), MATLAB-bicubic LR frames, flows cached for exactly those frames."""
  config = _config(tiny_dataset, clips="septuplet_triplets", lr_method="matlab",
                   flow_cache_dir=str(tmp_path / "flows"))
  data_setup.prepare_data(config)
  assert len(list((tmp_path / "flows").rglob("*@*.npz"))) == 5 * (1 + 1)  # both splits
  assert data_setup.num_clips(config, "train") == 5
  train = data_setup.pipeline_config(config, "train", True, 4)
  assert (train.clips, train.lr_method) == ("septuplet_triplets", "matlab")


def test_the_demo_dataset_is_generated_before_the_data_checks(tmp_path, monkeypatch):
  """``make demo`` on a fresh clone: no data yet, ``data.generate_demo`` on. The trainer's
  setup must generate the dataset, then check it (preflight), then cache flows; the flow
  caching (minutes) is where this test stops it."""
  from star_jax.train import trainer  # pylint: disable=g-import-not-at-top

  class ReachedFlowCaching(Exception):
    pass

  def stop(config):
    raise ReachedFlowCaching(config.data.dir)

  monkeypatch.setattr(data_setup, "prepare_data", stop)
  config = _config(tmp_path / "demo_data", generate_demo=True)
  try:
    trainer.setup(config, str(tmp_path / "workdir"))
  except ReachedFlowCaching:
    pass
  else:
    raise AssertionError("trainer.setup did not reach the flow caching")
  assert (tmp_path / "demo_data" / "tri_trainlist.txt").read_text().strip()
