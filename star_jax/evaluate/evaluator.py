"""Evaluation of a model on a test set: the paper's ST-SR, S-SR and T-SR protocols.

For each triplet (HR frames I1, I2, I3), with the HR frames mod-cropped to the scale and the
LR frames made from them as in training (``star_jax.data.frames.lr_from_hr``):

* ``st`` (ST-SR, Table 7 style): inputs LR I1, LR I3; the output ht against HR I2.
* ``s`` (S-SR, Table 8 style): the same forward; h1 against HR I1 and h2 against HR I3,
  each counted as one frame.
* ``t`` (T-SR at the original size, STAR-T-HR, Table 9 style): inputs HR I1, HR I3 (flows on
  the HR frames); the output l against HR I2.

Outputs are clamped to [0, 1] and rounded to 8 bits before the metrics (``metrics``).
"""

import dataclasses
import pathlib
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tqdm
from PIL import Image

from star_jax import pixels
from star_jax.data.frames import lr_from_hr, mod_crop
from star_jax.errors import UserInputError
from star_jax.evaluate import metrics
from star_jax.evaluate.datasets import Triplet
from star_jax.infer.engine import PairEngine

TASKS = ("st", "s", "t")
TASK_TITLES = {"st": "ST-SR (space x scale, time x2; ht)", "s": "S-SR (h1, h2)",
               "t": "T-SR at the input size (l from HR inputs)"}


@dataclasses.dataclass(frozen=True)
class FrameScore:
  """Metrics of one output frame against its ground truth."""
  sample: str
  task: str
  output: str  # which model output: ht, h1, h2 or l
  psnr: float
  ssim: float
  ie: float


def parse_tasks(text: str) -> Tuple[str, ...]:
  tasks = tuple(task.strip() for task in text.split(",") if task.strip())
  unknown = [task for task in tasks if task not in TASKS]
  if unknown or not tasks:
    raise UserInputError(f"tasks must be a comma-separated subset of {','.join(TASKS)}; "
                         f"got {text!r}", ("tasks",))
  return tasks


def _score(sample: str, task: str, output: str, prediction: np.ndarray,
           target: np.ndarray) -> FrameScore:
  return FrameScore(sample, task, output, pixels.psnr(prediction, target),
                    metrics.ssim(prediction, target),
                    metrics.interpolation_error(prediction, target))


def _save(folder: Optional[pathlib.Path], task: str, sample: str, output: str,
          frame: np.ndarray) -> None:
  if folder is None:
    return
  path = folder / task / sample / f"{output}.png"
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(frame).save(path)


def _groups_of_equal_size(loaded: List[Tuple[Triplet, Tuple[np.ndarray, ...]]]):
  """Consecutive samples split where the frame size changes (one batch = one shape)."""
  group: List = []
  for item in loaded:
    if group and item[1][0].shape != group[0][1][0].shape:
      yield group
      group = []
    group.append(item)
  if group:
    yield group


def evaluate_triplets(engine: PairEngine, triplets: Sequence[Triplet], tasks: Sequence[str],
                      save_frames: Optional[pathlib.Path] = None,
                      progress: bool = True) -> Iterator[FrameScore]:
  """Scores of every output frame of every task, streamed sample batch by sample batch."""
  scale = engine.scale
  batch = engine.batch_size
  with tqdm.tqdm(total=len(triplets), unit="sample", desc="evaluating",
                 disable=not progress) as bar:
    for start in range(0, len(triplets), batch):
      loaded = []
      for triplet in triplets[start:start + batch]:
        hr = tuple(mod_crop(frame, scale) for frame in triplet.load())
        if min(hr[0].shape[:2]) // scale < 1:
          raise UserInputError(f"sample {triplet.name} is smaller than the scale {scale}")
        loaded.append((triplet, hr))
      for group in _groups_of_equal_size(loaded):
        if "st" in tasks or "s" in tasks:
          pairs = [(pixels.to_float(lr_from_hr(hr[0], scale)),
                    pixels.to_float(lr_from_hr(hr[2], scale))) for _, hr in group]
          names = (("ht",) if "st" in tasks else ()) + (("h1", "h2") if "s" in tasks else ())
          for (triplet, hr), result in zip(group, engine.run(pairs, names, as_uint8=True)):
            targets = {"ht": hr[1], "h1": hr[0], "h2": hr[2]}
            for name in names:
              frame = result[name]
              _save(save_frames, "st" if name == "ht" else "s", triplet.name, name, frame)
              yield _score(triplet.name, "st" if name == "ht" else "s", name, frame,
                           targets[name])
        if "t" in tasks:
          pairs = [(pixels.to_float(hr[0]), pixels.to_float(hr[2])) for _, hr in group]
          for (triplet, hr), result in zip(group, engine.run(pairs, ("l",), as_uint8=True)):
            frame = result["l"]
            _save(save_frames, "t", triplet.name, "l", frame)
            yield _score(triplet.name, "t", "l", frame, hr[1])
        bar.update(len(group))


def summarise(scores: Sequence[FrameScore]) -> Dict[str, Dict[str, float]]:
  """Mean PSNR / SSIM / IE and the frame count per task (means over frames, as the paper)."""
  summary = {}
  for task in TASKS:
    rows = [score for score in scores if score.task == task]
    if rows:
      summary[task] = {
          "psnr": float(np.mean([row.psnr for row in rows])),
          "ssim": float(np.mean([row.ssim for row in rows])),
          "ie": float(np.mean([row.ie for row in rows])),
          "frames": len(rows),
      }
  return summary
