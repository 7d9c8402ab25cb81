"""The field's space-time video super-resolution protocol (Zooming Slow-Mo, Xiang et al. CVPR
2020; TMNet, Xu et al. CVPR 2021; RSTT, Geng et al. CVPR 2022), for a two-frame STARnet.

Test sets:

* Vimeo-90K septuplets, the test split in its motion subsets: ``<dir>/fast_testset.txt``,
  ``medium_testset.txt``, ``slow_testset.txt`` (1225 / 4977 / 1613 clips, the lists the field
  uses, published with Zooming Slow-Mo), ``'00001/0625'`` per line, frames
  ``<dir>/sequences/<clip>/im1.png .. im7.png``; ``all`` reads Vimeo's own
  ``sep_testlist.txt``.
* Vid4: ``<dir>/<clip>/*.png`` (calendar, city, foliage, walk: 41, 34, 49, 47 frames), or the
  same under ``<dir>/GT/``; frames in natural order.

For every clip of N HR frames (mod-cropped to the scale) the LR frames are MATLAB's bicubic
``imresize`` by 1/scale (``star_jax.data.frames.matlab_bicubic_downscale``), the odd frames
1, 3, 5, ... (1-based) go in and every one of the N frames is scored against its HR frame.

Which output is which frame (:func:`frame_schedule`): STARnet takes two frames and returns
h1, ht, h2 (the first frame, the half-way frame and the second frame at ``scale x``). The
consecutive input pairs (1, 3), (3, 5), (5, 7), ... give the in-between frames 2, 4, 6 as
``ht``; a frame shared by two pairs (3, 5, ...) is taken as ``h1`` of the pair in which it
comes first, and only the last input frame as ``h2`` of the last pair -- the rule of
``star_jax.infer.frame_schedule`` (every frame seen with its successor), so that the
protocol scores exactly the frames ``star-jax-infer`` writes. A clip of even length (Vid4's
city, 34 frames) ends on an even frame that no odd pair reaches; as Zooming Slow-Mo's
evaluation does for such clips (its last window is moved back to end on the last frame and
only the frames not yet scored are kept, ``codes/test.py``, ``test_index_generation``), the
last pair is then (N-2, N) and only its ``h2``, frame N, is kept.

Metrics: ``psnr_y`` and ``ssim_y`` (``star_jax.evaluate.metrics``: MATLAB ``rgb2ycbcr`` luma,
not rounded, whole frame, SSIM 11x11 Gaussian sigma 1.5 on valid positions) of the 8-bit
outputs; averaged over the frames of a clip, then over the clips of a set. Output frames/s
counts every scored frame over the seconds spent in ``PairEngine.run`` (flows and network,
after one untimed warm-up pair per frame size; reading, downscaling and scoring excluded).
"""

import dataclasses
import math
import pathlib
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import jax
import numpy as np
import tqdm
from PIL import Image

from star_jax import pixels
from star_jax.data.frames import FrameReadError, matlab_bicubic_downscale, mod_crop, read_frame
from star_jax.errors import UserInputError
from star_jax.evaluate import metrics
from star_jax.infer.engine import PairEngine
from star_jax.video.frame_folder import natural_sort_key

VIMEO_SUBSETS = ("fast", "medium", "slow")
VIMEO_LISTS = {"fast": "fast_testset.txt", "medium": "medium_testset.txt",
               "slow": "slow_testset.txt", "all": "sep_testlist.txt"}
SET_TITLES = {"fast": "Vimeo-Fast", "medium": "Vimeo-Medium", "slow": "Vimeo-Slow",
              "all": "Vimeo-Septuplet", "vid4": "Vid4"}
FRAME_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")
OUTPUT_NAMES = ("h1", "ht", "h2")


@dataclasses.dataclass(frozen=True)
class Clip:
  """One test clip: its set ('fast', ..., 'vid4'), name and HR frame files in time order."""
  test_set: str
  name: str
  paths: Tuple[pathlib.Path, ...]

  def load(self, scale: int) -> np.ndarray:
    """The HR frames, (N, H, W, 3) uint8, mod-cropped to ``scale``; errors name the file."""
    try:
      frames = [read_frame(path) for path in self.paths]
    except FrameReadError as error:
      raise UserInputError(str(error)) from error
    if len({frame.shape for frame in frames}) != 1:
      raise UserInputError(f"frames of clip {self.name} differ in size")
    return mod_crop(np.stack(frames), scale)


@dataclasses.dataclass(frozen=True)
class ClipScore:
  """Mean luma PSNR (dB) and SSIM over the frames of one clip."""
  test_set: str
  clip: str
  frames: int
  psnr_y: float
  ssim_y: float


def frame_schedule(num_frames: int) -> List[Tuple[Tuple[int, int], Dict[int, str]]]:
  """For a clip of ``num_frames`` HR frames (0-based indices), the input pairs and which
  output of each pair becomes which frame: ``[((a, b), {frame: 'h1'|'ht'|'h2'}), ...]``.

  Inputs are the even indices (1-based odd frames); see the module docstring for the rule.
  Every frame appears exactly once. Raises UserInputError for fewer than 3 frames.
  """
  if num_frames < 3:
    raise UserInputError(f"a clip needs at least 3 frames, got {num_frames}")
  schedule = []
  last_input = (num_frames - 1) // 2 * 2
  for first in range(0, last_input, 2):
    frames = {first: "h1", first + 1: "ht"}
    if first + 2 == last_input:
      frames[first + 2] = "h2"
    schedule.append(((first, first + 2), frames))
  if last_input != num_frames - 1:
    schedule.append(((num_frames - 3, num_frames - 1), {num_frames - 1: "h2"}))
  return schedule


def _read_list(path: pathlib.Path) -> List[str]:
  if not path.is_file():
    raise UserInputError(f"Vimeo septuplet list {path} does not exist (the field's lists: "
                         "fast_testset.txt, medium_testset.txt, slow_testset.txt; "
                         "sep_testlist.txt for 'all')", ("vimeo_dir",))
  return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def vimeo_clips(root: pathlib.Path, subset: str) -> List[Clip]:
  """The clips of one Vimeo-90K septuplet test list; missing files are reported by path."""
  if subset not in VIMEO_LISTS:
    raise UserInputError(f"subsets must be among {', '.join(VIMEO_LISTS)}; got {subset!r}",
                         ("subsets",))
  clips = []
  for name in _read_list(root / VIMEO_LISTS[subset]):
    folder = root / "sequences" / name
    paths = tuple(folder / f"im{i}.png" for i in range(1, 8))
    for path in paths:
      if not path.is_file():
        raise UserInputError(f"test frame {path} does not exist (listed in "
                             f"{root / VIMEO_LISTS[subset]})")
    clips.append(Clip(subset, name, paths))
  if not clips:
    raise UserInputError(f"{root / VIMEO_LISTS[subset]} lists no clips", ("vimeo_dir",))
  return clips


def vid4_clips(root: pathlib.Path) -> List[Clip]:
  """The Vid4 clips under ``root`` (or ``root/GT``): one folder of frames per clip."""
  if (root / "GT").is_dir():
    root = root / "GT"
  if not root.is_dir():
    raise UserInputError(f"vid4_dir {root} does not exist", ("vid4_dir",))
  clips = []
  for folder in sorted((p for p in root.iterdir() if p.is_dir()),
                       key=lambda p: natural_sort_key(p.name)):
    paths = sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES),
                   key=lambda p: natural_sort_key(p.name))
    if len(paths) < 3:
      raise UserInputError(f"Vid4 clip {folder} has {len(paths)} frames; at least 3 needed")
    clips.append(Clip("vid4", folder.name, tuple(paths)))
  if not clips:
    raise UserInputError(f"vid4_dir {root} holds no clip folders", ("vid4_dir",))
  return clips


class Timer:
  """Seconds spent in the engine and output frames produced (the frames/s column), with
  one untimed warm-up pair per frame size (compilation)."""

  def __init__(self):
    self.seconds = 0.0
    self.frames = 0
    self._warm = set()

  def run(self, engine: PairEngine, pairs, frames_out: int):
    shape = pairs[0][0].shape
    if shape not in self._warm:
      engine.run(pairs[:1], OUTPUT_NAMES, as_uint8=True)
      self._warm.add(shape)
    started = time.perf_counter()
    outputs = engine.run(pairs, OUTPUT_NAMES, as_uint8=True)
    self.seconds += time.perf_counter() - started
    self.frames += frames_out
    return outputs

  @property
  def frames_per_second(self) -> Optional[float]:
    return self.frames / self.seconds if self.seconds > 0 else None


def score_clip(engine: PairEngine, clip: Clip, timer: Timer,
               save_frames: Optional[pathlib.Path] = None) -> ClipScore:
  """Every frame of ``clip`` from its odd LR frames, scored; frames written as PNG under
  ``save_frames/<set>/<clip>/<frame file name>`` when given."""
  scale = engine.scale
  hr = clip.load(scale)
  if min(hr.shape[1:3]) // scale < 1:
    raise UserInputError(f"clip {clip.name} is smaller than the scale {scale}")
  schedule = frame_schedule(len(hr))
  inputs = sorted({index for pair, _ in schedule for index in pair})
  lr = {index: pixels.to_float(matlab_bicubic_downscale(hr[index], scale)) for index in inputs}
  pairs = [(lr[a], lr[b]) for (a, b), _ in schedule]
  outputs = timer.run(engine, pairs, sum(len(frames) for _, frames in schedule))
  psnrs, ssims = [], []
  for (_, frames), result in zip(schedule, outputs):
    for index, name in frames.items():
      frame = result[name]
      psnrs.append(metrics.psnr_y(frame, hr[index]))
      ssims.append(metrics.ssim_y(frame, hr[index]))
      if save_frames is not None:
        path = save_frames / clip.test_set / clip.name / f"{clip.paths[index].stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(path)
  return ClipScore(clip.test_set, clip.name, len(psnrs), float(np.mean(psnrs)),
                   float(np.mean(ssims)))


def evaluate_clips(engine: PairEngine, clips: Sequence[Clip], timer: Timer,
                   save_frames: Optional[pathlib.Path] = None,
                   progress: bool = True) -> Iterator[ClipScore]:
  """:func:`score_clip` of every clip, in order, with a progress bar."""
  for clip in tqdm.tqdm(clips, unit="clip", desc="evaluating", disable=not progress):
    yield score_clip(engine, clip, timer, save_frames)


def summarise(scores: Sequence[ClipScore]) -> Dict[str, Dict[str, float]]:
  """Per set: the mean over clips of the clip means (PSNR-Y dB, SSIM-Y), clips, frames."""
  summary = {}
  for test_set in dict.fromkeys(score.test_set for score in scores):
    rows = [score for score in scores if score.test_set == test_set]
    summary[test_set] = {"psnr_y": float(np.mean([row.psnr_y for row in rows])),
                         "ssim_y": float(np.mean([row.ssim_y for row in rows])),
                         "clips": len(rows), "frames": sum(row.frames for row in rows)}
  return summary


def parameter_count(engine: PairEngine) -> int:
  """Trainable parameters of the engine's model (BatchNorm statistics excluded)."""
  return sum(int(math.prod(leaf.shape))
             for leaf in jax.tree_util.tree_leaves(engine.network.variables["params"]))


def format_table(summary: Dict[str, Dict[str, float]], method: str, scale: int, params: int,
                 frames_per_second: Optional[float]) -> str:
  """The peers' table: one method row, PSNR / SSIM (Y) per set, parameters (millions) and
  output frames/s."""
  sets = list(summary)
  header = " | ".join(f"{SET_TITLES[s]:^15}" for s in sets)
  sub = " | ".join(f"{'PSNR':>7} {'SSIM':>7}" for _ in sets)
  cells = " | ".join(f"{summary[s]['psnr_y']:>7.2f} {summary[s]['ssim_y']:>7.4f}" for s in sets)
  fps = f"{frames_per_second:.2f}" if frames_per_second is not None else "-"
  width = max(len(method), len("Method"))
  return "\n".join([
      f"Space-time SR (x{scale} space, x2 time; odd frames in, all frames scored): "
      "PSNR (dB) / SSIM on Y, per clip then over clips",
      f"{'':<{width}} | {header} | {'Params':>8} | {'Frames/s':>8}",
      f"{'Method':<{width}} | {sub} | {'(M)':>8} | {'':>8}",
      f"{'-' * width}-+-{'-' * len(header)}-+-{'-' * 8}-+-{'-' * 8}",
      f"{method:<{width}} | {cells} | {params / 1e6:>8.2f} | {fps:>8}",
  ])
