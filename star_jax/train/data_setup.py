"""The trainer's data preparation: the training config's ``data`` fields turned into the flow
settings, the flow caches and the input pipelines of the train and eval splits.

Fields read: ``data.*`` (``star_jax.train.config``), ``model.scale``, ``seed``.
"""

import jax
from jax.experimental import multihost_utils

from star_jax.data import demo as demo_data
from star_jax.data import flow_cache, pipeline, vimeo
from star_jax.flow import FlowSettings


def flow_settings(data_config) -> FlowSettings:
  """The flows a run trains on: ``data.flow_backend``, with ``data.flow_mode`` as the
  coarse2fine solver (the OpenCV backends use their defaults).

  Raises:
    ValueError: an unknown backend or mode (``FlowSettings``).
  """
  if data_config.flow_backend == "coarse2fine":
    return FlowSettings("coarse2fine", {"mode": data_config.flow_mode})
  return FlowSettings(data_config.flow_backend)


def pipeline_config(config, split: str, training: bool,
                    batch_size: int) -> pipeline.PipelineConfig:
  """The input pipeline of ``split``: for training (patches, augmentation, shuffled, repeated
  forever, worker processes, last partial batch dropped) or for held-out evaluation (whole
  frames, in order, one pass, every sample kept). ``batch_size`` is global; each process
  reads ``batch_size // jax.process_count()`` samples per batch."""
  d = config.data
  return pipeline.PipelineConfig(
      root=d.dir, split=split, scale=int(config.model.scale),
      batch_size=batch_size // jax.process_count(),
      patch_size=d.patch_size if training else 0, augment=d.augment and training,
      shuffle=training, num_epochs=None if training else 1, seed=config.seed,
      num_workers=d.num_workers if training else 0, num_threads=d.num_threads,
      hr_input=d.hr_input, flow=flow_settings(d), flow_cache_dir=d.flow_cache_dir,
      source=d.source, tfds_data_dir=d.tfds_data_dir, tfds_config=d.tfds_config,
      clips=d.clips, lr_method=d.lr_method, skip_corrupt=d.skip_corrupt,
      drop_remainder=training)


def generate_demo_data(config) -> None:
  """Builds the embedded demo dataset in ``data.dir`` when ``data.generate_demo`` and it is
  missing (process 0 writes; the others wait at a barrier). Runs before the data checks
  (``preflight.check_data``), which read the split lists it writes."""
  if not config.data.generate_demo:
    return
  if jax.process_index() == 0:
    demo_data.ensure_demo_dataset(config.data.dir)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("demo dataset ready")


def prepare_data(config) -> None:
  """Makes sure both splits' flows are cached (process 0 computes; the others wait at a
  barrier).

  Raises:
    ValueError: the flow cache folder records other flow settings
      (``flow_cache.check_settings``; the message names the folder and
      ``data.flow_cache_dir``).
    star_jax.data.vimeo.MissingClipError, star_jax.data.frames.FrameReadError: an
      unreadable clip without ``data.skip_corrupt``.
  """
  d = config.data
  if jax.process_index() == 0:
    for split in (d.train_split, d.eval_split):
      flow_cache.ensure_flow_cache(d.dir, split, settings=flow_settings(d),
                                   scale=int(config.model.scale), hr_input=d.hr_input,
                                   cache_dir=d.flow_cache_dir, skip_corrupt=d.skip_corrupt,
                                   kind=d.clips, lr_method=d.lr_method)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices("flow cache ready")


def num_clips(config, split: str) -> int:
  """How many training samples (triplets) ``split`` holds (``data.clips``: the triplet list's
  lines, or five per line of the septuplet list)."""
  return len(vimeo.VimeoClips.open(config.data.dir, config.data.clips, split).clips)
