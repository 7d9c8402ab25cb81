"""The ``--dtype`` option shared by ``python -m star_jax.infer`` and ``star_jax.evaluate``."""

import argparse

from star_jax.model import COMPUTE_DTYPES


def add_dtype_argument(parser: argparse.ArgumentParser) -> None:
  """Adds ``--dtype {float32,bfloat16}`` (default float32): the model's compute precision
  (``model.dtype``; parameters, flows and output frames stay float32)."""
  parser.add_argument(
      "--dtype", choices=COMPUTE_DTYPES, default="float32",
      help="compute precision of convolutions and activations; bfloat16 is mixed precision "
           "(parameters, BatchNorm, flows and outputs stay float32); its measured "
           "difference from float32 is in benchmarks/RESULTS.md")
