"""Inference on videos and frame folders: ``python -m star_jax.infer --help``.

Library use::

    from star_jax.infer import InferenceOptions, run_inference
    run_inference(InferenceOptions(weights="STAR_4x.pth", input="in.mp4", output="out.mp4"))

or, for frames already in memory, :class:`PairEngine` (model outputs for frame pairs) and
:func:`generate_output_frames` (a mode's output frame stream).
"""

from star_jax.infer.engine import PairEngine, to_unit_range
from star_jax.infer.errors import UserInputError
from star_jax.infer.runner import InferenceOptions, InferenceSummary, run_inference
from star_jax.infer.schedule import MODES, generate_output_frames

__all__ = ["MODES", "InferenceOptions", "InferenceSummary", "PairEngine", "UserInputError",
           "generate_output_frames", "run_inference", "to_unit_range"]
