"""The grain input pipeline on the demo dataset with a real flow cache."""

import itertools
import json
import shutil

import numpy as np
import pytest

from star_jax.data import augment
from star_jax.data import flow_cache
from star_jax.data import frames
from star_jax import pixels
from star_jax.data import pipeline
from star_jax.data import tfds_vimeo
from star_jax.data import vimeo
from star_jax.errors import UserInputError
from star_jax.flow import FlowSettings

# A fast flow backend: the pipeline only moves cached flows around, so any flow will do.
FLOW = FlowSettings("opencv_dis")
SCALE = 4


@pytest.fixture(scope="session")
def cached_root(demo_root):
  """The demo dataset with LR flow caches for both splits and an HR cache for 'test'."""
  for split in vimeo.SPLITS:
    flow_cache.ensure_flow_cache(demo_root, split, scale=SCALE, settings=FLOW, progress=False)
  flow_cache.ensure_flow_cache(demo_root, "test", hr_input=True, settings=FLOW, progress=False)
  return demo_root


def _config(root, **overrides):
  options = dict(root=str(root), scale=SCALE, batch_size=4, flow=FLOW,
                 num_threads=1, shard_index=0, shard_count=1)
  options.update(overrides)
  return pipeline.PipelineConfig(**options)


def _in_order(root, split, **overrides):
  """One pass over ``split`` in list order, one sample per batch (no augmentation unless
  ``overrides`` ask for it)."""
  options = dict(split=split, shuffle=False, augment=False, num_epochs=1, batch_size=1,
                 drop_remainder=False)
  options.update(overrides)
  return list(pipeline.make_dataset(_config(root, **options)))


def _lr_and_hr(root, split, clip):
  hr = frames.mod_crop(vimeo.VimeoClips.open(root, "triplet", split).load_clip(clip), SCALE)
  return np.stack([frames.lr_from_hr(frame, SCALE) for frame in hr]), hr


def test_batch_keys_shapes_dtypes_and_normalisation(cached_root):
  batch = next(iter(pipeline.make_dataset(_config(
      cached_root, split="test", shuffle=False, augment=False, batch_size=3))))
  assert sorted(batch) == sorted(pipeline.batch_keys())
  for key in ("im1", "im2", "lr_t"):
    assert batch[key].shape == (3, 32, 40, 3) and batch[key].dtype == np.float32
  for key in ("hr1", "hr_t", "hr2"):
    assert batch[key].shape == (3, 128, 160, 3) and batch[key].dtype == np.float32
  for key in pipeline.FLOW_KEYS:
    assert batch[key].shape == (3, 32, 40, 2) and batch[key].dtype == np.float32

  clip = vimeo.read_clip_list(cached_root, "triplet", "test")[0]
  lr, hr = _lr_and_hr(cached_root, "test", clip)
  for key, want in (("im1", lr[0]), ("im2", lr[2]), ("lr_t", lr[1]), ("hr1", hr[0]),
                    ("hr_t", hr[1]), ("hr2", hr[2])):
    np.testing.assert_allclose(pixels.denormalize(batch[key][0]), pixels.to_float(want),
                               atol=2e-6, err_msg=key)
  cached = flow_cache.load_cached_flows(
      flow_cache.default_cache_dir(cached_root, FLOW, SCALE), clip)
  for key in pipeline.FLOW_KEYS:
    np.testing.assert_array_equal(batch[key][0], cached[key])


def test_uint8_frames_option(cached_root):
  raw = _in_order(cached_root, "test", normalize=False)[0]
  lr, hr = _lr_and_hr(cached_root, "test", vimeo.read_clip_list(cached_root, "triplet", "test")[0])
  assert raw["im1"].dtype == raw["hr_t"].dtype == np.uint8
  np.testing.assert_array_equal(raw["im2"][0], lr[2])
  np.testing.assert_array_equal(raw["hr_t"][0], hr[1])
  assert raw["flow_f"].dtype == np.float32


def test_epoch_order_and_sharding_cover_each_clip_once(cached_root):
  clips = vimeo.read_clip_list(cached_root, "triplet", "train")
  in_order = [batch["hr_t"][0] for batch in _in_order(cached_root, "train", normalize=False)]
  assert len(in_order) == len(clips)
  for batch, clip in zip(in_order, clips):
    np.testing.assert_array_equal(batch, _lr_and_hr(cached_root, "train", clip)[1][1])
  fingerprint = {frame.tobytes(): index for index, frame in enumerate(in_order)}
  seen = []
  for shard in range(2):
    shard_batches = pipeline.make_dataset(_config(
        cached_root, split="train", shuffle=True, augment=False, num_epochs=1, batch_size=1,
        drop_remainder=False, normalize=False, shard_index=shard, shard_count=2))
    seen.append([fingerprint[batch["hr_t"][0].tobytes()] for batch in shard_batches])
  assert sorted(seen[0] + seen[1]) == list(range(len(clips)))
  assert seen[0] + seen[1] != list(range(len(clips)))  # shuffled


@pytest.mark.parametrize("tfds_config", ["triplet", "triplet_x4"])
def test_tfds_source_gives_the_folder_samples(cached_root, tmp_path, tfds_config):
  tfds_vimeo.prepare(cached_root, tmp_path / "tfds", tfds_config)
  from_folder = {batch["hr_t"].tobytes(): batch for batch in _in_order(cached_root, "test")}
  from_tfds = _in_order(cached_root, "test", source="tfds", tfds_data_dir=str(tmp_path / "tfds"),
                        tfds_config=tfds_config)
  assert len(from_tfds) == len(from_folder)
  for batch in from_tfds:
    want = from_folder[batch["hr_t"].tobytes()]
    for key in pipeline.batch_keys():
      np.testing.assert_array_equal(batch[key], want[key], err_msg=key)


def _find_augmentation(im1, lr_first, patch):
  """All (flips, corner) that turn the LR frame into the sample's im1."""
  found = []
  for coins in itertools.product([False, True], repeat=2):
    flips = augment.Flips(coins[0], coins[1], False)
    unflipped = augment.flip_frames(im1, flips)
    windows = np.lib.stride_tricks.sliding_window_view(lr_first, (patch, patch, 3))[:, :, 0]
    matches = np.argwhere(np.all(windows == unflipped, axis=(2, 3, 4)))
    found += [(flips, (int(top), int(left))) for top, left in matches]
  return found


def test_patches_and_flips_are_consistent_across_frames_and_flows(cached_root):
  patch = 12
  samples = _in_order(cached_root, "train", normalize=False, augment=True, patch_size=patch)
  cache_dir = flow_cache.default_cache_dir(cached_root, FLOW, SCALE)
  seen_flips = set()
  for sample, clip in zip(samples, vimeo.read_clip_list(cached_root, "triplet", "train")):
    sample = {key: value[0] for key, value in sample.items()}
    lr, hr = _lr_and_hr(cached_root, "train", clip)
    cached = flow_cache.load_cached_flows(cache_dir, clip)

    def consistent(flips, corner):
      checks = [(sample["im2"], lr[2], 1), (sample["lr_t"], lr[1], 1), (sample["hr1"], hr[0], 4),
                (sample["hr_t"], hr[1], 4), (sample["hr2"], hr[2], 4)]
      frames_ok = all(np.array_equal(got, augment.flip_frames(
          augment.crop_patch(full, corner, patch, scale), flips)) for got, full, scale in checks)
      flows_ok = all(np.allclose(sample[key], augment.flip_flow(
          augment.crop_patch(cached[key], corner, patch), flips)) for key in pipeline.FLOW_KEYS)
      return frames_ok and flows_ok

    candidates = [c for c in _find_augmentation(sample["im1"], lr[0], patch) if consistent(*c)]
    assert candidates, f"no single crop + flip explains the sample of clip {clip}"
    seen_flips.add((candidates[0][0].flip_ud, candidates[0][0].flip_lr))
  assert len(seen_flips) == 4  # every net flip occurred among the training samples


def test_star_t_hr_mode(cached_root):
  batch = next(iter(pipeline.make_dataset(_config(
      cached_root, split="test", hr_input=True, patch_size=48, batch_size=2, normalize=False,
      shuffle=False, augment=False))))
  assert sorted(batch) == sorted(pipeline.batch_keys(hr_input=True))
  assert batch["im1"].shape == batch["lr_t"].shape == (2, 48, 48, 3)
  assert batch["flow_f"].shape == (2, 48, 48, 2)
  _, hr = _lr_and_hr(cached_root, "test", vimeo.read_clip_list(cached_root, "triplet", "test")[0])
  windows = np.lib.stride_tricks.sliding_window_view(hr[1], (48, 48, 3))[:, :, 0]
  assert np.all(windows == batch["lr_t"][0], axis=(2, 3, 4)).any()  # an HR in-between crop


def test_restored_iterator_state_gives_identical_batches(cached_root):
  config = _config(cached_root, split="train", patch_size=16, batch_size=3, seed=5)
  iterator = iter(pipeline.make_dataset(config))
  for _ in range(3):  # past the first epoch boundary (12 clips)
    next(iterator)
  state = json.loads(json.dumps(iterator.get_state()))  # as grain's orbax handler stores it
  expected = [next(iterator) for _ in range(4)]
  restored = iter(pipeline.make_dataset(config))
  restored.set_state(state)
  for want, got in zip(expected, [next(restored) for _ in range(4)]):
    for key in want:
      np.testing.assert_array_equal(got[key], want[key], err_msg=key)
  other_seed = iter(pipeline.make_dataset(_config(cached_root, split="train", patch_size=16,
                                                  batch_size=3, seed=6)))
  other_seed.set_state(state)
  assert not np.array_equal(next(other_seed)["hr_t"], expected[0]["hr_t"])


def test_worker_processes_give_the_same_batches(cached_root):
  config = _config(cached_root, split="train", patch_size=16, batch_size=3, seed=1)
  in_process = iter(pipeline.make_dataset(config))
  with_workers = iter(pipeline.make_dataset(_config(
      cached_root, split="train", patch_size=16, batch_size=3, seed=1, num_workers=2)))
  for _ in range(3):
    want, got = next(in_process), next(with_workers)
    for key in want:
      np.testing.assert_array_equal(got[key], want[key], err_msg=key)
  with_workers.close()


@pytest.fixture
def root_with_corrupt_clip(cached_root, tmp_path):
  root = tmp_path / "vimeo"
  shutil.copytree(cached_root, root)
  clip = vimeo.read_clip_list(root, "triplet", "test")[2]
  (root / "sequences" / clip / "im2.png").write_bytes(b"\x89PNG but then garbage")
  return root, clip


def test_corrupt_clip_raises_naming_the_frame(root_with_corrupt_clip):
  root, clip = root_with_corrupt_clip
  with pytest.raises(frames.FrameReadError, match=f"{clip}/im2.png"):
    _in_order(root, "test")


def test_corrupt_clip_is_skipped_and_counted(root_with_corrupt_clip):
  root, _ = root_with_corrupt_clip
  num_clips = len(vimeo.read_clip_list(root, "triplet", "test"))
  config = _config(root, split="test", shuffle=False, augment=False, num_epochs=1, batch_size=1,
                   drop_remainder=False, skip_corrupt=True)
  iterator = iter(pipeline.make_dataset(config))
  batches = [next(iterator) for _ in range(3)]
  assert iterator.num_skipped == 1
  state = iterator.get_state()
  batches += list(iterator)
  assert len(batches) == num_clips - 1 and iterator.num_skipped == 1
  restored = iter(pipeline.make_dataset(config))
  restored.set_state(state)
  assert restored.num_skipped == 1


def test_flow_cache_build_skips_unreadable_clips(root_with_corrupt_clip):
  root, clip = root_with_corrupt_clip
  cache_dir = flow_cache.default_cache_dir(root, FLOW, SCALE)
  flow_cache.clip_cache_path(cache_dir, clip).unlink()
  with pytest.raises(frames.FrameReadError, match=f"{clip}/im2.png"):
    flow_cache.ensure_flow_cache(root, "test", settings=FLOW, progress=False)
  flow_cache.ensure_flow_cache(root, "test", settings=FLOW, skip_corrupt=True, progress=False)
  assert not flow_cache.clip_cache_path(cache_dir, clip).exists()


def test_missing_or_mismatched_flow_cache_is_reported(cached_root, tmp_path):
  with pytest.raises(UserInputError, match="ensure_flow_cache"):
    pipeline.make_dataset(_config(cached_root, flow=FlowSettings("opencv_farneback")))
  lr_cache_at_scale_4 = flow_cache.default_cache_dir(cached_root, FLOW, SCALE)
  mismatched = pipeline.make_dataset(_config(cached_root, split="test", scale=2,
                                             flow_cache_dir=str(lr_cache_at_scale_4)))
  with pytest.raises(ValueError, match="rebuild it"):
    next(iter(mismatched))


def test_unknown_options_are_named():
  with pytest.raises(ValueError, match="patchsize"):
    pipeline.PipelineConfig.from_mapping({"root": "x", "patchsize": 4})


def test_a_cache_made_with_other_flow_settings_is_refused(cached_root):
  medium_cache = flow_cache.default_cache_dir(cached_root, FLOW, SCALE)
  with pytest.raises(ValueError, match=f"records .*delete {medium_cache}"):
    pipeline.make_dataset(_config(cached_root, flow=FlowSettings("opencv_dis", {"preset": "fast"}),
                                  flow_cache_dir=str(medium_cache)))


def test_resume_with_another_worker_count_continues_at_the_same_clip(cached_root):
  """A state saved with 2 worker processes restores into none and vice versa (grain's own
  states differ in layout: pipeline.convert_position), at the very next element."""
  options = dict(split="train", patch_size=16, batch_size=3, seed=2)
  reference = iter(pipeline.make_dataset(_config(cached_root, **options)))
  expected = [next(reference) for _ in range(5)]
  with_workers = iter(pipeline.make_dataset(_config(cached_root, num_workers=2, **options)))
  for _ in range(3):
    next(with_workers)
  saved_with_workers = json.loads(json.dumps(with_workers.get_state()))
  with_workers.close()
  restored = iter(pipeline.make_dataset(_config(cached_root, **options)))
  restored.set_state(saved_with_workers)
  saved_without = json.loads(json.dumps(restored.get_state()))
  assert saved_without["parent"] == {"next_index": 9}
  for want in expected[3:5]:
    got = next(restored)
    for key in want:
      np.testing.assert_array_equal(got[key], want[key], err_msg=key)
  into_workers = iter(pipeline.make_dataset(_config(cached_root, num_workers=2, **options)))
  into_workers.set_state(saved_without)
  got = next(into_workers)
  into_workers.close()
  for key in expected[3]:
    np.testing.assert_array_equal(got[key], expected[3][key], err_msg=key)


def test_position_conversion_between_worker_counts():
  four = pipeline.convert_position({"next_index": 10}, 4)
  assert four["iterators_in_use_states"] == [{"next_index": k} for k in (3, 3, 2, 2)]
  assert four["next_index_in_cycle"] == 2 and pipeline.position(four) == 10
  assert pipeline.convert_position(four, 0) == {"next_index": 10}
  assert pipeline.convert_position(four, 1)["iterators_in_use_states"] == [{"next_index": 10}]
  assert pipeline.convert_position(four, 4) == four
  with pytest.raises(ValueError, match="data.num_workers"):
    pipeline.convert_position({"something": "else"}, 2)


def test_batches_name_their_clips(cached_root):
  iterator = iter(pipeline.make_dataset(_config(cached_root, split="test", shuffle=False,
                                                augment=False, batch_size=2)))
  next(iterator)
  assert iterator.last_clips == tuple(vimeo.read_clip_list(cached_root, "triplet", "test")[:2])


def test_a_cached_flow_with_nan_is_named_or_skipped(cached_root, tmp_path):
  root = tmp_path / "vimeo"
  shutil.copytree(cached_root, root)
  clip = vimeo.read_clip_list(root, "triplet", "test")[1]
  path = flow_cache.clip_cache_path(flow_cache.default_cache_dir(root, FLOW, SCALE), clip)
  with np.load(path) as data:
    arrays = dict(data)
  arrays["flow_b"][3:5, 2:4] = np.nan
  np.savez(path, **arrays)
  with pytest.raises(flow_cache.CorruptCacheError,
                     match=f"{path} holds 8 non-finite values in flow_b; delete it"):
    _in_order(root, "test")
  config = _config(root, split="test", shuffle=False, augment=False, num_epochs=1,
                   batch_size=1, drop_remainder=False, skip_corrupt=True)
  iterator = iter(pipeline.make_dataset(config))
  batches = list(iterator)
  assert iterator.num_skipped == 1
  assert len(batches) == len(vimeo.read_clip_list(root, "triplet", "test")) - 1


def test_flows_are_recomputed_when_a_clips_frames_change(cached_root, tmp_path):
  """The cache records what each clip's flows were made from; a start after the frames
  changed (here: replaced by frames of another size) recomputes that clip only."""
  root = tmp_path / "vimeo"
  shutil.copytree(cached_root, root)
  clips = vimeo.read_clip_list(root, "triplet", "test")
  cache_dir = flow_cache.default_cache_dir(root, FLOW, SCALE)
  flow_cache.ensure_flow_cache(root, "test", settings=FLOW, progress=False)  # records sources
  untouched = flow_cache.clip_cache_path(cache_dir, clips[1]).stat().st_mtime_ns
  frames_now = vimeo.VimeoClips.open(root, "triplet", "test").load_clip(clips[0])
  for index in range(3):
    bigger = np.pad(frames_now[index], ((0, 8), (0, 8), (0, 0)), mode="edge")  # 168x136
    frames.write_frame(root / "sequences" / clips[0] / f"im{index + 1}.png", bigger)
  flow_cache.ensure_flow_cache(root, "test", settings=FLOW, progress=False)
  assert flow_cache.load_cached_flows(cache_dir, clips[0])["flow_f"].shape == (34, 42, 2)
  assert flow_cache.clip_cache_path(cache_dir, clips[1]).stat().st_mtime_ns == untouched
  with np.load(flow_cache.clip_cache_path(cache_dir, clips[0])) as data:
    assert list(data[flow_cache.SOURCE_KEY][:2]) == [136, 168]
