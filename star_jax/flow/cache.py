"""Flow cache for datasets: every flow a clip needs, computed once and stored beside the data.

The release recomputes up to six variational flows per sample every epoch; here they are
computed once, batched on whatever JAX device is present, and training only reads them (flips
and rotations are applied to the cached fields with ``star_jax.flow.transforms``).

Layout (shared contract with ``star_jax.data``): one ``<cache_dir>/<clip>.npz`` per clip (clip
paths such as ``00001/0389``) holding float32 (H, W, 2) arrays in the *network* convention:
``flow_f`` (im1 -> im3), ``flow_b`` (im3 -> im1) and the FR targets ``gt_flow_f``, ``gt_flow_b``,
all on the LR frames. ``<cache_dir>/flow_cache.json`` records the backend and its parameters so
that a resumed build cannot mix flows from different settings. Files are written atomically
(temporary file + rename), so an interrupted build resumes by skipping the clips already done.
"""

import json
import os
import pathlib
import tempfile
import threading
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from star_jax.flow.backends import compute_flow, resolved_params
from star_jax.flow.network_input import fr_targets, to_network_input

CACHE_KEYS = ("flow_f", "flow_b", "gt_flow_f", "gt_flow_b")
META_FILE = "flow_cache.json"
FORMAT_VERSION = 1
# CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state, so two
# threads parsing at once (np.load parses every .npy header with ast.literal_eval) can fail
# with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905; seen in
# grain's map threads). Readers of the cache take this lock; its cost is one small file read.
_READ_LOCK = threading.Lock()

Frames = Tuple[np.ndarray, np.ndarray, np.ndarray]


def default_cache_dir(dataset_root, backend: str = "coarse2fine", scale: int = 4) -> pathlib.Path:
  """``<dataset_root>/flow_cache/<backend>_x<scale>``: flows depend on backend and LR scale."""
  return pathlib.Path(dataset_root) / "flow_cache" / f"{backend}_x{scale}"


def clip_cache_path(cache_dir, clip: str) -> pathlib.Path:
  """Where ``clip``'s flows live; refuses absolute paths and '..' so files stay in the cache."""
  relative = pathlib.PurePosixPath(clip)
  if relative.is_absolute() or ".." in relative.parts or not relative.parts:
    raise ValueError(f"clip {clip!r} must be a relative path like '00001/0389' without '..'")
  return pathlib.Path(cache_dir).joinpath(*relative.parts).with_suffix(".npz")


def _check_meta(cache_dir: pathlib.Path, backend: str, params: Dict) -> None:
  """Write the cache's settings, or make sure they equal those already recorded."""
  meta = {"format": FORMAT_VERSION, "backend": backend,
          "params": resolved_params(backend, params)}
  path = cache_dir / META_FILE
  if path.exists():
    recorded = json.loads(path.read_text())
    if recorded != json.loads(json.dumps(meta)):
      raise ValueError(f"{path} records {recorded}, but this build asks for {meta}; use another "
                       "cache_dir or delete the old cache")
    return
  path.write_text(json.dumps(meta, indent=2, sort_keys=True))


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


def _clip_flows(frames: List[List[np.ndarray]], batch_size: int, backend: str,
                params: Dict) -> List[Dict[str, np.ndarray]]:
  """Six flows per clip in one batched call; the batch is padded to a fixed size so that a
  jit-compiled backend compiles once per frame size."""
  im1, im2, im3 = (np.stack([clip_frames[k] for clip_frames in frames]) for k in range(3))
  count = len(frames)
  pad = batch_size - count
  if pad > 0:
    im1, im2, im3 = (np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) for a in (im1, im2, im3))
  firsts = np.concatenate([im1, im3, im1, im2, im3, im2])
  seconds = np.concatenate([im3, im1, im2, im3, im2, im1])
  flows = compute_flow(firsts, seconds, backend=backend, **params)
  f13, f31, f12, f23, f32, f21 = np.split(flows, 6)
  gt_f, gt_b = fr_targets(f12, f23, f32, f21)
  flow_f, flow_b = to_network_input(f13), to_network_input(f31)
  return [{"flow_f": flow_f[i], "flow_b": flow_b[i], "gt_flow_f": gt_f[i], "gt_flow_b": gt_b[i]}
          for i in range(count)]


def build_flow_cache(clips: Iterable[str], load_frames: Callable[[str], Frames], cache_dir,
                     backend: str = "coarse2fine", batch_size: int = 8, progress: bool = True,
                     **flow_params) -> int:
  """Compute and store the flows of every clip not yet cached; returns how many were computed.

  ``load_frames(clip)`` returns the LR frames (im1, im2, im3) as float32 [0, 1] (H, W, 3)
  arrays. ``batch_size`` clips (6 flows each) are computed per device call; clips of different
  sizes are batched separately. ``flow_params`` go to ``compute_flow``.
  """
  if batch_size < 1:
    raise ValueError(f"batch_size={batch_size} must be at least 1")
  cache_dir = pathlib.Path(cache_dir)
  cache_dir.mkdir(parents=True, exist_ok=True)
  _check_meta(cache_dir, backend, flow_params)
  clips = list(clips)
  todo = [clip for clip in clips if not clip_cache_path(cache_dir, clip).exists()]
  pending: Dict[Tuple[int, ...], List[Tuple[str, List[np.ndarray]]]] = {}

  def flush(shape, bar):
    group = pending.pop(shape)
    results = _clip_flows([frames for _, frames in group], batch_size, backend, flow_params)
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
                            "star_jax.flow.cache.build_flow_cache")
  with _READ_LOCK, np.load(path) as data:
    missing = [key for key in CACHE_KEYS if key not in data.files]
    if missing:
      raise ValueError(f"{path} lacks {missing}; it is not a flow cache file of this format")
    return {key: data[key] for key in CACHE_KEYS}
