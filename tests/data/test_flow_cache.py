"""Dataset flow cache: layout, contents, resumability, settings guard."""

import json

import numpy as np
import pytest

from star_jax.data import flow_cache as cache
from star_jax.errors import UserInputError
from star_jax.flow import FlowSettings, compute_flow, fr_targets, to_network_input


def _frames(clip):
  """Three frames of a texture moving right by 1 px per frame (deterministic per clip)."""
  seed = int(clip.replace("/", ""))
  rng = np.random.default_rng(seed)
  texture = np.cumsum(np.cumsum(rng.random((40, 60)), 0), 1)
  texture = 0.5 + 0.4 * np.sin(texture / texture.max() * 25)
  rgb = np.stack([texture, texture ** 2, 1 - texture], axis=-1).astype(np.float32)
  return tuple(np.ascontiguousarray(rgb[2:-2, 4 - k:52 - k]) for k in range(3))


CLIPS = ["00001/0001", "00001/0002", "00002/0001"]


def test_build_writes_network_convention_flows_and_resumes(tmp_path):
  computed = cache.build_flow_cache(CLIPS, _frames, tmp_path, settings=FlowSettings("opencv_dis"),
                                    batch_size=2, progress=False)
  assert computed == 3
  assert (tmp_path / "00001" / "0002.npz").is_file()
  assert json.loads((tmp_path / cache.META_FILE).read_text())["backend"] == "opencv_dis"
  assert not list(tmp_path.rglob("*.tmp"))
  im1, im2, im3 = _frames("00002/0001")
  stored = cache.load_cached_flows(tmp_path, "00002/0001")
  assert set(stored) == set(cache.CACHE_KEYS)
  assert all(a.dtype == np.float32 and a.shape == im1.shape[:2] + (2,) for a in stored.values())
  flow = lambda a, b: compute_flow(a, b, backend="opencv_dis")
  np.testing.assert_allclose(stored["flow_f"], to_network_input(flow(im1, im3)), atol=1e-6)
  np.testing.assert_allclose(stored["flow_b"], to_network_input(flow(im3, im1)), atol=1e-6)
  gt_f, gt_b = fr_targets(flow(im1, im2), flow(im2, im3), flow(im3, im2), flow(im2, im1))
  np.testing.assert_allclose(stored["gt_flow_f"], gt_f, atol=1e-6)
  np.testing.assert_allclose(stored["gt_flow_b"], gt_b, atol=1e-6)
  # Motion is 2 px right from im1 to im3: network convention is negative u.
  assert np.median(stored["flow_f"][..., 0]) == pytest.approx(-2 / 150, abs=0.2 / 150)

  # Resuming: nothing to do; after losing one file, only that clip is recomputed.
  assert cache.build_flow_cache(CLIPS, _frames, tmp_path, settings=FlowSettings("opencv_dis"),
                                progress=False) == 0
  (tmp_path / "00001" / "0001.npz").unlink()
  assert cache.build_flow_cache(CLIPS, _frames, tmp_path, settings=FlowSettings("opencv_dis"),
                                progress=False) == 1
  with pytest.raises(ValueError, match="records"):
    cache.build_flow_cache(CLIPS, _frames, tmp_path, settings=FlowSettings("opencv_farneback"),
                           progress=False)


def test_coarse2fine_cache_is_batched_on_device(tmp_path):
  clips = CLIPS[:2]
  assert cache.build_flow_cache(clips, _frames, tmp_path, batch_size=1, progress=False,
                                settings=FlowSettings("coarse2fine", {"mode": "fast"})) == 2
  stored = cache.load_cached_flows(tmp_path, clips[1])
  interior = (slice(6, -6), slice(6, -6))
  # 1 px right per frame: flow_f (im1 -> im3) is 2 px, each half-step 1 px, so the FR target
  # equals flow_f; backward flows are the negatives. In network units 1 px = -1/150. (On this
  # small, two-level frame the variational flow is only accurate to a few tenths of a pixel.)
  for key, u_px in [("flow_f", 2), ("gt_flow_f", 2), ("flow_b", -2), ("gt_flow_b", -2)]:
    np.testing.assert_allclose(np.median(stored[key][interior], axis=(0, 1)), [-u_px / 150, 0],
                               atol=0.3 / 150)


def test_errors_name_the_problem(tmp_path):
  with pytest.raises(UserInputError, match="00009/0001"):
    cache.load_cached_flows(tmp_path, "00009/0001")
  with pytest.raises(ValueError, match="relative path"):
    cache.clip_cache_path(tmp_path, "../escape")
  with pytest.raises(ValueError, match="above 1"):
    cache.build_flow_cache(["00001/0001"], lambda c: tuple(f * 255 for f in _frames(c)),
                           tmp_path, settings=FlowSettings("opencv_dis"), progress=False)
  assert cache.default_cache_dir("/data/vimeo", FlowSettings("opencv_dis"), 4).as_posix() == (
      "/data/vimeo/flow_cache/opencv_dis_x4")


def test_the_default_folder_is_keyed_by_every_setting(tmp_path):
  exact, fast = FlowSettings(), FlowSettings("coarse2fine", {"mode": "fast"})
  assert cache.default_cache_dir(tmp_path, exact, 4) == tmp_path / "flow_cache" / "coarse2fine_x4"
  assert cache.default_cache_dir(tmp_path, fast, 4) == (
      tmp_path / "flow_cache" / f"coarse2fine_x4_{fast.digest}")
  assert cache.default_cache_dir(tmp_path, fast, 4, hr_input=True).name == (
      f"coarse2fine_hr_{fast.digest}")
  assert len({cache.default_cache_dir(tmp_path, s, 4) for s in (
      exact, fast, FlowSettings("coarse2fine", {"alpha": 0.02}))}) == 3


def test_an_earlier_versions_plain_named_cache_is_found_or_refused(tmp_path):
  """Before the settings were in the folder name, 'fast' flows went to the plain name."""
  fast = FlowSettings("opencv_dis", {"preset": "fast"})
  plain = tmp_path / "flow_cache" / "opencv_dis_x4"
  cache.build_flow_cache(CLIPS[:1], _frames, plain, settings=fast, progress=False)
  assert cache.default_cache_dir(tmp_path, fast, 4) == plain
  with pytest.raises(ValueError, match=f"delete {plain} .*data.flow_cache_dir"):
    cache.check_settings(cache.default_cache_dir(tmp_path, FlowSettings("opencv_dis"), 4),
                         FlowSettings("opencv_dis"))
