"""One inference run: check the input, load weights, stream frames through the model into
an output that appears only when complete."""

import dataclasses
import fractions
import pathlib
import sys
import time
from typing import Callable, Optional

import tqdm

from star_jax.infer import frame_schedule
from star_jax.infer.engine import DEFAULT_TILE_OVERLAP, PairEngine, load_engine
from star_jax.video import atomic_output, sources, timeline, writer


@dataclasses.dataclass
class InferenceOptions:
  """Command-line options (see ``python -m star_jax.infer --help``)."""
  weights: pathlib.Path
  input: pathlib.Path
  output: pathlib.Path
  mode: str = "space-time"
  time_factor: Optional[int] = None  # default: 2, or 1 in space mode
  dtype: str = "float32"
  tile_size: Optional[int] = None
  tile_overlap: int = DEFAULT_TILE_OVERLAP
  memory_budget_gb: Optional[float] = None
  batch_size: Optional[int] = None
  prefetch: int = frame_schedule.DEFAULT_PREFETCH
  flow_backend: str = "coarse2fine"
  fps: Optional[fractions.Fraction] = None  # frame rate of a frame-folder input
  scale: Optional[int] = None  # expected model scale, checked against the weights
  overwrite: bool = False
  progress: bool = True
  pix_fmt: str = writer.DEFAULT_PIX_FMT  # of a video output
  keep_audio: bool = True  # copy (or re-encode) the input's audio tracks into a video output


@dataclasses.dataclass
class InferenceSummary:
  input_frames: int
  output_frames: int
  output_width: int
  output_height: int
  output_fps: fractions.Fraction
  seconds: float


def load_jax_engine(options: InferenceOptions) -> PairEngine:
  """The JAX model of ``options.weights`` with the options' precision, flows and tiling."""
  return load_engine(options.weights, scale=options.scale, dtype=options.dtype,
                     flow_backend=options.flow_backend, batch_size=options.batch_size,
                     tile_size=options.tile_size, tile_overlap=options.tile_overlap,
                     memory_budget_gb=options.memory_budget_gb)


def run_inference(options: InferenceOptions,
                  engine_loader: Callable[[InferenceOptions], PairEngine] = load_jax_engine
                  ) -> InferenceSummary:
  """Runs the model over ``options.input`` and writes ``options.output``.

  ``engine_loader`` makes the engine from the options once the input and output are checked
  (default: the JAX model from ``options.weights``; ``star_jax.export`` passes an
  onnxruntime one).

  Raises ``UserInputError`` (one line, naming the input) for anything wrong with the input,
  the output path or the options; no output is left behind on any failure.
  """
  time_factor = options.time_factor or (1 if options.mode == "space" else 2)
  frame_schedule.check_mode(options.mode, time_factor)
  kind = sources.output_kind(options.output)
  atomic_output.check_destination(options.output, options.overwrite)
  if kind == "video":
    writer.check_pix_fmt(options.output, options.pix_fmt)
  source = sources.open_source(options.input, options.fps)

  engine = engine_loader(options)
  factor = frame_schedule.output_size_factor(options.mode, engine.scale)
  width, height = source.width * factor, source.height * factor
  times = timeline.output_timeline(source.timeline, options.mode, time_factor)
  fps = source.fps * time_factor  # nominal; the frames keep the input's own times
  expected = frame_schedule.output_frame_count(options.mode, time_factor, source.frame_count)
  rate_kind = "" if source.timeline.is_constant_rate() else " (variable frame rate)"
  print(f"{source.name}: {source.width}x{source.height} at {float(source.fps):.3f} fps"
        f"{rate_kind} -> "
        f"{options.output}: {width}x{height} at {float(fps):.3f} fps ({options.mode}, "
        f"{engine.model_cfg['variant']} x{engine.scale}, {options.dtype}, "
        f"{len(engine.devices)} device(s))", file=sys.stderr)

  started = time.perf_counter()
  with atomic_output.atomic_destination(options.output, options.overwrite) as partial:
    sink = sources.FrameSink(kind, partial, times, width, height, source, options.pix_fmt,
                             options.keep_audio)
    for notice in sink.notices:
      print(f"notice: {notice}", file=sys.stderr)
    success = False
    try:
      frames = frame_schedule.generate_output_frames(
          engine, source.frames(), options.mode, time_factor, source.name,
          pairs_per_step=engine.batch_size, prefetch=options.prefetch)
      with tqdm.tqdm(total=expected, unit="frame", desc="frames out",
                     disable=not options.progress, file=sys.stderr) as progress:
        for frame in frames:
          sink.write(frame)
          progress.update(1)
      success = True
    finally:
      sink.close(success)
  input_frames = ((sink.frames_written - 1) // time_factor + 1 if options.mode != "space"
                  else sink.frames_written)
  return InferenceSummary(input_frames, sink.frames_written, width, height, fps,
                          time.perf_counter() - started)
