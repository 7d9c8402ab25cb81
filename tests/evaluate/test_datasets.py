"""Each test-set layout is found in its folder structure; missing pieces are named."""

import numpy as np
import pytest
from PIL import Image

from star_jax.errors import UserInputError
from star_jax.evaluate.datasets import list_triplets


def _png(path, value=0, size=(12, 8)):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


def test_vimeo_layout(tmp_path):
  for clip in ("00001/0001", "00002/0007"):
    for index in (1, 2, 3):
      _png(tmp_path / "sequences" / clip / f"im{index}.png", index)
  (tmp_path / "tri_testlist.txt").write_text("00002/0007\n00001/0001\n\n")
  triplets = list_triplets("vimeo90k", tmp_path)
  assert [t.name for t in triplets] == ["00002/0007", "00001/0001"]
  first, middle, last = triplets[0].load()
  assert (first[0, 0, 0], middle[0, 0, 0], last[0, 0, 0]) == (1, 2, 3)


def test_vimeo_missing_frame_is_named(tmp_path):
  _png(tmp_path / "sequences/00001/0001/im1.png")
  _png(tmp_path / "sequences/00001/0001/im3.png")
  (tmp_path / "tri_testlist.txt").write_text("00001/0001\n")
  with pytest.raises(UserInputError, match=r"im2\.png does not exist"):
    list_triplets("vimeo90k", tmp_path)


def test_vimeo_missing_list(tmp_path):
  with pytest.raises(UserInputError, match="tri_testlist.txt"):
    list_triplets("vimeo90k", tmp_path)


def test_ucf101_layout(tmp_path):
  for name in ("10", "2", "1"):
    for frame in ("frame_00.png", "frame_01_gt.png", "frame_02.png"):
      _png(tmp_path / name / frame)
  triplets = list_triplets("ucf101", tmp_path)
  assert [t.name for t in triplets] == ["1", "2", "10"]
  assert triplets[0].paths[1].name == "frame_01_gt.png"


@pytest.mark.parametrize("official", [True, False])
def test_middlebury_layouts(tmp_path, official):
  for sequence in ("Walking", "Beanbags"):
    data = tmp_path / "other-data" / sequence if official else tmp_path / sequence
    gt = tmp_path / "other-gt-interp" / sequence if official else tmp_path / sequence
    _png(data / "frame10.png")
    _png(data / "frame11.png")
    _png(gt / "frame10i11.png")
  if official:  # a test-only sequence without ground truth is skipped
    _png(tmp_path / "other-data" / "Backyard" / "frame10.png")
  triplets = list_triplets("middlebury", tmp_path)
  assert [t.name for t in triplets] == ["Beanbags", "Walking"]
  assert [p.name for p in triplets[0].paths] == ["frame10.png", "frame10i11.png", "frame11.png"]


def test_empty_or_missing_data_dir(tmp_path):
  with pytest.raises(UserInputError, match="holds no UCF101 test triplets"):
    list_triplets("ucf101", tmp_path)
  with pytest.raises(UserInputError, match="does not exist"):
    list_triplets("middlebury", tmp_path / "missing")


def test_frames_of_different_sizes_in_a_sample(tmp_path):
  _png(tmp_path / "1/frame_00.png")
  _png(tmp_path / "1/frame_01_gt.png", size=(12, 10))
  _png(tmp_path / "1/frame_02.png")
  with pytest.raises(UserInputError, match="differ in size"):
    list_triplets("ucf101", tmp_path)[0].load()


def test_demo_dataset_is_generated_in_vimeo_layout(tmp_path):
  triplets = list_triplets("demo", tmp_path / "demo", progress=False)
  assert len(triplets) == 32  # the demo's test split
  first, middle, last = triplets[0].load()
  assert first.shape == middle.shape == last.shape == (128, 160, 3)
