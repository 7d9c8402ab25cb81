"""Reader of the Vimeo-90K folder layout (triplets and septuplets).

Layout (as distributed by the dataset's authors, and as our demo dataset writes it)::

  <root>/sequences/<folder>/<clip>/im1.png .. im3.png   (triplets; im1 .. im7 for septuplets)
  <root>/tri_trainlist.txt, tri_testlist.txt            (one "00001/0389" path per line)
  <root>/sep_trainlist.txt, sep_testlist.txt

The real triplet and septuplet sets ship as two separate roots; a single root holding both
kinds of list (as the demo dataset does) works the same since only the lists tie clips to a
kind.

Kind ``septuplet_triplets``: the triplets of consecutive frames (i, i+1, i+2), i = 1..5, of
every septuplet of the ``sep_*list.txt`` split (five per septuplet), so a two-frame model
trains on the septuplet set as the space-time SR papers after STARnet train on it. Such a
triplet's clip path is ``<septuplet>@<i>`` (``00001/0001@3``: im3, im4, im5), which also
names its flow cache file.
"""

import dataclasses
import pathlib
from typing import List, Sequence, Union

import numpy as np

from star_jax.data import frames as frames_lib
from star_jax.errors import UserInputError

PathLike = Union[str, pathlib.Path]

FRAMES_PER_CLIP = {"triplet": 3, "septuplet": 7}  # the two sets as distributed
# What VimeoClips reads: the two sets, and the septuplet set as triplets (module docstring).
CLIP_KINDS = {"triplet": 3, "septuplet": 7, "septuplet_triplets": 3}
_LIST_PREFIX = {"triplet": "tri", "septuplet": "sep", "septuplet_triplets": "sep"}
SEPTUPLET_TRIPLET_STARTS = (1, 2, 3, 4, 5)  # first frame of each septuplet triplet
_START_SEPARATOR = "@"
SPLITS = ("train", "test")
# Every Vimeo-90K frame is 448x256 (width x height) RGB; the triplet set's train list names
# 51,313 clips (Xue et al., "Video Enhancement with Task-Oriented Flow", IJCV 2019, and
# tri_trainlist.txt). Used where the data is not at hand (``star_jax.plan``).
FRAME_HEIGHT, FRAME_WIDTH = 256, 448
TRIPLET_TRAIN_CLIPS = 51313


class MissingClipError(UserInputError, FileNotFoundError):
  """A clip named by a split list has no folder under ``sequences/``; ``path`` names it."""

  def __init__(self, path: PathLike, list_path: PathLike):
    self.path = pathlib.Path(path)
    super().__init__(f"clip folder {self.path} (listed in {list_path}) does not exist")


# What ``VimeoClips.load_clip`` raises for a clip that cannot be read (``skip_corrupt``).
UNREADABLE_CLIP = (MissingClipError, frames_lib.FrameReadError)


def list_path(root: PathLike, kind: str, split: str) -> pathlib.Path:
  """Where the split list of ``kind`` ('triplet'|'septuplet') and ``split`` lives."""
  _check_kind_split(kind, split)
  return pathlib.Path(root) / f"{_LIST_PREFIX[kind]}_{split}list.txt"


def read_clip_list(root: PathLike, kind: str, split: str) -> List[str]:
  """Clip paths ('00001/0389') of a split, in file order; blank lines are ignored. For
  ``septuplet_triplets`` each listed septuplet gives ``<clip>@1`` .. ``<clip>@5``."""
  path = list_path(root, kind, split)
  if not path.is_file():
    raise UserInputError(
        f"Vimeo split list {path} does not exist (is {root} a Vimeo-90K "
        f"{'septuplet' if kind == 'septuplet_triplets' else kind} root?)")
  clips = [line.strip() for line in path.read_text().splitlines()]
  clips = [clip for clip in clips if clip]
  if kind == "septuplet_triplets":
    return [f"{clip}{_START_SEPARATOR}{start}" for clip in clips
            for start in SEPTUPLET_TRIPLET_STARTS]
  return clips


def _folder_and_first_frame(kind: str, clip: str):
  """(clip folder path, number of the clip's first frame) of a clip path of ``kind``."""
  if kind != "septuplet_triplets":
    return clip, 1
  folder, separator, start = clip.rpartition(_START_SEPARATOR)
  if not separator or not start.isdigit() or int(start) not in SEPTUPLET_TRIPLET_STARTS:
    raise ValueError(f"septuplet triplet {clip!r} is not '<septuplet>@<1..5>'")
  return folder, int(start)


@dataclasses.dataclass(frozen=True)
class VimeoClips:
  """The clips of one split of a Vimeo-layout root, with frame loading.

  Attributes:
    root: dataset root (holding ``sequences/`` and the lists).
    kind: 'triplet' (im1..im3), 'septuplet' (im1..im7) or 'septuplet_triplets' (im<i>..
      im<i+2> of a septuplet; module docstring).
    split: 'train' or 'test'.
    clips: the clip paths from the split list.
  """

  root: pathlib.Path
  kind: str
  split: str
  clips: Sequence[str]

  @classmethod
  def open(cls, root: PathLike, kind: str = "triplet", split: str = "train") -> "VimeoClips":
    """Reads the split list; the frames themselves are only touched by :meth:`load_clip`."""
    root = pathlib.Path(root)
    return cls(root=root, kind=kind, split=split, clips=tuple(read_clip_list(root, kind, split)))

  @property
  def frames_per_clip(self) -> int:
    return CLIP_KINDS[self.kind]

  def __len__(self) -> int:
    return len(self.clips)

  def clip_dir(self, clip: str) -> pathlib.Path:
    return self.root / "sequences" / _folder_and_first_frame(self.kind, clip)[0]

  def frame_paths(self, clip: str) -> List[pathlib.Path]:
    """The clip's frame files in time order (im1.png .. imN.png; im<i> .. im<i+2> of a
    septuplet triplet); raises :class:`MissingClipError` if its folder is absent."""
    clip_dir = self.clip_dir(clip)
    if not clip_dir.is_dir():
      raise MissingClipError(clip_dir, list_path(self.root, self.kind, self.split))
    first = _folder_and_first_frame(self.kind, clip)[1]
    return [clip_dir / f"im{i}.png" for i in range(first, first + self.frames_per_clip)]

  def load_clip(self, clip: str, frame_numbers: Sequence[int] = ()) -> np.ndarray:
    """Frames of ``clip`` as (N, H, W, 3) uint8.

    Args:
      clip: a clip path from the list, e.g. '00001/0389'.
      frame_numbers: 1-based frame numbers to read (default: all of the clip's frames).
    Raises:
      MissingClipError: no folder for the clip.
      star_jax.data.frames.FrameReadError: a frame file missing or corrupt (names the file).
    """
    paths = self.frame_paths(clip)
    numbers = tuple(frame_numbers) or tuple(range(1, len(paths) + 1))
    for number in numbers:
      if not 1 <= number <= len(paths):
        raise ValueError(f"frame number {number} out of range for a {self.kind} clip")
    frames = [frames_lib.read_frame(paths[number - 1]) for number in numbers]
    shapes = {frame.shape for frame in frames}
    if len(shapes) != 1:
      raise frames_lib.FrameReadError(
          self.clip_dir(clip), f"frames of the clip differ in size: {sorted(shapes)}")
    return np.stack(frames)


def _check_kind_split(kind: str, split: str) -> None:
  if kind not in CLIP_KINDS:
    raise ValueError(f"kind must be one of {sorted(CLIP_KINDS)}, got {kind!r}")
  if split not in SPLITS:
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
