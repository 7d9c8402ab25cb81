"""The training/evaluation input pipeline (grain): clips -> augmented, normalised batches.

Per sample, in order: read the clip (PNG folder or TFDS ArrayRecord; a Vimeo triplet, or a
triplet of consecutive frames of a septuplet with ``clips='septuplet_triplets'``) -> mod-crop
-> the LR frames of the whole frame (the release's PIL bicubic, or MATLAB's with
``lr_method='matlab'``, ``star_jax.data.frames.lr_from_hr``) -> cached flows of the clip -> optional
random patch (same region of every LR frame, flow and the matching HR region) -> flips
(same for every frame, flows transformed to match) -> ImageNet normalisation. The LR frames
are made from the whole HR frame before cropping, as the release does, so a patch is a crop
of the LR frame the cached flows were computed on (a TFDS config that stores LR frames,
e.g. 'triplet_x4', supplies the same pixels without resizing).

Batch keys (NHWC, batched along axis 0; frames float32 ImageNet-normalised, or uint8 with
``normalize=False``; flows float32):
  inputs   im1, im2         LR frames t and t+1 (= Vimeo im1, im3)
           flow_f, flow_b   flow im1->im2 / im2->im1 (Vimeo im1->im3 / im3->im1), network
                            convention -clip(f, 150) / 150
  targets  hr1, hr_t, hr2   HR im1, im2 (the in-between frame), im3
           lr_t             LR im2
           gt_flow_f, gt_flow_b  the FR flow targets
STAR-T-HR (``hr_input=True``): im1/im2 are the HR frames, flows come from a cache computed on
HR frames, ``lr_t`` is the HR in-between frame (the model's input-resolution output ``l`` is
the one trained), and there are no hr1/hr_t/hr2.

The iterator is a grain ``DatasetIterator``: ``get_state()``/``set_state()`` (or orbax with
``grain.checkpoint.CheckpointSave/CheckpointRestore``) resume it exactly, also with another
``num_workers`` than the state was saved with (the position is converted: every worker count
reads the same elements in the same order); its ``num_skipped`` counts clips skipped as
unreadable (frames, or a flow cache file that cannot be read or holds NaN/Inf) when
``skip_corrupt`` is on, ``last_clips`` names the clips of the batch it returned last, and
``close()`` stops its worker processes. Worker processes ignore SIGINT (Ctrl-C reaches the
whole process group; the main process stops them, so they print no tracebacks).
"""

import dataclasses
import logging
import pathlib
import signal
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from absl import flags
import grain
import numpy as np

from star_jax.data import augment
from star_jax.data import frames as frames_lib
from star_jax.data import flow_cache
from star_jax import pixels
from star_jax.data import thread_safe_ast
from star_jax.data import vimeo
from star_jax.errors import UserInputError
from star_jax.flow.backends import FlowSettings

# The map threads parse .npy headers (np.load): on CPython < 3.11.8 / 3.12.2 parses must not
# overlap across threads (star_jax.data.thread_safe_ast).
thread_safe_ast.install()

Sample = Dict[str, np.ndarray]

FLOW_KEYS = flow_cache.CACHE_KEYS
FRAME_KEYS = ("im1", "im2", "lr_t", "hr1", "hr_t", "hr2")
_SKIPPED = "skipped_clip"  # Key of the marker element that stands in for an unreadable clip.
_CLIP = "clip"  # A sample's clip path; the batcher keeps it out of the batch (``last_clips``).


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """What :func:`make_dataset` builds. Defaults: the release's STAR training at 4x.

  Attributes:
    root: Vimeo-layout root (``sequences/`` + split lists); also the default home of the
      flow cache (``star_jax.data.flow_cache``).
    split: 'train' or 'test'.
    scale: spatial SR factor (HR frames are mod-cropped to it; LR = HR / scale).
    batch_size: samples per batch.
    patch_size: random square crop in input pixels (LR; HR for STAR-T-HR); 0 = whole frame.
    augment: the release's flips and 180 degree rotation, each with p = 1/2.
    shuffle: reshuffle every epoch (deterministic given ``seed``).
    num_epochs: passes over the split; None repeats forever.
    seed: drives shuffling, flips and patches.
    num_workers: grain worker processes (0 = decode in this process with threads).
    num_threads: reader threads per process.
    hr_input: STAR-T-HR mode (HR inputs, HR flows, HR in-between target).
    flow: the flow backend and settings whose cached flows to read (they pick the cache's
      sub-folder, and must equal the settings the cache records).
    flow_cache_dir: explicit cache folder (default: ``flow_cache.default_cache_dir``).
    source: 'folder' (PNG frames) or 'tfds' (ArrayRecord built by ``tfds_vimeo``).
    tfds_data_dir: TFDS data_dir for ``source='tfds'``.
    tfds_config: which ``tfds_vimeo`` triplet config to read; one that stores LR frames at
      ``scale`` (e.g. 'triplet_x4') is read instead of resizing (identical pixels, faster).
    clips: 'triplet' (the triplet lists) or 'septuplet_triplets' (frames i, i+1, i+2,
      i = 1..5, of every septuplet of the ``sep_*list.txt`` lists; folder source only).
    lr_method: 'pil' (the release's LR frames) or 'matlab' (the field's; see
      ``frames.lr_from_hr``); its flows live in a cache of their own.
    skip_corrupt: skip (and count) clips with missing or corrupt frames, or whose cached
      flows cannot be read or hold NaN/Inf, instead of raising.
    drop_remainder: drop a last incomplete batch.
    normalize: frames as ImageNet-normalised float32 (default), or False for raw uint8 RGB
      (a quarter of the host memory and host-to-device bytes; normalise on the device with
      the same ``(x / 255 - mean) / std``).
    shard_index, shard_count: this process's slice of the data; None = jax process index
      and count.
  """

  root: str
  split: str = "train"
  scale: int = 4
  batch_size: int = 10
  patch_size: int = 0
  augment: bool = True
  shuffle: bool = True
  num_epochs: Optional[int] = None
  seed: int = 0
  num_workers: int = 0
  num_threads: int = 2
  hr_input: bool = False
  flow: FlowSettings = FlowSettings()
  flow_cache_dir: Optional[str] = None
  source: str = "folder"
  tfds_data_dir: Optional[str] = None
  tfds_config: str = "triplet"
  clips: str = "triplet"
  lr_method: str = "pil"
  skip_corrupt: bool = False
  drop_remainder: bool = True
  normalize: bool = True
  shard_index: Optional[int] = None
  shard_count: Optional[int] = None

  @classmethod
  def from_mapping(cls, mapping: Mapping[str, Any]) -> "PipelineConfig":
    """From a dict / ml_collections ConfigDict (``flow`` may be a FlowSettings or a mapping
    of its fields); unknown keys are an error naming them."""
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - known)
    if unknown:
      raise ValueError(f"unknown input pipeline options {unknown}; known: {sorted(known)}")
    options = dict(mapping)
    if isinstance(options.get("flow"), Mapping):
      options["flow"] = FlowSettings(**options["flow"])
    return cls(**options)


@dataclasses.dataclass(frozen=True)
class _ReadClip(grain.transforms.Map):
  """Source record -> {'clip', 'frames' (3, H, W, 3) uint8[, 'lr_frames']}, or a skip marker."""

  clips: Optional[vimeo.VimeoClips]
  skip_corrupt: bool
  use_stored_lr: bool = False

  def map(self, record):
    if self.clips is not None:  # Folder source: the record is the clip path.
      clip = record
      try:
        frames = self.clips.load_clip(clip)
      except vimeo.UNREADABLE_CLIP as error:
        if not self.skip_corrupt:
          raise
        logging.warning("skipping unreadable clip %s: %s", clip, error)
        return {_SKIPPED: clip}
    else:  # TFDS source: decoded frames and the clip path (and LR frames if stored).
      clip = record["clip"]
      clip = clip.decode() if isinstance(clip, bytes) else str(clip)
      frames = np.stack([record["im1"], record["im2"], record["im3"]])
      if self.use_stored_lr:
        return {"clip": clip, "frames": frames,
                "lr_frames": np.stack([record["lr1"], record["lr2"], record["lr3"]])}
    return {"clip": clip, "frames": frames}


@dataclasses.dataclass(frozen=True)
class _MakeSample(grain.transforms.RandomMap):
  """{"clip", "frames"} -> a sample: uint8 frames (normalised later, in the batcher) and
  float32 flows, all cropped and flipped alike (see the module docstring)."""

  scale: int
  hr_input: bool
  patch_size: int
  augment: bool
  flow_cache_dir: str
  lr_method: str = "pil"
  skip_corrupt: bool = False

  def random_map(self, element, rng: np.random.Generator):
    if _SKIPPED in element:
      return element
    clip = element["clip"]
    try:
      flows = flow_cache.load_cached_flows(self.flow_cache_dir, clip)
    except flow_cache.CorruptCacheError as error:
      if not self.skip_corrupt:
        raise
      logging.warning("skipping clip %s: %s", clip, error)
      return {_SKIPPED: clip}
    hr = frames_lib.mod_crop(element["frames"], self.scale)
    if self.hr_input:
      inputs = hr
    elif "lr_frames" in element:
      inputs = element["lr_frames"]
    else:
      inputs = np.stack([frames_lib.lr_from_hr(frame, self.scale, self.lr_method)
                         for frame in hr])
    flows = {key: np.asarray(flows[key], dtype=np.float32) for key in FLOW_KEYS}
    for key, flow in flows.items():
      if flow.shape != inputs.shape[1:3] + (2,):
        raise UserInputError(
            f"cached {key} of clip {clip} in {self.flow_cache_dir} has shape {flow.shape} but "
            f"the input frames are {inputs.shape[1:3]}: the cache was built for other frames "
            "(scale / STAR-T-HR mode); rebuild it or point flow_cache_dir elsewhere")

    corner = augment.draw_patch(rng, inputs.shape[1], inputs.shape[2], self.patch_size)
    flips = augment.draw_flips(rng) if self.augment else augment.NO_FLIPS
    inputs = augment.flip_frames(augment.crop_patch(inputs, corner, self.patch_size), flips)
    # Frames stay uint8 views here; the batcher normalises them straight into the batch.
    sample = {"im1": inputs[0], "im2": inputs[2], "lr_t": inputs[1], _CLIP: clip}
    for key, flow in flows.items():
      sample[key] = augment.flip_flow(augment.crop_patch(flow, corner, self.patch_size), flips)
    if not self.hr_input:
      hr = augment.flip_frames(augment.crop_patch(hr, corner, self.patch_size, self.scale), flips)
      sample.update(hr1=hr[0], hr_t=hr[1], hr2=hr[2])
    return sample


class _SkipCountingBatchIterator(grain.DatasetIterator):
  """Drops skip markers (counting them) and stacks samples into batches, normalising frames.

  Runs in the main process, after any worker processes, so the count is exact and part of
  the checkpointed state. Samples arrive with uint8 frames (a quarter of the bytes to move
  from workers) and are normalised directly into the preallocated batch, one pass per frame.
  The clip paths of the last batch are kept (``last_clips``), not batched. ``set_state``
  accepts a state saved with another number of worker processes (:func:`convert_position`).
  """

  def __init__(self, parent: grain.DatasetIterator, batch_size: int, drop_remainder: bool,
               normalize: bool, num_workers: int):
    super().__init__(parent)
    self._batch_size = batch_size
    self._drop_remainder = drop_remainder
    self._normalize = normalize
    self._num_workers = num_workers
    self._num_skipped = 0
    self._last_clips: Sequence[str] = ()

  @property
  def num_skipped(self) -> int:
    """Clips skipped as unreadable so far (restored with the iterator state)."""
    return self._num_skipped

  @property
  def last_clips(self) -> Sequence[str]:
    """The clip paths of the batch :meth:`__next__` returned last, in batch order."""
    return self._last_clips

  def __next__(self) -> Sample:
    samples = []
    while len(samples) < self._batch_size:
      try:
        element = next(self._parent)
      except StopIteration:
        if self._drop_remainder or not samples:
          raise
        break
      if _SKIPPED in element:
        self._num_skipped += 1
      else:
        samples.append(element)
    self._last_clips = tuple(str(sample.pop(_CLIP, "?")) for sample in samples)
    batch = {}
    for key, first in samples[0].items():
      normalized = self._normalize and key in FRAME_KEYS
      out = np.empty((len(samples),) + first.shape, np.float32 if normalized else first.dtype)
      for index, sample in enumerate(samples):
        if normalized:
          pixels.normalize_uint8(sample[key], out=out[index])
        else:
          out[index] = sample[key]
      batch[key] = out
    return batch

  def get_state(self) -> Dict[str, Any]:
    return {"parent": self._parent.get_state(), "num_skipped": self._num_skipped}

  def set_state(self, state: Dict[str, Any]) -> None:
    self._parent.set_state(convert_position(state["parent"], self._num_workers))
    self._num_skipped = int(state["num_skipped"])

  def close(self) -> None:
    """Stops the worker processes (and frees their shared memory); idempotent."""
    close = getattr(self._parent, "close", None)
    if close is not None:
      close()


class _SkipCountingBatch(grain.IterDataset):

  def __init__(self, parent: grain.IterDataset, batch_size: int, drop_remainder: bool,
               normalize: bool, num_workers: int):
    super().__init__(parent)
    self._batch_size = batch_size
    self._drop_remainder = drop_remainder
    self._normalize = normalize
    self._num_workers = num_workers

  def __iter__(self) -> _SkipCountingBatchIterator:
    return _SkipCountingBatchIterator(self._parent.__iter__(), self._batch_size,
                                      self._drop_remainder, self._normalize, self._num_workers)


def position(state: Mapping[str, Any]) -> int:
  """How many elements (clips, skipped ones included) of this process's sequence a grain
  iterator state has consumed, whatever worker count wrote it.

  grain 0.2.18's states: without worker processes ``{"next_index": n}``; with ``mp_prefetch``
  an interleave over the workers, worker ``i`` reading elements ``i, i + w, ...``, whose
  state lists each worker's ``{"next_index": k_i}``: n = sum of the k_i.

  Raises:
    ValueError: a state of another layout (naming ``data.num_workers``).
  """
  if "next_index" in state:
    return int(state["next_index"])
  workers = state.get("iterators_in_use_states")
  if (isinstance(workers, list) and workers and not state.get("future_states")
      and not any(state.get("exhausted", ())) and all("next_index" in w for w in workers)):
    return sum(int(w["next_index"]) for w in workers)
  raise ValueError(f"cannot read the data position from the saved input pipeline state "
                   f"{dict(state)}; resume with the data.num_workers it was saved with")


def convert_position(state: Mapping[str, Any], num_workers: int) -> Dict[str, Any]:
  """``state`` (a grain iterator state of the pipeline's elements, :func:`position`) as the
  state of a pipeline with ``num_workers`` worker processes, at the same element: unchanged
  when it already has that layout. Exact: the interleave takes one element from each worker
  in turn, so every worker count yields elements 0, 1, 2, ... in order.

  Raises:
    ValueError: as :func:`position`.
  """
  state = dict(state)
  saved_workers = (0 if "next_index" in state
                   else len(state.get("iterators_in_use_states") or ()))
  if saved_workers == num_workers:
    return state
  consumed = position(state)
  if num_workers == 0:
    return {"next_index": consumed}
  if num_workers == 1:  # one worker reads the sequence itself, not a slice of it
    per_worker = [consumed]
  else:
    per_worker = [consumed // num_workers + (1 if i < consumed % num_workers else 0)
                  for i in range(num_workers)]
  return {"next_index_in_cycle": consumed % num_workers,
          "next_index_in_datasets": num_workers,
          "iterators_in_use_indices": list(range(num_workers)),
          "iterators_in_use_states": [{"next_index": k} for k in per_worker],
          "exhausted": [0] * num_workers, "future_states": {}}


def _ignore_sigint(worker_index: int, worker_count: int) -> None:
  """grain worker init: leave Ctrl-C to the main process, which stops the workers."""
  del worker_index, worker_count
  signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_dataset(config: Union[PipelineConfig, Mapping[str, Any]]) -> grain.IterDataset:
  """Builds the pipeline; ``iter()`` of the result yields batches (see module docstring).

  Ordering: shuffle (reseeded per epoch) -> repeat -> read -> sample (its randomness is
  seeded by the element's global position, so augmentation does not depend on the number
  of processes or workers) -> per-process slice -> threads / worker processes -> batch.
  """
  if not isinstance(config, PipelineConfig):
    config = PipelineConfig.from_mapping(config)
  if config.source not in ("folder", "tfds"):
    raise ValueError(f"source must be 'folder' or 'tfds', got {config.source!r}")
  if config.batch_size < 1:
    raise ValueError(f"batch_size must be positive, got {config.batch_size}")
  if config.clips not in ("triplet", "septuplet_triplets"):
    raise ValueError(f"clips must be 'triplet' or 'septuplet_triplets', got {config.clips!r}")
  if config.lr_method not in frames_lib.LR_METHODS:
    raise ValueError(f"lr_method must be one of {frames_lib.LR_METHODS}, got "
                     f"{config.lr_method!r}")
  if config.source == "tfds" and config.clips != "triplet":
    raise ValueError(f"clips={config.clips!r} is read from folders (source='folder'); the "
                     "TFDS builds hold triplet samples")
  cache_dir = config.flow_cache_dir or flow_cache.default_cache_dir(
      config.root, config.flow, config.scale, config.hr_input, config.lr_method)
  if not pathlib.Path(cache_dir).is_dir():
    raise UserInputError(
        f"flow cache {cache_dir} does not exist; build it first with "
        "star_jax.data.flow_cache.ensure_flow_cache(root, split, ...)")
  flow_cache.check_settings(cache_dir, config.flow)

  if config.source == "folder":
    clips = vimeo.VimeoClips.open(config.root, config.clips, config.split)
    dataset = grain.MapDataset.source(list(clips.clips))
    use_stored_lr = False
  else:
    from star_jax.data import tfds_vimeo  # pylint: disable=g-import-not-at-top (heavy import)
    if not config.tfds_data_dir:
      raise UserInputError("source='tfds' needs tfds_data_dir (where tfds_vimeo.prepare built it)")
    builder = tfds_vimeo.Vimeo90k(config=config.tfds_config, data_dir=config.tfds_data_dir)
    if builder.builder_config.kind != "triplet":
      raise UserInputError(f"tfds_config {config.tfds_config!r} is not a triplet config")
    dataset = grain.MapDataset.source(builder.as_data_source(split=config.split))
    clips = None
    use_stored_lr = (builder.builder_config.lr_scale == config.scale and not config.hr_input
                     and config.lr_method == "pil")  # the stored LR frames are PIL's
  if len(dataset) == 0:
    raise UserInputError(f"split {config.split!r} of {config.root} has no clips")
  if config.shuffle:
    dataset = dataset.shuffle(seed=config.seed)
  dataset = dataset.repeat(config.num_epochs)
  dataset = dataset.map(_ReadClip(clips=clips, skip_corrupt=config.skip_corrupt,
                                  use_stored_lr=use_stored_lr))
  dataset = dataset.random_map(
      _MakeSample(scale=config.scale, hr_input=config.hr_input, patch_size=config.patch_size,
                  augment=config.augment, flow_cache_dir=str(cache_dir),
                  lr_method=config.lr_method, skip_corrupt=config.skip_corrupt),
      seed=config.seed)
  shard_index, shard_count = _shard(config)
  dataset = dataset[shard_index::shard_count]
  iter_dataset = dataset.to_iter_dataset(
      grain.ReadOptions(num_threads=config.num_threads,
                        prefetch_buffer_size=max(2 * config.batch_size, config.num_threads)))
  if config.num_workers > 0:
    # grain 0.2.18 reads an absl flag when starting workers and fails if the program did not
    # parse flags (i.e. did not start through absl.app; google/grain#1355, fixed later).
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    iter_dataset = iter_dataset.mp_prefetch(
        grain.MultiprocessingOptions(num_workers=config.num_workers),
        worker_init_fn=_ignore_sigint)
  return _SkipCountingBatch(iter_dataset, config.batch_size, config.drop_remainder,
                            config.normalize, config.num_workers)


def _shard(config: PipelineConfig):
  if (config.shard_index is None) != (config.shard_count is None):
    raise ValueError("set both shard_index and shard_count, or neither")
  if config.shard_index is None:
    import jax  # pylint: disable=g-import-not-at-top (only needed for the default)
    return jax.process_index(), jax.process_count()
  if not 0 <= config.shard_index < config.shard_count:
    raise ValueError(f"shard_index {config.shard_index} not in [0, {config.shard_count})")
  return config.shard_index, config.shard_count


def batch_keys(hr_input: bool = False) -> Sequence[str]:
  """The keys of a batch in the given mode."""
  return FRAME_KEYS[:3] + FLOW_KEYS + (() if hr_input else FRAME_KEYS[3:])


def batch_shapes(batch_size: int, height: int, width: int, scale: int,
                 hr_input: bool = False) -> Dict[str, tuple]:
  """{key: shape} of a batch (:func:`batch_keys`) whose input frames are ``height x width``
  pixels (LR frames; the HR frames with ``hr_input``): frames (B, H, W, 3), flows
  (B, H, W, 2), the HR targets hr1/hr_t/hr2 (B, scale*H, scale*W, 3). Every array of a
  batch is float32 (normalised frames, network-unit flows)."""
  shapes = {}
  for key in batch_keys(hr_input):
    if key in FLOW_KEYS:
      shapes[key] = (batch_size, height, width, 2)
    elif key in ("hr1", "hr_t", "hr2"):
      shapes[key] = (batch_size, scale * height, scale * width, 3)
    else:
      shapes[key] = (batch_size, height, width, 3)
  return shapes
