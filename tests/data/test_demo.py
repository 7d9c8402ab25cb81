"""The embedded demo dataset: layout, determinism, idempotence, motion."""

import json

import numpy as np
import pytest

from star_jax.data import demo
from star_jax.data import frames
from star_jax.data import vimeo

_TINY = dict(frame_size=(64, 48), num_train_triplets=3, num_test_triplets=2,
             num_train_septuplets=2, num_test_septuplets=1, show_progress=False)


def _all_files(root):
  return {path.relative_to(root): path.read_bytes() for path in sorted(root.rglob("*"))
          if path.is_file()}


def test_layout_and_counts(demo_root, demo_counts):
  counts = {(kind, split): len(vimeo.read_clip_list(demo_root, kind, split))
            for kind in ("triplet", "septuplet") for split in ("train", "test")}
  assert counts == {("triplet", "train"): demo_counts["num_train_triplets"],
                    ("triplet", "test"): demo_counts["num_test_triplets"],
                    ("septuplet", "train"): demo_counts["num_train_septuplets"],
                    ("septuplet", "test"): demo_counts["num_test_septuplets"]}
  triplets = (vimeo.read_clip_list(demo_root, "triplet", "train")
              + vimeo.read_clip_list(demo_root, "triplet", "test"))
  septuplets = (vimeo.read_clip_list(demo_root, "septuplet", "train")
                + vimeo.read_clip_list(demo_root, "septuplet", "test"))
  assert len(set(triplets) | set(septuplets)) == len(triplets) + len(septuplets)
  for clip in triplets:
    assert sorted(p.name for p in (demo_root / "sequences" / clip).iterdir()) == [
        "im1.png", "im2.png", "im3.png"]
  for clip in septuplets:
    assert len(list((demo_root / "sequences" / clip).glob("im*.png"))) == 7
  frame = frames.read_frame(demo_root / "sequences" / triplets[0] / "im1.png")
  assert frame.shape == (128, 160, 3)
  # LR at the largest scale the models use still clears the flow's 27-pixel minimum width.
  assert frames.lr_from_hr(frame, 4).shape == (32, 40, 3)


def test_generation_is_deterministic_and_idempotent(tmp_path):
  first = demo.ensure_demo_dataset(tmp_path / "a", **_TINY)
  second = demo.ensure_demo_dataset(tmp_path / "b", **_TINY)
  files = _all_files(first)
  assert files == _all_files(second)
  assert json.loads((first / "demo_dataset.json").read_text())["frame_width"] == 64
  frame = first / "sequences" / "00001" / "0001" / "im1.png"
  stamp = frame.stat().st_mtime_ns
  assert demo.ensure_demo_dataset(first, **_TINY) == first
  assert frame.stat().st_mtime_ns == stamp
  other_seed = demo.ensure_demo_dataset(tmp_path / "c", **{**_TINY, "seed": 1})
  assert (other_seed / frame.relative_to(first)).read_bytes() != frame.read_bytes()


def test_other_parameters_on_an_existing_root_are_refused(tmp_path):
  root = demo.ensure_demo_dataset(tmp_path / "a", **_TINY)
  with pytest.raises(ValueError, match="different|generated with"):
    demo.ensure_demo_dataset(root, **{**_TINY, "num_train_triplets": 4})


def test_a_real_vimeo_root_is_not_overwritten(tmp_path):
  (tmp_path / "tri_trainlist.txt").write_text("00001/0001\n")
  with pytest.raises(ValueError, match="not a demo dataset"):
    demo.ensure_demo_dataset(tmp_path, **_TINY)


def _best_translation(first, second, radius):
  """Integer shift (dx, dy) of ``second`` that best matches ``first``, and the residual."""
  height, width = first.shape[:2]
  centre = first[radius:height - radius, radius:width - radius]
  residuals = {
      (dx, dy): np.abs(centre - second[radius + dy:height - radius + dy,
                                       radius + dx:width - radius + dx]).mean()
      for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)}
  best = min(residuals, key=residuals.get)
  return best, residuals[best]


def test_clips_are_camera_motion(demo_root):
  """Consecutive frames are mostly a small shift of each other (a moving camera), not noise
  and not a still image."""
  clips = vimeo.VimeoClips.open(demo_root, "triplet", "train")
  for clip in clips.clips[:2]:
    im1, im2 = clips.load_clip(clip, (1, 2)).astype(np.float32)
    shift, residual = _best_translation(im1, im2, radius=8)
    assert shift != (0, 0)
    assert residual < 0.6 * np.abs(im1 - im2).mean()
