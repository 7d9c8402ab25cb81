"""The dataset flow cache, its one owner: every flow a clip needs, computed once and stored
beside the data, where it lives, how it is built for a split, and how it is read.

The release recomputes up to six variational flows per sample every epoch; here they are
computed once, batched on whatever JAX device is present, and training only reads them (flips
and rotations are applied to the cached fields with ``star_jax.flow.transforms``).

Layout (shared contract with ``star_jax.data.pipeline``): one ``<cache_dir>/<clip>.npz`` per
clip (clip paths such as ``00001/0389``) holding float32 (H, W, 2) arrays in the *network*
convention: ``flow_f`` (im1 -> im3), ``flow_b`` (im3 -> im1) and the FR targets
``gt_flow_f``, ``gt_flow_b``, all on the frames the network takes (LR, or HR for STAR-T-HR).
``<cache_dir>/flow_cache.json`` records the backend and all its settings
(``star_jax.flow.FlowSettings``), so that neither a resumed build nor a reader can mix flows
from different settings. Files are written atomically (temporary file + rename), so an
interrupted build resumes by skipping the clips already done.

Location (:func:`default_cache_dir`): ``<root>/flow_cache/<backend>_x<scale>`` (``_matlab``
appended for MATLAB-bicubic LR frames, ``<backend>_hr`` for STAR-T-HR's flows on HR frames) for the backend's default settings, with
``_<digest>`` appended (``FlowSettings.digest``, 8 hex digits) for any other settings, so
changing a setting gives a cache of its own. A cache that an earlier version wrote under the
plain name for non-default settings is still found there (its record says so). Any folder
can be given instead (``cache_dir``; ``data.flow_cache_dir`` in a training config).
"""

import json
import logging
import os
import pathlib
import tempfile
import threading
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm import tqdm

from star_jax.data import frames as frames_lib
from star_jax import pixels
from star_jax.data import vimeo
from star_jax.flow.backends import FlowSettings
from star_jax.flow.network_input import fr_targets, to_network_input

PathLike = Union[str, pathlib.Path]
CACHE_KEYS = ("flow_f", "flow_b", "gt_flow_f", "gt_flow_b")
META_FILE = "flow_cache.json"
FORMAT_VERSION = 1
# CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state, so two
# threads parsing at once (np.load parses every .npy header with ast.literal_eval) can fail
# with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905; seen in
# grain's map threads). Readers of the cache take this lock; its cost is one small file read.
_READ_LOCK = threading.Lock()

Frames = Tuple[np.ndarray, np.ndarray, np.ndarray]


def default_cache_dir(root: PathLike, settings: FlowSettings = FlowSettings(), scale: int = 4,
                      hr_input: bool = False, lr_method: str = "pil") -> pathlib.Path:
  """Where the flows of ``root``'s clips made with ``settings`` live (module docstring).

  ``<root>/flow_cache/<backend>_x<scale>`` (``<backend>_x<scale>_matlab`` for LR frames made
  by ``lr_method='matlab'``; ``<backend>_hr`` when ``hr_input``: flows on the HR frames do
  not depend on the scale or the LR method), plus ``_<settings.digest>`` unless ``settings``
  are the backend's defaults, except where that folder does not exist but the plain-named
  one holds flows recorded with exactly ``settings`` (written by an earlier version).
  """
  frames_name = f"x{scale}" + ("_matlab" if lr_method == "matlab" else "")
  plain = pathlib.Path(root) / "flow_cache" / (
      f"{settings.backend}_hr" if hr_input else f"{settings.backend}_{frames_name}")
  if settings.is_default:
    return plain
  keyed = plain.with_name(f"{plain.name}_{settings.digest}")
  if not keyed.exists() and _recorded(plain) == _meta(settings):
    return plain
  return keyed


def clip_cache_path(cache_dir, clip: str) -> pathlib.Path:
  """Where ``clip``'s flows live; refuses absolute paths and '..' so files stay in the cache."""
  relative = pathlib.PurePosixPath(clip)
  if relative.is_absolute() or ".." in relative.parts or not relative.parts:
    raise ValueError(f"clip {clip!r} must be a relative path like '00001/0389' without '..'")
  return pathlib.Path(cache_dir).joinpath(*relative.parts).with_suffix(".npz")


def _meta(settings: FlowSettings) -> Dict:
  return {"format": FORMAT_VERSION, **settings.record}


def _recorded(cache_dir: pathlib.Path) -> Optional[Dict]:
  path = cache_dir / META_FILE
  return json.loads(path.read_text()) if path.is_file() else None


def check_settings(cache_dir: PathLike, settings: FlowSettings) -> None:
  """Make sure the flows in ``cache_dir`` were made with ``settings`` (a folder without a
  record passes).

  Raises:
    ValueError: the record names other settings; the message names the folder and the fix.
  """
  cache_dir = pathlib.Path(cache_dir)
  recorded, meta = _recorded(cache_dir), _meta(settings)
  if recorded is not None and recorded != meta:
    raise ValueError(f"{cache_dir / META_FILE} records {recorded}, but {meta} are asked for; "
                     f"delete {cache_dir} or use another cache folder (cache_dir; "
                     "data.flow_cache_dir in a training config)")


def _write_or_check_meta(cache_dir: pathlib.Path, settings: FlowSettings) -> None:
  """Write the cache's settings, or make sure they equal those already recorded."""
  check_settings(cache_dir, settings)
  if _recorded(cache_dir) is None:
    (cache_dir / META_FILE).write_text(json.dumps(_meta(settings), indent=2, sort_keys=True))


def _save_atomic(path: pathlib.Path, arrays: Dict[str, np.ndarray]) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.stem + ".", suffix=".tmp",
                                   delete=False) as f:
    np.savez(f, **arrays)
    temporary = f.name
  os.replace(temporary, path)


def _checked_frames(clip: str, frames: Sequence[np.ndarray]) -> List[np.ndarray]:
  if len(frames) != 3:
    raise ValueError(f"load_frames({clip!r}) returned {len(frames)} frames, expected 3")
  frames = [np.asarray(frame, np.float32) for frame in frames]
  if any(frame.shape != frames[0].shape or frame.ndim != 3 for frame in frames):
    raise ValueError(f"load_frames({clip!r}) returned shapes {[f.shape for f in frames]}, "
                     "expected three equal (H, W, C) frames")
  if max(float(frame.max()) for frame in frames) > 1.0 + 1e-6:
    raise ValueError(f"load_frames({clip!r}) returned values above 1; frames must be floats in "
                     "[0, 1] (the flow constants assume that range)")
  return frames


def _clip_flows(frames: List[List[np.ndarray]], batch_size: int,
                settings: FlowSettings) -> List[Dict[str, np.ndarray]]:
  """Six flows per clip in one batched call; the batch is padded to a fixed size so that a
  jit-compiled backend compiles once per frame size."""
  im1, im2, im3 = (np.stack([clip_frames[k] for clip_frames in frames]) for k in range(3))
  count = len(frames)
  pad = batch_size - count
  if pad > 0:
    im1, im2, im3 = (np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) for a in (im1, im2, im3))
  firsts = np.concatenate([im1, im3, im1, im2, im3, im2])
  seconds = np.concatenate([im3, im1, im2, im3, im2, im1])
  flows = settings.compute(firsts, seconds)
  f13, f31, f12, f23, f32, f21 = np.split(flows, 6)
  gt_f, gt_b = fr_targets(f12, f23, f32, f21)
  flow_f, flow_b = to_network_input(f13), to_network_input(f31)
  return [{"flow_f": flow_f[i], "flow_b": flow_b[i], "gt_flow_f": gt_f[i], "gt_flow_b": gt_b[i]}
          for i in range(count)]


def build_flow_cache(clips: Iterable[str], load_frames: Callable[[str], Frames], cache_dir,
                     settings: FlowSettings = FlowSettings(), batch_size: int = 8,
                     progress: bool = True) -> int:
  """Compute and store the flows of every clip not yet cached; returns how many were computed.

  ``load_frames(clip)`` returns the network's input frames (im1, im2, im3) as float32
  [0, 1] (H, W, 3) arrays. ``batch_size`` clips (6 flows each) are computed per device call;
  clips of different sizes are batched separately; the flows are ``settings.compute``'s.

  Raises:
    ValueError: ``batch_size`` < 1, ``cache_dir`` records other settings
      (:func:`check_settings`), or ``load_frames`` returned other than three equal
      (H, W, C) frames in [0, 1].
  """
  if batch_size < 1:
    raise ValueError(f"batch_size={batch_size} must be at least 1")
  cache_dir = pathlib.Path(cache_dir)
  cache_dir.mkdir(parents=True, exist_ok=True)
  _write_or_check_meta(cache_dir, settings)
  clips = list(clips)
  todo = [clip for clip in clips if not clip_cache_path(cache_dir, clip).exists()]
  pending: Dict[Tuple[int, ...], List[Tuple[str, List[np.ndarray]]]] = {}

  def flush(shape, bar):
    group = pending.pop(shape)
    results = _clip_flows([frames for _, frames in group], batch_size, settings)
    for (clip, _), arrays in zip(group, results):
      _save_atomic(clip_cache_path(cache_dir, clip), arrays)
    bar.update(len(group))

  with tqdm(total=len(clips), initial=len(clips) - len(todo), desc="flow cache", unit="clip",
            disable=not progress) as bar:
    for clip in todo:
      frames = _checked_frames(clip, load_frames(clip))
      group = pending.setdefault(frames[0].shape, [])
      group.append((clip, frames))
      if len(group) == batch_size:
        flush(frames[0].shape, bar)
    for shape in list(pending):
      flush(shape, bar)
  return len(todo)


def load_cached_flows(cache_dir, clip: str) -> Dict[str, np.ndarray]:
  """The four float32 (H, W, 2) network-convention arrays stored for ``clip``.

  Safe to call from several threads at once (grain's map threads): reads are serialised.

  Raises:
    FileNotFoundError: no cache file for ``clip``.
    ValueError: the file lacks one of ``CACHE_KEYS``.
  """
  path = clip_cache_path(cache_dir, clip)
  if not path.exists():
    raise FileNotFoundError(f"no cached flows for clip {clip!r} at {path}; build them with "
                            "star_jax.data.flow_cache.ensure_flow_cache")
  with _READ_LOCK, np.load(path) as data:
    missing = [key for key in CACHE_KEYS if key not in data.files]
    if missing:
      raise ValueError(f"{path} lacks {missing}; it is not a flow cache file of this format")
    return {key: data[key] for key in CACHE_KEYS}


def load_flow_frames(frames_uint8: np.ndarray, scale: int, hr_input: bool,
                     lr_method: str = "pil") -> List[np.ndarray]:
  """The frames the flows are computed on, float32 [0, 1]: the LR frames
  (``frames.lr_from_hr`` with ``lr_method``) or, for STAR-T-HR, the mod-cropped HR frames, of
  a clip's (3, H, W, 3) uint8 frames, exactly as the pipeline derives them."""
  hr = frames_lib.mod_crop(frames_uint8, scale)
  inputs = hr if hr_input else [frames_lib.lr_from_hr(frame, scale, lr_method) for frame in hr]
  return [pixels.to_float(frame) for frame in inputs]


def ensure_flow_cache(root: PathLike, split: str, *, settings: FlowSettings = FlowSettings(),
                      scale: int = 4, hr_input: bool = False,
                      cache_dir: Optional[PathLike] = None, skip_corrupt: bool = False,
                      batch_size: int = 8, progress: bool = True, kind: str = "triplet",
                      lr_method: str = "pil") -> pathlib.Path:
  """Computes the flows of every triplet of ``split`` that the cache lacks; returns the cache
  folder (``cache_dir``, or :func:`default_cache_dir` of ``root``, ``settings``, ``scale``,
  ``hr_input``, ``lr_method``). ``kind``: 'triplet' (the triplet lists) or
  'septuplet_triplets' (the five consecutive triplets of each septuplet,
  ``star_jax.data.vimeo``); ``lr_method``: how LR frames are made (``frames.lr_from_hr``).

  Resumable (``build_flow_cache`` skips clips already cached). With ``skip_corrupt``, clips
  whose frames cannot be read are left out (and logged) instead of failing the build; the
  pipeline then skips them too.

  Raises:
    ValueError: the folder records other settings (:func:`check_settings`).
    star_jax.data.frames.FrameReadError, star_jax.data.vimeo.MissingClipError: an
      unreadable clip without ``skip_corrupt``.
  """
  clips = vimeo.VimeoClips.open(root, kind, split)
  cache_dir = pathlib.Path(cache_dir) if cache_dir else default_cache_dir(
      root, settings, scale, hr_input, lr_method)
  wanted = list(clips.clips)
  if skip_corrupt:
    wanted = [clip for clip in wanted if _readable_or_cached(clips, cache_dir, clip)]

  def load_frames(clip: str):
    return tuple(load_flow_frames(clips.load_clip(clip), scale, hr_input, lr_method))

  build_flow_cache(wanted, load_frames, cache_dir, settings=settings, batch_size=batch_size,
                   progress=progress)
  return cache_dir


def _readable_or_cached(clips: vimeo.VimeoClips, cache_dir: pathlib.Path, clip: str) -> bool:
  if clip_cache_path(cache_dir, clip).is_file():
    return True
  try:
    clips.load_clip(clip)
  except vimeo.UNREADABLE_CLIP as error:
    logging.warning("flow cache: leaving out unreadable clip %s: %s", clip, error)
    return False
  return True
