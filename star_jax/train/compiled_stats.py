"""What XLA says about a compiled program: FLOPs per call and device memory.

``compiled`` is ``jax.jit(f).lower(*args).compile()``. Both numbers are XLA's own analysis of
the optimised HLO (``Compiled.cost_analysis()`` and ``Compiled.memory_analysis()``), so they
are known before the first step runs, and they describe **one device's** program: for a
program partitioned over N devices (a ``data`` mesh axis) the whole step executes N times the
FLOPs reported here, and each device needs the bytes reported here.
"""

from typing import Dict

import jax


def compiled_step_stats(compiled, lowered=None, require_flops: bool = True) -> Dict[str, float]:
  """FLOPs and device-memory footprint of one call of ``compiled`` (``jax.stages.Compiled``).

  Args:
    compiled: the compiled program.
    lowered: the ``jax.stages.Lowered`` it was compiled from; when given, 'flops' is counted
      on it. Its count is the program as written and the same on every backend (within 1 %
      of XLA:CPU's compiled count), while XLA:GPU's compiled count leaves out the
      convolutions it hands to cuDNN (0.17 of 60 TFLOP for a full-width float32 step on an
      H200, ``benchmarks/results/accelerator_suite.md``). Counting the lowered program of a partitioned
      (multi-device) step gives the whole step's FLOPs; it is divided by the number of
      devices here, so both counts are per device.

  Returns a dict of floats:
    'flops': floating-point operations of one call on one device (XLA's HLO cost analysis:
      a multiply-add counts 2; convolutions and dots dominate; elementwise ops count 1 per
      element). Transcendentals are not included.
    'argument_bytes', 'output_bytes', 'temp_bytes', 'alias_bytes': sizes XLA's buffer
      assignment gives for the inputs, the outputs, the scratch space of the program, and the
      outputs that reuse (alias) a donated input buffer.
    'peak_bytes': ``argument + output + temp - alias``, the device memory the call needs at
      once: inputs and outputs live for the whole call, donated inputs are counted once, and
      ``temp`` is XLA's high-water mark of everything in between (activations kept for the
      backward pass, gradients). Generated code and host-side buffers are not included.

  Raises ValueError when XLA returns no memory analysis for the program, or no FLOP count
  and ``require_flops`` (some backends do not implement them: XLA:GPU's deviceless compiles
  give no cost analysis); without ``require_flops`` a missing count is 'flops': None.
  """
  cost = _cost(compiled if lowered is None else lowered)
  if (not cost or "flops" not in cost) and require_flops:
    raise ValueError(f"XLA returned no FLOP count for this program (cost_analysis: {cost!r})")
  memory = compiled.memory_analysis()
  if memory is None:
    raise ValueError("XLA returned no memory analysis for this program")
  devices = 1 if lowered is None else num_devices(compiled)
  stats = {
      "flops": float(cost["flops"]) / devices if cost and "flops" in cost else None,
      "argument_bytes": float(memory.argument_size_in_bytes),
      "output_bytes": float(memory.output_size_in_bytes),
      "temp_bytes": float(memory.temp_size_in_bytes),
      "alias_bytes": float(memory.alias_size_in_bytes),
  }
  stats["peak_bytes"] = (stats["argument_bytes"] + stats["output_bytes"] + stats["temp_bytes"]
                         - stats["alias_bytes"])
  return stats


def _cost(stage):
  cost = stage.cost_analysis()
  if isinstance(cost, (list, tuple)):  # older jax: one dict per partition
    cost = cost[0] if cost else None
  return cost


def num_devices(compiled) -> int:
  """How many devices ``compiled`` runs on (the union of its input shardings' devices)."""
  devices = set()
  for sharding in jax.tree_util.tree_leaves(compiled.input_shardings):
    devices |= set(sharding.device_set)
  return max(1, len(devices))


def _gib(num_bytes: float) -> str:
  return f"{num_bytes / 2**30:.3f} GiB"


def format_step_stats(stats: Dict[str, float], compile_seconds: float) -> str:
  """One console line for :func:`compiled_step_stats` output and the compile time (s)."""
  return (f"compiled train step in {compile_seconds:.1f} s: "
          f"{stats['flops'] / 1e9:.3f} GFLOP per step per device, peak memory "
          f"{_gib(stats['peak_bytes'])} per device (arguments {_gib(stats['argument_bytes'])} "
          f"+ outputs {_gib(stats['output_bytes'])} + temporaries {_gib(stats['temp_bytes'])} "
          f"- donated {_gib(stats['alias_bytes'])})")
