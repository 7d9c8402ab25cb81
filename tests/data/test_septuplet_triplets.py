"""Training on septuplets: the five consecutive triplets of each septuplet, with the field's
MATLAB-bicubic LR frames, through the folder reader, the flow cache and the grain pipeline
(on the demo dataset's septuplet lists)."""

import numpy as np
import pytest

from star_jax.data import flow_cache, frames, pipeline, vimeo
from star_jax.flow import FlowSettings

FLOW = FlowSettings("opencv_dis")  # the pipeline only moves cached flows around
SCALE = 4


def test_septuplet_triplet_clips(demo_root, demo_counts):
  septuplets = vimeo.read_clip_list(demo_root, "septuplet", "test")
  clips = vimeo.VimeoClips.open(demo_root, "septuplet_triplets", "test")
  assert len(clips) == 5 * len(septuplets) == 5 * demo_counts["num_test_septuplets"]
  assert clips.clips[:5] == tuple(f"{septuplets[0]}@{i}" for i in range(1, 6))
  whole = vimeo.VimeoClips.open(demo_root, "septuplet", "test").load_clip(septuplets[0])
  for start in range(1, 6):
    clip = f"{septuplets[0]}@{start}"
    assert [p.name for p in clips.frame_paths(clip)] == [f"im{i}.png"
                                                         for i in range(start, start + 3)]
    np.testing.assert_array_equal(clips.load_clip(clip), whole[start - 1:start + 2])
  for bad in (septuplets[0], f"{septuplets[0]}@6", f"{septuplets[0]}@x"):
    with pytest.raises(ValueError, match="septuplet triplet"):
      clips.frame_paths(bad)


def test_pipeline_reads_septuplet_triplets_with_matlab_lr(demo_root):
  cache_dir = flow_cache.ensure_flow_cache(demo_root, "test", settings=FLOW, scale=SCALE,
                                           kind="septuplet_triplets", lr_method="matlab",
                                           progress=False)
  assert cache_dir.name == "opencv_dis_x4_matlab"
  assert cache_dir != flow_cache.default_cache_dir(demo_root, FLOW, SCALE)  # PIL LR's cache
  config = pipeline.PipelineConfig(root=str(demo_root), split="test", scale=SCALE, flow=FLOW,
                                   batch_size=1, shuffle=False, augment=False, num_epochs=1,
                                   drop_remainder=False, normalize=False, num_threads=1,
                                   shard_index=0, shard_count=1, clips="septuplet_triplets",
                                   lr_method="matlab")
  batches = list(pipeline.make_dataset(config))
  clips = vimeo.VimeoClips.open(demo_root, "septuplet_triplets", "test")
  assert len(batches) == len(clips)
  septuplet = vimeo.VimeoClips.open(demo_root, "septuplet", "test")
  hr = frames.mod_crop(septuplet.load_clip(septuplet.clips[0]), SCALE)
  for start in range(1, 6):  # frames i, i+1, i+2: inputs i and i+2, targets all three
    batch, i = batches[start - 1], start - 1
    np.testing.assert_array_equal(batch["im1"][0], frames.matlab_bicubic_downscale(hr[i], SCALE))
    np.testing.assert_array_equal(batch["im2"][0],
                                  frames.matlab_bicubic_downscale(hr[i + 2], SCALE))
    np.testing.assert_array_equal(batch["lr_t"][0],
                                  frames.matlab_bicubic_downscale(hr[i + 1], SCALE))
    for key, index in (("hr1", i), ("hr_t", i + 1), ("hr2", i + 2)):
      np.testing.assert_array_equal(batch[key][0], hr[index])
    cached = flow_cache.load_cached_flows(cache_dir, clips.clips[start - 1])
    np.testing.assert_array_equal(batch["flow_f"][0], cached["flow_f"])


def test_tfds_source_refuses_septuplet_triplets(demo_root, tmp_path):
  config = pipeline.PipelineConfig(root=str(demo_root), flow=FLOW, source="tfds",
                                   tfds_data_dir=str(tmp_path), clips="septuplet_triplets",
                                   shard_index=0, shard_count=1)
  with pytest.raises(ValueError, match="source='folder'"):
    pipeline.make_dataset(config)
