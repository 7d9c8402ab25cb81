"""Inference on videos and frame folders: ``python -m star_jax.infer --help``.

Library use::

    from star_jax.infer import JaxNetwork
    from star_jax.infer.runner import InferenceOptions, run_inference
    run_inference(InferenceOptions(input="in.mp4", output="out.mp4"),
                  lambda: JaxNetwork.from_weights("STAR_4x.pth"))

or, for frames already in memory, :class:`PairEngine` (model outputs for frame pairs: a
:class:`JaxNetwork` + a ``FlowSettings`` + :class:`EngineOptions`) and
:func:`generate_output_frames` (a mode's output frame stream). The engine and the schedule
import with JAX, NumPy and Pillow alone (as ``benchmarks/accelerator_suite.py`` needs on a
machine without PyAV); ``runner`` reads and writes the files through ``star_jax.video``.
"""

from star_jax.infer.engine import PairEngine
from star_jax.infer.frame_schedule import MODES, generate_output_frames
from star_jax.infer.network import JaxNetwork
from star_jax.infer.planner import EngineOptions

__all__ = ["MODES", "EngineOptions", "JaxNetwork", "PairEngine", "generate_output_frames"]
