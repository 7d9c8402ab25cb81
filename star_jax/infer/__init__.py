"""Inference on videos and frame folders: ``python -m star_jax.infer --help``.

Library use::

    from star_jax.infer import InferenceOptions, run_inference
    run_inference(InferenceOptions(weights="STAR_4x.pth", input="in.mp4", output="out.mp4"))

or, for frames already in memory, :class:`PairEngine` (model outputs for frame pairs) and
:func:`generate_output_frames` (a mode's output frame stream).

The file-reading and writing half (``runner``: PyAV, tqdm) is imported on first use of its
names, so the engine and the schedule import with JAX, NumPy and Pillow alone (as
``benchmarks/accelerator_suite.py`` needs on a machine without PyAV).
"""

import importlib

from star_jax.infer.engine import PairEngine
from star_jax.infer.frame_schedule import MODES, generate_output_frames

__all__ = ["MODES", "InferenceOptions", "InferenceSummary", "PairEngine",
           "generate_output_frames", "run_inference"]
_RUNNER_NAMES = ("InferenceOptions", "InferenceSummary", "run_inference")


def __getattr__(name):
  if name in _RUNNER_NAMES:
    return getattr(importlib.import_module("star_jax.infer.runner"), name)
  raise AttributeError(f"module 'star_jax.infer' has no attribute {name!r}")
