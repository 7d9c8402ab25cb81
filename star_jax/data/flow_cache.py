"""The dataset flow cache, its one owner: every flow a clip needs, computed once and stored
beside the data, where it lives, how it is built for a split, and how it is read.

The release recomputes up to six variational flows per sample every epoch; here they are
computed once, batched on whatever JAX device is present, and training only reads them (flips
and rotations are applied to the cached fields with ``star_jax.flow.transforms``).

Layout (shared contract with ``star_jax.data.pipeline``): one ``<cache_dir>/<clip>.npz`` per
clip (clip paths such as ``00001/0389``) holding float32 (H, W, 2) arrays in the *network*
convention: ``flow_f`` (im1 -> im3), ``flow_b`` (im3 -> im1) and the FR targets
``gt_flow_f``, ``gt_flow_b``, all on the frames the network takes (LR, or HR for STAR-T-HR),
and, for caches built by :func:`ensure_flow_cache`, ``source_frames``: int64 (7,) what the
flows were made from (``frames_fingerprint``: the HR height and width, the byte sizes of the
clip's three frame files and the flows' height and width). Each start (:func:`ensure_flow_cache`) compares it with the
frames now on disk (a stat and an image header per clip, no decoding or hashing: ~2 s per 10k
clips here) and recomputes the flows of clips whose frames changed; entries written before the
record existed are compared by the flows' size only. ``<cache_dir>/source_frames.json``
repeats every file's record (rewritten at the end of each build) so that a start reads one
file instead of every ``.npz`` (~0.6 ms each); a file it does not list is read itself. Computed flows that are not finite are
refused, and :func:`load_cached_flows` refuses a file holding a NaN/Inf (``CorruptCacheError``
names it; the training pipeline's ``skip_corrupt`` skips such clips).
``<cache_dir>/flow_cache.json`` records the backend and all its settings
(``star_jax.flow.FlowSettings``), so that neither a resumed build nor a reader can mix flows
from different settings. Files are written atomically (``star_jax.files``), so an
interrupted build resumes by skipping the clips already done.

Location (:func:`default_cache_dir`): ``<root>/flow_cache/<backend>_x<scale>`` (``_matlab``
appended for MATLAB-bicubic LR frames, ``<backend>_hr`` for STAR-T-HR's flows on HR frames) for the backend's default settings, with
``_<digest>`` appended (``FlowSettings.digest``, 8 hex digits) for any other settings, so
changing a setting gives a cache of its own. A cache that an earlier version wrote under the
plain name for non-default settings is still found there (its record says so). Any folder
can be given instead (``cache_dir``; ``data.flow_cache_dir`` in a training config).
"""

import concurrent.futures
import json
import logging
import pathlib
import threading
import zipfile
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm import tqdm

from star_jax import files, pixels
from star_jax.data import frames as frames_lib
from star_jax.data import vimeo
from star_jax.errors import UserInputError
from star_jax.flow.backends import FlowSettings
from star_jax.flow.network_input import fr_targets, to_network_input

PathLike = Union[str, pathlib.Path]
CACHE_KEYS = ("flow_f", "flow_b", "gt_flow_f", "gt_flow_b")
SOURCE_KEY = "source_frames"  # frames_fingerprint() of the frames the flows were made from
SOURCE_INDEX = "source_frames.json"  # {clip: source_frames} of every file, rewritten per build
META_FILE = "flow_cache.json"
FORMAT_VERSION = 1
# CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state, so two
# threads parsing at once (np.load parses every .npy header with ast.literal_eval) can fail
# with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905; seen in
# grain's map threads). Readers of the cache take this lock; its cost is one small file read.
_READ_LOCK = threading.Lock()

Frames = Tuple[np.ndarray, np.ndarray, np.ndarray]


class CorruptCacheError(UserInputError):
  """A cache file that cannot be used (unreadable, lacking arrays, or holding NaN/Inf);
  ``path`` names it. Deleting it makes the next start recompute it."""

  def __init__(self, path: PathLike, reason: str):
    self.path = pathlib.Path(path)
    super().__init__(f"flow cache file {self.path} {reason}; delete it (the next start "
                     "recomputes it) or set data.skip_corrupt=True to skip its clip")


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
    raise UserInputError(f"{cache_dir / META_FILE} records {recorded}, but {meta} are asked for; "
                         f"delete {cache_dir} or use another cache folder (cache_dir; "
                         "data.flow_cache_dir in a training config)")


def _write_or_check_meta(cache_dir: pathlib.Path, settings: FlowSettings) -> None:
  """Write the cache's settings, or make sure they equal those already recorded."""
  check_settings(cache_dir, settings)
  if _recorded(cache_dir) is None:
    (cache_dir / META_FILE).write_text(json.dumps(_meta(settings), indent=2, sort_keys=True))


def _save_atomic(path: pathlib.Path, arrays: Dict[str, np.ndarray]) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with files.replaced_on_success(path) as partial, open(partial, "wb") as f:
    np.savez(f, **arrays)


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
                     progress: bool = True,
                     fingerprint: Optional[Callable[[str], np.ndarray]] = None) -> int:
  """Compute and store the flows of every clip not yet cached (or, with ``fingerprint``,
  whose stored ``source_frames`` differ from ``fingerprint(clip)``: its frames changed);
  returns how many were computed.

  ``load_frames(clip)`` returns the network's input frames (im1, im2, im3) as float32
  [0, 1] (H, W, 3) arrays. ``batch_size`` clips (6 flows each) are computed per device call;
  clips of different sizes are batched separately; the flows are ``settings.compute``'s.
  ``fingerprint(clip)`` (e.g. :func:`frames_fingerprint`) is stored with the flows.

  Raises:
    ValueError: ``batch_size`` < 1, ``cache_dir`` records other settings
      (:func:`check_settings`), ``load_frames`` returned other than three equal
      (H, W, C) frames in [0, 1], or the backend computed a NaN/Inf flow (the clip named).
  """
  if batch_size < 1:
    raise ValueError(f"batch_size={batch_size} must be at least 1")
  cache_dir = pathlib.Path(cache_dir)
  cache_dir.mkdir(parents=True, exist_ok=True)
  _write_or_check_meta(cache_dir, settings)
  clips = list(clips)
  sources = {}
  if fingerprint is None:
    todo = [clip for clip in clips if not clip_cache_path(cache_dir, clip).exists()]
  else:
    sources, stale = _stale_clips(cache_dir, clips, fingerprint)
    index_path = cache_dir / SOURCE_INDEX
    todo = [clip for clip in clips if clip in stale]
    changed = [clip for clip in todo if stale[clip]]
    if changed:
      logging.warning("flow cache %s: the frames of %d clip(s) changed since their flows were "
                      "computed (%s: %s); recomputing them", cache_dir, len(changed),
                      changed[0], stale[changed[0]])
  pending: Dict[Tuple[int, ...], List[Tuple[str, List[np.ndarray]]]] = {}

  def flush(shape, bar):
    group = pending.pop(shape)
    results = _clip_flows([frames for _, frames in group], batch_size, settings)
    for (clip, _), arrays in zip(group, results):
      bad = [key for key, value in arrays.items() if not np.all(np.isfinite(value))]
      if bad:
        raise UserInputError(f"{settings.backend} computed non-finite {bad} for clip {clip!r}; "
                             "nothing was stored for it")
      if clip in sources:
        arrays[SOURCE_KEY] = sources[clip]
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
  if fingerprint is not None:
    index = _read_index(cache_dir)
    records = {clip: [int(v) for v in sources[clip]] for clip in clips}
    if any(index.get(clip) != record for clip, record in records.items()):
      index.update(records)
      files.write_text(index_path, json.dumps(index, sort_keys=True))
  return len(todo)


def _read_index(cache_dir: pathlib.Path) -> Dict[str, List[int]]:
  try:
    return json.loads((cache_dir / SOURCE_INDEX).read_text())
  except (OSError, ValueError):  # absent, or damaged: the .npz files hold the same records
    return {}




# Parallel file-system probes of the freshness check: stat + header reads are I/O-bound, and
# on network file systems (NFS, GCS FUSE) their latency, not the CPU, sets the time.
_PROBE_THREADS = 16


def _stale_clips(cache_dir: pathlib.Path, clips: Sequence[str],
                 fingerprint: Callable[[str], np.ndarray]
                 ) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
  """(every clip's current fingerprint, {clip: why its flows must be computed}) where the
  reason is '' for a clip with no cache file. Probes run in threads; the cache reads among
  them take ``_READ_LOCK``."""

  index = _read_index(cache_dir)

  def probe(clip):
    now = np.asarray(fingerprint(clip), np.int64)
    path = clip_cache_path(cache_dir, clip)
    if not path.is_file():
      return clip, now, ""
    if clip in index:
      recorded = np.asarray(index[clip], np.int64)
      if np.array_equal(recorded, now):
        return clip, now, None
      return clip, now, f"made from {_describe(recorded)}, the files are now {_describe(now)}"
    try:
      with _READ_LOCK, np.load(path) as data:
        if SOURCE_KEY in data.files:
          recorded = data[SOURCE_KEY]
          if not np.array_equal(recorded, now):
            return clip, now, (f"made from {_describe(recorded)}, the files are now "
                               f"{_describe(now)}")
        elif data["flow_f"].shape[:2] != _input_size(now):
          return clip, now, (f"flows of {data['flow_f'].shape[:2]} but the frames are now "
                             f"{_describe(now)}")
    except (OSError, ValueError, KeyError) as error:
      return clip, now, f"unreadable cache file ({error})"
    return clip, now, None

  sources, stale = {}, {}
  with concurrent.futures.ThreadPoolExecutor(_PROBE_THREADS) as pool:
    for clip, now, reason in pool.map(probe, clips):
      sources[clip] = now
      if reason is not None:
        stale[clip] = reason
  return sources, stale


def _describe(fingerprint: np.ndarray) -> str:
  height, width, *sizes = (int(v) for v in fingerprint[:5])
  return f"{width}x{height} frames of {'/'.join(str(s) for s in sizes)} bytes"


def _input_size(fingerprint: np.ndarray) -> Tuple[int, int]:
  """The (H, W) the flows of a clip with ``fingerprint`` have (its last two entries)."""
  return int(fingerprint[5]), int(fingerprint[6])


def frames_fingerprint(clips: vimeo.VimeoClips, clip: str, scale: int,
                       hr_input: bool) -> np.ndarray:
  """What a clip's flows are made from, without decoding or hashing: int64 (7,) = the HR
  frame's height and width (image header, orientation applied), the byte sizes of the clip's
  three frame files, and the (H, W) its flows have (LR after mod-crop, or the mod-cropped HR
  for ``hr_input``); stored with the flows as ``source_frames``. A changed frame file almost
  always changes its compressed size; a same-size replacement is not detected (hashing
  every frame at each start would read the whole dataset).

  Raises:
    star_jax.data.vimeo.MissingClipError, star_jax.data.frames.FrameReadError: the clip's
      folder or a frame file is missing or its header unreadable.
  """
  paths = clips.frame_paths(clip)
  width, height = frames_lib.frame_size(paths[0])
  sizes = []
  for path in paths:
    try:
      sizes.append(path.stat().st_size)
    except OSError as error:
      raise frames_lib.FrameReadError(path, error.strerror or str(error)) from error
  crop_h, crop_w = height - height % scale, width - width % scale
  flow_hw = (crop_h, crop_w) if hr_input else (crop_h // scale, crop_w // scale)
  return np.array([height, width, *sizes, *flow_hw], np.int64)


def load_cached_flows(cache_dir, clip: str) -> Dict[str, np.ndarray]:
  """The four float32 (H, W, 2) network-convention arrays stored for ``clip``.

  Safe to call from several threads at once (grain's map threads): reads are serialised.

  Raises:
    FileNotFoundError: no cache file for ``clip``.
    CorruptCacheError: (a ValueError naming the file) it cannot be read, lacks one of
      ``CACHE_KEYS`` or holds a NaN/Inf.
  """
  path = clip_cache_path(cache_dir, clip)
  if not path.exists():
    raise UserInputError(f"no cached flows for clip {clip!r} at {path}; build them with "
                         "star_jax.data.flow_cache.ensure_flow_cache")
  try:
    with _READ_LOCK, np.load(path) as data:
      missing = [key for key in CACHE_KEYS if key not in data.files]
      if missing:
        raise CorruptCacheError(path, f"lacks {missing} (not a flow cache file of this format)")
      flows = {key: data[key] for key in CACHE_KEYS}
  except (OSError, EOFError, zipfile.BadZipFile) as error:  # truncated or overwritten
    raise CorruptCacheError(path, f"cannot be read ({type(error).__name__}: {error})") from error
  for key, flow in flows.items():
    if not np.all(np.isfinite(flow)):
      raise CorruptCacheError(path, f"holds {np.size(flow) - np.isfinite(flow).sum()} "
                                    f"non-finite values in {key}")
  return flows


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

  Resumable (``build_flow_cache`` skips clips already cached), and clips whose frames changed
  since their flows were computed are recomputed (module docstring). With ``skip_corrupt``, clips
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
                   progress=progress,
                   fingerprint=lambda clip: frames_fingerprint(clips, clip, scale, hr_input))
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
