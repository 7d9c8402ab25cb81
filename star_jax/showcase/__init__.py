"""A result a person can look at, from the embedded dataset and a checkpoint (e.g. the one
``make demo`` trains); ``python -m star_jax.showcase`` is its command (``star_jax.cli.showcase``).

It takes one test septuplet (7 HR frames at times 0..6) of a Vimeo-layout root (the demo
dataset, generated with its defaults if the folder is missing or empty), and writes

* ``input_lr.mp4``: the LR clip the model gets -- the even frames 0, 2, 4, 6 downscaled
  with the release's bicubic (``lr_from_hr``), so the model's in-between outputs land on
  the odd frames 1, 3, 5, whose ground truth exists;
* ``output_st.mp4``: the model's space-time output (``scale x`` size, 2x frame rate,
  7 frames), made by the same engine and frame schedule as ``python -m star_jax.infer``;
* ``strip.png``: one row per output time 0..6, columns input (the LR frame at that time,
  or the earlier neighbouring one at an in-between time, nearest-neighbour upscaled),
  bicubic (each output's own baseline, ``star_jax.pixels.baseline_predictions``, as in
  the training summary: plain bicubic of the LR frame at the input times, the two
  neighbouring LR frames averaged and bicubic upscaled at the in-between times), ours, and
  ground truth;

and prints the PSNR of the baseline and ours for each row, their means for the input and the
in-between times, and the checkerboard measure (``grid_energy_ratio``) of both.

The model is fed the exact LR frames, not a decode of ``input_lr.mp4``: the video codec's
(small) loss would otherwise be part of the measured PSNR.
"""

import dataclasses
import fractions
import pathlib
import sys
from typing import List, Sequence, Tuple

import numpy as np
import tqdm
from PIL import Image, ImageDraw, ImageFont

from star_jax.data import demo as demo_data
from star_jax.data import frames as frames_lib
from star_jax.data import vimeo
from star_jax import files
from star_jax import pixels
from star_jax.errors import UserInputError
from star_jax.evaluate.metrics import grid_energy_ratio
from star_jax.flow import FlowSettings
from star_jax.infer import frame_schedule
from star_jax.infer.engine import PairEngine
from star_jax.infer.inference_weights import load_inference_weights
from star_jax.infer.network import JaxNetwork
from star_jax.video import atomic_output, timeline
from star_jax.video.writer import VideoWriter, check_output

INPUT_VIDEO = "input_lr.mp4"
OUTPUT_VIDEO = "output_st.mp4"
STRIP_IMAGE = "strip.png"
# 4 LR frames at 4 fps: a one-second clip; the 2x output plays at 8 fps over the same second
# (its last frame, like the input's, is shown for 1/4 s).
INPUT_FPS = fractions.Fraction(4)
TIME_FACTOR = 2
COLUMNS = ("input", "bicubic", "ours", "ground truth")
# Strip layout (pixels): a band for the column labels at the top, a caption band above each
# row of tiles, and a gutter between tiles and around the strip.
LABEL_HEIGHT = 16
GUTTER = 4
FONT_SIZE = 12  # PIL's built-in TrueType font; its bitmap font and size 11 run words together
_BACKGROUND = (255, 255, 255)
_TEXT = (0, 0, 0)


@dataclasses.dataclass
class StripRow:
  """One output time: its HR frame index, the four tiles in COLUMNS order, and the PSNRs
  (dB) of the baseline tile and ours against the ground truth."""
  time: int
  tiles: Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
  psnr_bicubic: float
  psnr_ours: float

  @property
  def in_between(self) -> bool:
    return self.time % 2 == 1

  @property
  def baseline(self) -> str:
    return "bicubic + average" if self.in_between else "bicubic"

  def caption(self, last_time: int) -> str:
    where = (f"between input frames {self.time // 2} and {self.time // 2 + 1}"
             if self.in_between else f"input frame {self.time // 2}")
    return (f"time {self.time} of 0..{last_time} ({where}): {self.baseline} "
            f"{self.psnr_bicubic:.2f} dB, ours {self.psnr_ours:.2f} dB")


def strip_size(tile_width: int, tile_height: int, rows: int) -> Tuple[int, int]:
  """(width, height) of a strip of ``rows`` rows of ``tile_width`` x ``tile_height`` tiles."""
  width = len(COLUMNS) * tile_width + (len(COLUMNS) + 1) * GUTTER
  height = LABEL_HEIGHT + rows * (LABEL_HEIGHT + tile_height + GUTTER)
  return width, height


def tile_origin(row: int, column: int, tile_width: int, tile_height: int) -> Tuple[int, int]:
  """(left, top) of a tile in the strip."""
  left = GUTTER + column * (tile_width + GUTTER)
  top = LABEL_HEIGHT + row * (LABEL_HEIGHT + tile_height + GUTTER) + LABEL_HEIGHT
  return left, top


def compose_strip(rows: Sequence[StripRow], num_input_frames: int) -> Image.Image:
  """The labelled comparison image: column labels on top, a caption (time and PSNRs) above
  each row of tiles."""
  tile_height, tile_width = rows[0].tiles[0].shape[:2]
  strip = Image.new("RGB", strip_size(tile_width, tile_height, len(rows)), _BACKGROUND)
  draw = ImageDraw.Draw(strip)
  font = ImageFont.load_default(size=FONT_SIZE)
  for column, label in enumerate(COLUMNS):
    left, _ = tile_origin(0, column, tile_width, tile_height)
    draw.text((left, 2), label, fill=_TEXT, font=font)
  last_time = 2 * (num_input_frames - 1)
  for index, row in enumerate(rows):
    left, top = tile_origin(index, 0, tile_width, tile_height)
    draw.text((left, top - LABEL_HEIGHT + 2), row.caption(last_time), fill=_TEXT, font=font)
    for column, tile in enumerate(row.tiles):
      strip.paste(Image.fromarray(tile), tile_origin(index, column, tile_width, tile_height))
  return strip


def nearest_upscale(frame: np.ndarray, scale: int) -> np.ndarray:
  """Each LR pixel as a ``scale x scale`` block: shows exactly what the model was given."""
  return np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)


def bicubic_average(before: np.ndarray, after: np.ndarray, scale: int) -> np.ndarray:
  """The training summary's in-between baseline (``pixels.baseline_predictions``' ht) of two
  (H, W, 3) uint8 LR frames, as (scale*H, scale*W, 3) uint8: the mean of their bicubic
  upscales, computed in [0, 1] floats and rounded once; of a frame with itself, its bicubic
  upscale."""
  ht = pixels.baseline_predictions(pixels.to_float(before)[None], pixels.to_float(after)[None],
                                   scale)["ht"]
  return np.asarray(pixels.to_uint8(ht))[0]


def open_septuplets(data_dir: pathlib.Path, progress: bool) -> vimeo.VimeoClips:
  """The septuplet test split of ``data_dir``; the demo dataset is generated there (with
  its defaults, as the training demo does) when the folder has no septuplet test list."""
  if not vimeo.list_path(data_dir, "septuplet", "test").is_file():
    if data_dir.is_file():
      raise UserInputError(f"data_dir {data_dir} is a file, not a dataset folder", ("data_dir",))
    print(f"generating the demo dataset in {data_dir}", file=sys.stderr)
    try:
      demo_data.ensure_demo_dataset(data_dir, show_progress=progress)
    except (ValueError, OSError) as error:
      raise UserInputError(f"cannot create the demo dataset in {data_dir}: {error}") from error
  clips = vimeo.VimeoClips.open(data_dir, "septuplet", "test")
  if not clips.clips:
    raise UserInputError(f"{vimeo.list_path(data_dir, 'septuplet', 'test')} lists no clips")
  return clips


def load_septuplet(clips: vimeo.VimeoClips, index: int) -> np.ndarray:
  """The 7 HR frames (7, H, W, 3) uint8 of test septuplet ``index``."""
  if not 0 <= index < len(clips):
    raise UserInputError(f"clip {index} is out of range: {clips.root} has {len(clips)} "
                         f"test septuplets (0..{len(clips) - 1})", ("clip",))
  try:
    return clips.load_clip(clips.clips[index])
  except (FileNotFoundError, OSError, ValueError) as error:
    raise UserInputError(f"cannot read test septuplet {clips.clips[index]}: {error}") from error


def write_video(path: pathlib.Path, frames: Sequence[np.ndarray], times: timeline.Timeline,
                overwrite: bool) -> None:
  """``frames`` at ``times`` into ``path`` (yuv420p; notices, e.g. padding, are printed)."""
  height, width = frames[0].shape[:2]
  with atomic_output.atomic_destination(path, overwrite) as partial:
    writer = VideoWriter(partial, times, width, height)
    for notice in writer.notices:
      print(f"notice: {path.name}: {notice}", file=sys.stderr)
    try:
      for frame in frames:
        writer.write(frame)
    except BaseException:
      writer.abort()
      raise
    writer.close()


def write_png(path: pathlib.Path, image: Image.Image, overwrite: bool) -> None:
  with atomic_output.atomic_destination(path, overwrite) as partial:
    image.save(partial, format="PNG")


@dataclasses.dataclass
class ShowcaseOptions:
  """Command-line options (see ``python -m star_jax.showcase --help``)."""
  weights: pathlib.Path
  data_dir: pathlib.Path
  output: pathlib.Path
  clip: int = 0
  flow: FlowSettings = dataclasses.field(default_factory=FlowSettings)
  overwrite: bool = False
  progress: bool = True


@dataclasses.dataclass
class ShowcaseResult:
  """The strip's rows, and the checkerboard measure (``grid_energy_ratio`` at the model's
  scale, over all rows) of the baseline column and of ours."""
  rows: List[StripRow]
  scale: int
  grid_bicubic: float
  grid_ours: float


def run_showcase(options: ShowcaseOptions) -> ShowcaseResult:
  """Writes the three showcase files into ``options.output``; returns the strip's rows and
  the checkerboard measure.

  Raises ``UserInputError`` (one line, naming the input) for a bad path, clip index or
  checkpoint; nothing is written under a final name unless it is complete.
  """
  if options.output.exists() and not options.output.is_dir():
    raise UserInputError(f"output {options.output} exists and is not a folder", ("output",))
  options.output.mkdir(parents=True, exist_ok=True)
  destinations = [options.output / name for name in (INPUT_VIDEO, OUTPUT_VIDEO, STRIP_IMAGE)]
  for destination in destinations:
    files.check_destination(destination, options.overwrite)
  input_path, output_path, strip_path = destinations

  clips = open_septuplets(options.data_dir, options.progress)
  hr = load_septuplet(clips, options.clip)
  model_cfg, variables = load_inference_weights(options.weights)
  scale = int(model_cfg.scale)
  try:
    lr = [frames_lib.lr_from_hr(frame, scale) for frame in hr]
  except ValueError as error:
    raise UserInputError(f"test septuplet {clips.clips[options.clip]}: {error}") from error
  hr = frames_lib.mod_crop(hr, scale)  # the HR frames the LR ones were made from
  inputs = lr[::2]

  # The two videos are written after the compute; their encoders are tried (in memory) now.
  input_times = timeline.Timeline.constant_rate(len(inputs), INPUT_FPS)
  output_times = timeline.output_timeline(input_times, "space-time", TIME_FACTOR)
  lr_height, lr_width = inputs[0].shape[:2]
  check_output(input_path, input_times, lr_width, lr_height)
  check_output(output_path, output_times, lr_width * scale, lr_height * scale)

  engine = PairEngine(JaxNetwork(model_cfg, variables), options.flow)
  source_name = f"test septuplet {clips.clips[options.clip]}"
  print(f"{source_name} of {clips.root}: {len(inputs)} LR frames "
        f"{inputs[0].shape[1]}x{inputs[0].shape[0]} -> {model_cfg.variant} x{scale}",
        file=sys.stderr)
  expected = frame_schedule.output_frame_count("space-time", TIME_FACTOR, len(inputs))
  with tqdm.tqdm(total=expected, unit="frame", desc="frames out", disable=not options.progress,
                 file=sys.stderr) as progress:
    outputs = []
    for frame in frame_schedule.generate_output_frames(engine, inputs, "space-time", TIME_FACTOR,
                                                 source_name, pairs_per_step=engine.batch_size):
      outputs.append(frame)
      progress.update(1)
  # Written only now, so a failed run leaves none of the three files behind.
  write_video(input_path, inputs, input_times, options.overwrite)
  write_video(output_path, outputs, output_times, options.overwrite)

  rows = []
  for time in range(len(hr)):  # output frame index == HR time
    before = lr[time - time % 2]
    after = lr[time + 1] if time % 2 else before  # averaging a frame with itself: bicubic
    bicubic = bicubic_average(before, after, scale)
    rows.append(StripRow(time, (nearest_upscale(before, scale), bicubic, outputs[time], hr[time]),
                         pixels.psnr(bicubic, hr[time]), pixels.psnr(outputs[time], hr[time])))
  write_png(strip_path, compose_strip(rows, len(inputs)), options.overwrite)
  truth = np.stack([row.tiles[3] for row in rows])
  grid = [grid_energy_ratio(np.stack([row.tiles[column] for row in rows]), truth, scale)
          for column in (1, 2)]  # HR frames are mod-cropped to the scale
  return ShowcaseResult(rows, scale, *grid)
