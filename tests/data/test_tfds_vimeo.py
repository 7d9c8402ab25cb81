"""The TFDS (ArrayRecord) builder, built from the demo dataset and read back."""

import numpy as np
import pytest

from star_jax.data import frames
from star_jax.data import tfds_vimeo
from star_jax.data import vimeo
from star_jax.errors import UserInputError


@pytest.mark.parametrize("config", ["triplet", "septuplet", "triplet_x4"])
def test_build_and_read_back_pixels(demo_root, tmp_path, config):
  kind = config.split("_")[0]
  builder = tfds_vimeo.prepare(demo_root, tmp_path / "tfds", config)
  assert list(builder.info.splits[vimeo.SPLITS[0]].filenames)[0].split(".")[1].startswith(
      "array_record")
  for split in vimeo.SPLITS:
    source = builder.as_data_source(split=split)
    clips = vimeo.VimeoClips.open(demo_root, kind, split)
    assert len(source) == len(clips)
    seen = set()
    for index in range(len(source)):
      example = source[index]
      clip = example["clip"].decode()
      seen.add(clip)
      want = clips.load_clip(clip)
      for number in range(1, clips.frames_per_clip + 1):
        assert example[f"im{number}"].dtype == np.uint8
        np.testing.assert_array_equal(example[f"im{number}"], want[number - 1])
        if config == "triplet_x4":
          np.testing.assert_array_equal(example[f"lr{number}"],
                                        frames.lr_from_hr(want[number - 1], 4))
        else:
          assert f"lr{number}" not in example
    assert seen == set(clips.clips)
  # A second prepare finds the finished build and reuses it.
  assert tfds_vimeo.prepare(demo_root, tmp_path / "tfds", config).data_dir == builder.data_dir


def test_missing_manual_dir_or_lists_are_reported(tmp_path):
  with pytest.raises(AssertionError, match="(?s)Manual directory .*missing.*Vimeo-90K cannot"):
    tfds_vimeo.prepare(tmp_path / "missing", tmp_path / "tfds", "triplet")
  (tmp_path / "no_lists" / "sequences").mkdir(parents=True)
  with pytest.raises(UserInputError, match="no_lists/tri_trainlist.txt"):
    tfds_vimeo.prepare(tmp_path / "no_lists", tmp_path / "tfds", "triplet")
