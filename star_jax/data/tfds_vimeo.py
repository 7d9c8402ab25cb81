"""TFDS builder for Vimeo-90K (and the demo dataset), stored as ArrayRecord.

Why: a folder of PNGs costs one file open and one PNG decode per frame per sample; an
ArrayRecord file of raw uint8 frames is read with random access, without decoding and
without TensorFlow (``builder.as_data_source()`` returns numpy), which is what a grain
pipeline wants on many hosts. The price is disk: raw frames are ~3x the PNGs.

The data cannot be downloaded automatically: point ``manual_dir`` at a Vimeo-layout root
(``sequences/`` plus ``tri_*list.txt`` / ``sep_*list.txt``)::

  builder = tfds_vimeo.Vimeo90k(config="triplet", data_dir=out_dir)
  builder.download_and_prepare(
      file_format="array_record",
      download_config=tfds.download.DownloadConfig(manual_dir=vimeo_root))
  train = builder.as_data_source(split="train")   # train[i] -> {"im1": ..., "clip": ...}
"""

import dataclasses
import pathlib

from etils import epath
import numpy as np
import tensorflow_datasets as tfds

from star_jax.data import frames as frames_lib
from star_jax.data import vimeo

FILE_FORMAT = "array_record"


@dataclasses.dataclass
class VimeoConfig(tfds.core.BuilderConfig):
  """``kind``: 'triplet' (im1..im3) or 'septuplet' (im1..im7). ``lr_scale`` > 0 also stores
  the release's LR frames ``lr1``.. at that scale (PIL bicubic of the mod-cropped HR frame),
  which saves the input pipeline its costliest remaining step for ~6 % more disk."""

  kind: str = "triplet"
  lr_scale: int = 0


class Vimeo90k(tfds.core.GeneratorBasedBuilder):
  """Vimeo-90K triplets / septuplets as raw uint8 frames plus the clip path."""

  # This file and its folder (where TFDS looks for checksums and metadata files). Given
  # explicitly because TFDS infers them through importlib.resources, which fails when
  # star_jax is installed in editable mode as a namespace mapping.
  code_path = epath.Path(pathlib.Path(__file__))
  pkg_dir_path = code_path.parent
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Raw uint8 frames (any size), clip path as text."}
  BUILDER_CONFIGS = [
      VimeoConfig(name="triplet", kind="triplet",
                  description="im1..im3 of each clip (2x temporal SR)."),
      VimeoConfig(name="septuplet", kind="septuplet",
                  description="im1..im7 of each clip (4x temporal SR)."),
      VimeoConfig(name="triplet_x4", kind="triplet", lr_scale=4,
                  description="im1..im3 plus their 4x LR frames lr1..lr3."),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Vimeo-90K cannot be downloaded by TFDS. Download and unpack vimeo_triplet.zip and/or
  vimeo_septuplet.zip from http://toflow.csail.mit.edu/ (or generate the demo dataset with
  star_jax.data.demo.ensure_demo_dataset) and pass the folder holding `sequences/` and the
  split lists as `manual_dir` (tfds.download.DownloadConfig(manual_dir=...)).
  """

  def _info(self) -> tfds.core.DatasetInfo:
    numbers = range(1, vimeo.FRAMES_PER_CLIP[self.builder_config.kind] + 1)
    prefixes = ("im", "lr") if self.builder_config.lr_scale else ("im",)
    frames = {
        f"{prefix}{number}": tfds.features.Tensor(shape=(None, None, 3), dtype=np.uint8,
                                                  encoding=tfds.features.Encoding.BYTES)
        for prefix in prefixes for number in numbers
    }
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({**frames, "clip": tfds.features.Text()}),
        homepage="http://toflow.csail.mit.edu/",
        citation=("@article{xue2019video, title={Video Enhancement with Task-Oriented Flow}, "
                  "author={Xue, Tianfan and Chen, Baian and Wu, Jiajun and Wei, Donglai and "
                  "Freeman, William T}, journal={IJCV}, year={2019}}"),
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = dl_manager.manual_dir
    return {split: self._generate_examples(vimeo.VimeoClips.open(root, self.builder_config.kind,
                                                                 split))
            for split in vimeo.SPLITS}

  def _generate_examples(self, clips: vimeo.VimeoClips):
    for clip in clips.clips:
      frames = clips.load_clip(clip)
      example = {f"im{number}": frame for number, frame in enumerate(frames, start=1)}
      if self.builder_config.lr_scale:
        example.update({f"lr{number}": frames_lib.lr_from_hr(frame, self.builder_config.lr_scale)
                        for number, frame in enumerate(frames, start=1)})
      example["clip"] = clip
      yield clip, example


def prepare(manual_dir, data_dir, config: str = "triplet") -> Vimeo90k:
  """Builds (once; TFDS skips finished builds) config ``config`` ('triplet', 'septuplet',
  'triplet_x4') from the Vimeo root ``manual_dir`` into ``data_dir`` as ArrayRecord, and
  returns the builder."""
  builder = Vimeo90k(config=config, data_dir=str(data_dir), file_format=FILE_FORMAT)
  builder.download_and_prepare(
      file_format=FILE_FORMAT,
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
  return builder
