"""The test sets of the paper as triplets (first, middle, last frame), from their folder
layouts.

* ``vimeo90k``: Vimeo-90K triplets, ``<dir>/tri_testlist.txt`` (``00001/0389`` per line) and
  ``<dir>/sequences/<clip>/im1.png, im2.png, im3.png``.
* ``ucf101``: the UCF101 interpolation triplets, ``<dir>/<n>/frame_00.png, frame_01_gt.png,
  frame_02.png`` (one folder per triplet; folders in natural order).
* ``middlebury``: Middlebury "other" with interpolation ground truth: either the official
  download's ``<dir>/other-data/<seq>/frame10.png, frame11.png`` beside
  ``<dir>/other-gt-interp/<seq>/frame10i11.png``, or everything in one folder per sequence,
  ``<dir>/<seq>/frame10.png, frame10i11.png, frame11.png``. Sequences without a ground
  truth frame (the official set's test-only ones) are skipped.
* ``demo``: the embedded dataset (``star_jax.data.demo``; generated into ``<dir>`` on first
  use), Vimeo layout, its ``tri_testlist.txt``.

Every missing file or folder is reported with its path.
"""

import dataclasses
import pathlib
from typing import List, Tuple, Union

import numpy as np

from star_jax.data import demo, vimeo
from star_jax.data.frames import FrameReadError, read_frame
from star_jax.errors import UserInputError
from star_jax.video.frame_folder import natural_sort_key

PathLike = Union[str, pathlib.Path]
DATASETS = ("vimeo90k", "ucf101", "middlebury", "demo")
DISPLAY_NAMES = {"vimeo90k": "Vimeo-90K", "ucf101": "UCF101", "middlebury": "Middlebury",
                 "demo": "Demo"}


@dataclasses.dataclass(frozen=True)
class Triplet:
  """One test sample: frames at t, t+1/2, t+1 (the middle one is the ground truth of the
  in-between frame)."""
  name: str
  paths: Tuple[pathlib.Path, pathlib.Path, pathlib.Path]

  def load(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three frames as (H, W, 3) uint8 RGB; an error naming a bad file or size."""
    try:
      frames = tuple(read_frame(path) for path in self.paths)
    except FrameReadError as error:
      raise UserInputError(str(error)) from error
    if len({frame.shape for frame in frames}) != 1:
      raise UserInputError(f"frames of sample {self.name} differ in size: "
                           f"{[f'{p.name} {f.shape[1]}x{f.shape[0]}' for p, f in zip(self.paths, frames)]}")
    return frames


def _require_files(paths) -> None:
  for path in paths:
    if not path.is_file():
      raise UserInputError(f"test frame {path} does not exist")


def _vimeo_layout(root: pathlib.Path) -> List[Triplet]:
  clips = vimeo.VimeoClips.open(root, "triplet", "test")  # a missing list or clip folder:
  triplets = [Triplet(clip, tuple(clips.frame_paths(clip)))  # UserInputError naming it
              for clip in clips.clips]
  for triplet in triplets:
    _require_files(triplet.paths)
  return triplets


def _ucf101_layout(root: pathlib.Path) -> List[Triplet]:
  folders = sorted((path for path in root.iterdir() if path.is_dir()),
                   key=lambda path: natural_sort_key(path.name))
  triplets = []
  for folder in folders:
    paths = (folder / "frame_00.png", folder / "frame_01_gt.png", folder / "frame_02.png")
    _require_files(paths)
    triplets.append(Triplet(folder.name, paths))
  return triplets


def _middlebury_layout(root: pathlib.Path) -> List[Triplet]:
  data_dir, gt_dir = root / "other-data", root / "other-gt-interp"
  official = data_dir.is_dir() and gt_dir.is_dir()
  sequence_root = gt_dir if official else root
  triplets = []
  for folder in sorted((path for path in sequence_root.iterdir() if path.is_dir()),
                       key=lambda path: natural_sort_key(path.name)):
    ground_truth = folder / "frame10i11.png"
    if not ground_truth.is_file():
      continue
    frames_dir = data_dir / folder.name if official else folder
    paths = (frames_dir / "frame10.png", ground_truth, frames_dir / "frame11.png")
    _require_files(paths)
    triplets.append(Triplet(folder.name, paths))
  return triplets


def list_triplets(dataset: str, data_dir: PathLike, progress: bool = True) -> List[Triplet]:
  """All test triplets of ``dataset`` under ``data_dir``, in the dataset's order
  (``progress``: a progress bar while the demo set is generated on first use)."""
  if dataset not in DATASETS:
    raise UserInputError(f"dataset must be one of {', '.join(DATASETS)}; got {dataset!r}",
                         ("dataset",))
  root = pathlib.Path(data_dir)
  if dataset == "demo":
    root.mkdir(parents=True, exist_ok=True)
    try:
      demo.ensure_demo_dataset(root, show_progress=progress)
    except ValueError as error:
      raise UserInputError(f"data_dir {root}: {error}", ("data_dir",)) from error
    return _vimeo_layout(root)
  if not root.is_dir():
    raise UserInputError(f"data_dir {root} does not exist", ("data_dir",))
  layouts = {"vimeo90k": _vimeo_layout, "ucf101": _ucf101_layout,
             "middlebury": _middlebury_layout}
  triplets = layouts[dataset](root)
  if not triplets:
    raise UserInputError(f"data_dir {root} holds no {DISPLAY_NAMES[dataset]} test triplets "
                         "(see python -m star_jax.evaluate --help for the expected layout)",
                         ("data_dir",))
  return triplets
