"""Input pipeline throughput: samples per second per CPU core at Vimeo-90K size (448x256 HR).

The release spends about 0.8 s per training sample on one core, almost all of it computing
up to six variational flows of the augmented frames. Our pipeline reads each clip's flows
from the cache and only flips them, so what remains is PNG (or ArrayRecord) reading,
bicubic LR, flips and normalisation. Goal: >= 100x the release, i.e. >= 125 samples/s/core.

The process is pinned to ``--cores`` cores (default 1) and runs the pipeline in-process
with that many reader threads. Two per-core figures are printed: wall-clock samples/s
divided by cores (honest on an idle machine) and samples per CPU-second the process used
(robust when other processes share the cores).

  python -m benchmarks input-pipeline [--source folder|tfds|tfds_x4|all]
"""

import argparse
import os
import pathlib
import tempfile

from star_jax.data import demo
from star_jax.data import flow_cache
from star_jax.data import pipeline
from star_jax.data import tfds_vimeo
from star_jax.flow import FlowSettings

from . import harness

RELEASE_SECONDS_PER_SAMPLE_PER_CORE = 0.8


def _measure(config: pipeline.PipelineConfig, num_batches: int, warmup_batches: int):
  """(samples per wall second, samples per CPU second of this process)."""
  iterator = iter(pipeline.make_dataset(config))
  for _ in range(warmup_batches):
    next(iterator)

  def read_batches():
    for _ in range(num_batches):
      batch = next(iterator)
    return batch

  batch, wall, cpu = harness.timed(read_batches)
  assert batch["hr_t"].shape[1:] == (256, 448, 3), batch["hr_t"].shape
  iterator.close()
  samples = num_batches * config.batch_size
  return samples / wall, samples / cpu


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", type=pathlib.Path,
                      default=pathlib.Path(tempfile.gettempdir()) / "star_jax_bench_448x256",
                      help="where the 448x256 demo clips, their flow cache and TFDS build live")
  parser.add_argument("--clips", type=int, default=64, help="training clips to generate")
  parser.add_argument("--source", choices=("folder", "tfds", "tfds_x4", "all"), default="all",
                      help="PNG folder, TFDS ArrayRecord (HR only), or TFDS with stored 4x LR")
  parser.add_argument("--cores", type=int, default=1, help="CPU cores to pin the process to")
  parser.add_argument("--batch-size", type=int, default=10)
  parser.add_argument("--batches", type=int, default=30, help="timed batches")
  parser.add_argument("--flow-backend", default="opencv_dis",
                      help="backend of the flow cache (its values do not affect the timing)")
  return parser.parse_args(argv)


def main(argv=None) -> None:
  args = parse_args(argv)

  available = sorted(os.sched_getaffinity(0))
  os.sched_setaffinity(0, available[:args.cores])
  cores = len(os.sched_getaffinity(0))

  root = demo.ensure_demo_dataset(args.root / "vimeo", frame_size=(448, 256),
                                  num_train_triplets=args.clips, num_test_triplets=2,
                                  num_train_septuplets=0, num_test_septuplets=0)
  flow = FlowSettings(args.flow_backend)
  flow_cache.ensure_flow_cache(root, "train", scale=4, settings=flow)
  base = dict(root=str(root), split="train", scale=4, batch_size=args.batch_size, augment=True,
              shuffle=True, num_threads=cores, num_workers=0, flow=flow,
              shard_index=0, shard_count=1)
  sources = ("folder", "tfds", "tfds_x4") if args.source == "all" else (args.source,)
  for source in sources:
    config = dict(base, source=source.split("_")[0])
    if source != "folder":
      tfds_config = "triplet_x4" if source == "tfds_x4" else "triplet"
      tfds_vimeo.prepare(root, args.root / "tfds", tfds_config)
      config.update(tfds_data_dir=str(args.root / "tfds"), tfds_config=tfds_config)
    for normalize in (True, False):
      wall_rate, cpu_rate = _measure(pipeline.PipelineConfig(**config, normalize=normalize),
                                     args.batches, warmup_batches=3)
      print(f"source={source:7s} frames={'float32' if normalize else 'uint8':7s} "
            f"cores={cores} batch={args.batch_size} 448x256 HR, FR targets from cached "
            f"flows: {wall_rate / cores:6.1f} samples/s/core (wall), {cpu_rate:6.1f} "
            f"samples/CPU-s = {cpu_rate * RELEASE_SECONDS_PER_SAMPLE_PER_CORE:4.0f}x the "
            f"release's {RELEASE_SECONDS_PER_SAMPLE_PER_CORE} s/sample/core")
