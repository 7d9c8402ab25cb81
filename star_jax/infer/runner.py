"""One inference run: check the input, load weights, stream frames through the model into
an output that appears only when complete."""

import dataclasses
import fractions
import pathlib
import sys
import time
from typing import Callable, Optional

import tqdm

from star_jax import files
from star_jax.flow import FlowSettings
from star_jax.infer import frame_schedule
from star_jax.infer.engine import PairEngine
from star_jax.infer.network import Network
from star_jax.infer.planner import EngineOptions
from star_jax.video import atomic_output, sources, timeline, writer


@dataclasses.dataclass
class InferenceOptions:
  """Command-line options (see ``python -m star_jax.infer --help``) apart from the network's
  (weights, scale, dtype: what ``run_inference``'s ``load_network`` loads)."""
  input: pathlib.Path
  output: pathlib.Path
  mode: str = "space-time"
  time_factor: Optional[int] = None  # default: 2, or 1 in space mode
  flow: FlowSettings = dataclasses.field(default_factory=FlowSettings)
  engine: EngineOptions = dataclasses.field(default_factory=EngineOptions)
  prefetch: int = frame_schedule.DEFAULT_PREFETCH
  fps: Optional[fractions.Fraction] = None  # frame rate of a frame-folder input
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


def run_inference(options: InferenceOptions, load_network: Callable[[], Network]
                  ) -> InferenceSummary:
  """Runs the model over ``options.input`` and writes ``options.output``.

  ``load_network`` makes the network once the input and output are checked (``python -m
  star_jax.infer``: ``JaxNetwork.from_weights``; ``star_jax.export run``: an
  ``OnnxNetwork``); the engine runs it with ``options.flow`` and ``options.engine``.

  Raises ``UserInputError`` (one line, naming the input) for anything wrong with the input,
  the output path or the options; no output is left behind on any failure.
  """
  time_factor = options.time_factor or (1 if options.mode == "space" else 2)
  frame_schedule.check_mode(options.mode, time_factor)
  kind = sources.output_kind(options.output)
  files.check_destination(options.output, options.overwrite)
  if kind == "video":
    writer.check_pix_fmt(options.output, options.pix_fmt)
  source = sources.open_source(options.input, options.fps)

  engine = PairEngine(load_network(), options.flow, options.engine)
  model_cfg = engine.network.model_cfg
  factor = frame_schedule.output_size_factor(options.mode, engine.scale)
  width, height = source.width * factor, source.height * factor
  times = timeline.output_timeline(source.timeline, options.mode, time_factor)
  fps = source.fps * time_factor  # nominal; the frames keep the input's own times
  expected = frame_schedule.output_frame_count(options.mode, time_factor, source.frame_count)
  rate_kind = "" if source.timeline.is_constant_rate() else " (variable frame rate)"
  print(f"{source.name}: {source.width}x{source.height} at {float(source.fps):.3f} fps"
        f"{rate_kind} -> "
        f"{options.output}: {width}x{height} at {float(fps):.3f} fps ({options.mode}, "
        f"{model_cfg.variant} x{engine.scale}, {model_cfg.dtype}, "
        f"{len(engine.network.devices)} device(s))", file=sys.stderr)

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
