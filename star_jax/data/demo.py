"""The embedded default dataset: short synthetic clips filmed over real photographs.

Vimeo-90K is 82 GB and not redistributable, so tests, demos and smoke training use this
stand-in, generated on first use from photographs that ship inside the scikit-image wheel
(no download). Each clip is a virtual camera moving over one photograph -- a sub-pixel pan
with gentle acceleration, a slow zoom and a small rotation, rendered by bicubic resampling --
plus an independently moving, rotating object (a soft-edged patch cut from a different
photograph) composited on top, so clips contain both global and local motion and
occlusion, as real video does.

Layout (one root, Vimeo-90K conventions, read by :mod:`star_jax.data.vimeo`)::

  <root>/sequences/000PP/CCCC/im1.png..im3.png    triplets: folders 00001..00008 (one per photo)
  <root>/sequences/001PP/CCCC/im1.png..im7.png    septuplets: folders 00101..00108
  <root>/tri_trainlist.txt, tri_testlist.txt, sep_trainlist.txt, sep_testlist.txt
  <root>/demo_dataset.json                         the generation parameters, written last

Triplet frames are the times 0, 1/2, 1 of a trajectory; septuplet frames are 0, 1/2, ..., 3,
so both have the same per-frame motion statistics. Generation is deterministic (same
parameters -> same bytes) and idempotent (an existing, complete dataset with the same
parameters is returned as is).
"""

import dataclasses
import json
import pathlib
from typing import Dict, List, NamedTuple, Tuple, Union

import numpy as np
from PIL import Image
from tqdm import tqdm

from star_jax.data import frames as frames_lib
from star_jax.data import vimeo
from star_jax.errors import UserInputError

PathLike = Union[str, pathlib.Path]

DEMO_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "immunohistochemistry",
               "hubble_deep_field", "retina")
_MARKER = "demo_dataset.json"
_FORMAT_VERSION = 1
_SEPTUPLET_FOLDER_OFFSET = 100
# Per unit time (im1 -> im3 of a triplet), as fractions of the frame width.
_MAX_PAN = 0.07
_MAX_OBJECT_SPEED = 0.12
# Fractions of the (resampled) photograph a frame covers; a few fixed levels so each
# photograph is resampled only a few times per dataset.
_COVERAGES = (0.4, 0.5, 0.6, 0.7)


@dataclasses.dataclass(frozen=True)
class DemoSpec:
  """What to generate. The defaults give LR 40x32 at 4x: a narrow STARnet trains on it in
  minutes on two CPU cores, and 40 px clears the flow's minimum width."""

  frame_width: int = 160
  frame_height: int = 128
  num_train_triplets: int = 320
  num_test_triplets: int = 32
  num_train_septuplets: int = 48
  num_test_septuplets: int = 8
  seed: int = 0

  def to_json(self) -> Dict:
    return {"format_version": _FORMAT_VERSION, **dataclasses.asdict(self)}


def ensure_demo_dataset(root: PathLike, *, frame_size: Tuple[int, int] = (160, 128),
                        num_train_triplets: int = 320, num_test_triplets: int = 32,
                        num_train_septuplets: int = 48, num_test_septuplets: int = 8,
                        seed: int = 0, show_progress: bool = True) -> pathlib.Path:
  """Generates the demo dataset under ``root`` unless it is already there; returns ``root``.

  Args:
    root: destination folder (created if needed).
    frame_size: HR (width, height). Keep both multiples of the largest scale you train
      with, and the LR width at least 27 px (the flow's minimum).
    num_train_triplets, num_test_triplets, num_train_septuplets, num_test_septuplets:
      clip counts per list.
    seed: changes every trajectory, object and crop.
    show_progress: tqdm progress bar while generating.
  Raises:
    ValueError: ``root`` holds a demo dataset made with other parameters, or a dataset that
      is not a demo dataset.
  """
  spec = DemoSpec(frame_width=int(frame_size[0]), frame_height=int(frame_size[1]),
                  num_train_triplets=num_train_triplets, num_test_triplets=num_test_triplets,
                  num_train_septuplets=num_train_septuplets,
                  num_test_septuplets=num_test_septuplets, seed=seed)
  if spec.frame_width < 16 or spec.frame_height < 16:
    raise UserInputError(f"frame_size {frame_size} is too small (at least 16x16)")
  root = pathlib.Path(root)
  marker = root / _MARKER
  if marker.is_file():
    existing = json.loads(marker.read_text())
    if existing == spec.to_json():
      return root
    raise UserInputError(f"{root} holds a demo dataset generated with {existing}, not "
                         f"{spec.to_json()}; delete it or choose another root")
  if vimeo.list_path(root, "triplet", "train").is_file():
    raise UserInputError(f"{root} already holds a Vimeo-layout dataset that is not a demo "
                         f"dataset ({marker} is missing); refusing to overwrite it")
  _generate(root, spec, show_progress)
  return root


def _generate(root: pathlib.Path, spec: DemoSpec, show_progress: bool) -> None:
  photos = _Photos([_load_photo(name) for name in DEMO_PHOTOS], {})
  jobs = []  # (kind, split, clip path, clip index)
  for kind, num_train, num_test in (
      ("triplet", spec.num_train_triplets, spec.num_test_triplets),
      ("septuplet", spec.num_train_septuplets, spec.num_test_septuplets)):
    for index in range(num_train + num_test):
      split = "train" if index < num_train else "test"
      jobs.append((kind, split, _clip_path(kind, index, len(photos)), index))
  lists: Dict[Tuple[str, str], List[str]] = {(kind, split): [] for kind in vimeo.FRAMES_PER_CLIP
                                             for split in vimeo.SPLITS}
  for kind, split, clip, index in tqdm(jobs, desc=f"demo dataset -> {root}",
                                       disable=not show_progress):
    rng = np.random.default_rng([spec.seed, _FORMAT_VERSION, list(vimeo.FRAMES_PER_CLIP).index(
        kind), index])
    photo_index = index % len(photos)
    # The object comes from a different photograph than the background.
    object_index = (photo_index + 1 + int(rng.integers(len(photos) - 1))) % len(photos)
    times = 0.5 * np.arange(vimeo.FRAMES_PER_CLIP[kind])
    clip_frames = _render_clip(photos, photo_index, object_index, times, spec, rng)
    for number, frame in enumerate(clip_frames, start=1):
      frames_lib.write_frame(root / "sequences" / clip / f"im{number}.png", frame)
    lists[(kind, split)].append(clip)
  for (kind, split), clips in lists.items():
    vimeo.list_path(root, kind, split).write_text("".join(f"{clip}\n" for clip in clips))
  (root / _MARKER).write_text(json.dumps(spec.to_json(), indent=2) + "\n")


def _clip_path(kind: str, index: int, num_photos: int) -> str:
  """Clip ``index`` of a kind lives in its photo's folder; clips are numbered per folder."""
  offset = _SEPTUPLET_FOLDER_OFFSET if kind == "septuplet" else 0
  return f"{offset + index % num_photos + 1:05d}/{index // num_photos + 1:04d}"


def _load_photo(name: str) -> Image.Image:
  import skimage.data  # pylint: disable=g-import-not-at-top  (slow import, only when generating)
  if name == "motorcycle":
    array = skimage.data.stereo_motorcycle()[0]
  else:
    array = getattr(skimage.data, name)()
  return Image.fromarray(np.ascontiguousarray(array[..., :3]))


class _Photos(NamedTuple):
  """The source photographs and their resampled versions, made once per (photo, coverage)."""

  originals: List[Image.Image]
  resampled: Dict[Tuple[int, int], Image.Image]

  def __len__(self) -> int:
    return len(self.originals)


def _working_image(photos: _Photos, index: int, coverage_level: int, width: int,
                   height: int) -> Image.Image:
  """Photograph ``index`` resampled (anti-aliased) so a frame covers _COVERAGES[level] of it."""
  key = (index, coverage_level)
  if key not in photos.resampled:
    photo = photos.originals[index]
    coverage = _COVERAGES[coverage_level]
    zoom = max(width / (coverage * photo.width), height / (coverage * photo.height))
    photos.resampled[key] = photo.resize(
        (max(1, round(photo.width * zoom)), max(1, round(photo.height * zoom))),
        resample=Image.LANCZOS)
  return photos.resampled[key]


def _rotation(angle: float) -> np.ndarray:
  cos, sin = np.cos(angle), np.sin(angle)
  return np.array([[cos, -sin], [sin, cos]])


def _camera_matrices(times: np.ndarray, pan_velocity: np.ndarray, pan_acceleration: np.ndarray,
                     zoom_rate: float, rotation_rate: float,
                     frame_center: np.ndarray) -> List[Tuple[np.ndarray, np.ndarray]]:
  """For each time, (A, b) mapping frame pixel x to working-image pixel A x + b, relative to
  a camera centre at the origin (the caller adds the start position to b)."""
  matrices = []
  for t in times:
    linear = _rotation(rotation_rate * t) / np.exp(zoom_rate * t)
    centre = pan_velocity * t + 0.5 * pan_acceleration * t * t
    matrices.append((linear, centre - linear @ frame_center))
  return matrices


def _render_clip(photos: "_Photos", photo_index: int, object_index: int, times: np.ndarray,
                 spec: DemoSpec, rng: np.random.Generator) -> List[np.ndarray]:
  width, height = spec.frame_width, spec.frame_height
  frame_center = np.array([width, height]) / 2.0
  coverage_level = int(rng.integers(len(_COVERAGES)))
  work = _working_image(photos, photo_index, coverage_level, width, height)
  corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64)
  speed = 1.0
  for _ in range(8):  # Slow the camera down until the whole trajectory stays inside the photo.
    pan_velocity = speed * rng.uniform(-_MAX_PAN, _MAX_PAN, size=2) * width
    pan_acceleration = speed * rng.uniform(-0.15, 0.15, size=2) * _MAX_PAN * width
    zoom_rate = speed * rng.uniform(-0.04, 0.04)
    rotation_rate = speed * np.deg2rad(rng.uniform(-2.0, 2.0))
    camera = _camera_matrices(times, pan_velocity, pan_acceleration, zoom_rate, rotation_rate,
                              frame_center)
    seen = np.concatenate([corners @ linear.T + offset for linear, offset in camera])
    low = -seen.min(axis=0)
    high = np.array([work.width, work.height]) - seen.max(axis=0)
    if np.all(low <= high):
      break
    speed *= 0.5
  start = rng.uniform(np.minimum(low, high), np.maximum(low, high))

  # Object: a soft-edged ellipse of texture from another photograph with its own path.
  side = max(8, int(round(rng.uniform(0.2, 0.32) * min(width, height))))
  source = _working_image(photos, object_index, coverage_level, width, height)
  if source.width < side or source.height < side:
    source = source.resize((max(side, source.width), max(side, source.height)), Image.BICUBIC)
  left = int(rng.integers(0, source.width - side + 1))
  top = int(rng.integers(0, source.height - side + 1))
  texture = np.asarray(source.crop((left, top, left + side, top + side)))
  grid = (np.arange(side) + 0.5) / side * 2.0 - 1.0
  aspect = rng.uniform(0.6, 1.0)
  radius = np.sqrt(grid[None, :] ** 2 + (grid[:, None] / aspect) ** 2)
  alpha = np.clip((1.0 - radius) / 0.2, 0.0, 1.0)
  sprite = Image.fromarray(
      np.dstack([texture, np.round(alpha * 255).astype(np.uint8)]), mode="RGBA")
  object_start = rng.uniform(0.25, 0.75, size=2) * np.array([width, height])
  object_velocity = rng.uniform(-_MAX_OBJECT_SPEED, _MAX_OBJECT_SPEED, size=2) * width
  object_spin = np.deg2rad(rng.uniform(-15.0, 15.0))
  object_angle = rng.uniform(0.0, 2.0 * np.pi)
  sprite_center = np.array([side, side]) / 2.0

  rendered = []
  for t, (linear, offset) in zip(times, camera):
    offset = offset + start
    background = work.transform(
        (width, height), Image.AFFINE,
        data=(linear[0, 0], linear[0, 1], offset[0], linear[1, 0], linear[1, 1], offset[1]),
        resample=Image.BICUBIC)
    # Frame pixel x -> sprite pixel R(-angle) (x - position) + sprite centre.
    inverse = _rotation(-(object_angle + object_spin * t))
    position = object_start + object_velocity * t
    sprite_offset = sprite_center - inverse @ position
    layer = sprite.transform(
        (width, height), Image.AFFINE,
        data=(inverse[0, 0], inverse[0, 1], sprite_offset[0],
              inverse[1, 0], inverse[1, 1], sprite_offset[1]),
        resample=Image.BICUBIC, fillcolor=(0, 0, 0, 0))
    frame = Image.alpha_composite(background.convert("RGBA"), layer).convert("RGB")
    rendered.append(np.asarray(frame))
  return rendered

