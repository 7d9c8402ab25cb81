"""How much memory a forward pass needs, and what the machine offers.

XLA's own estimate (``compiled.memory_analysis().temp_size_in_bytes``) is only filled in by
the GPU/TPU backends (it reads 0 on CPU) and needs a full compile per candidate shape. So
the tile size is chosen from a backend-independent model instead: the peak of live
intermediate bytes when the traced program (its jaxpr, nested calls included) is executed
in order and every value is freed after its last use. That is what a plain sequential
executor would hold; XLA's fusion only lowers it. Activation memory of a fully
convolutional network grows linearly with the pixel count, so one probe trace gives bytes
per LR pixel for any tile.
"""

import os
from typing import Any, Callable, Dict, Iterable, Optional

import jax
import numpy as np
from jax.extend import core as jax_core


def _nbytes(aval: Any) -> int:
  shape = getattr(aval, "shape", None)
  dtype = getattr(aval, "dtype", None)
  if shape is None or dtype is None:
    return 0
  return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def _sub_jaxprs(equation) -> Iterable[jax_core.Jaxpr]:
  for value in equation.params.values():
    candidates = value if isinstance(value, (tuple, list)) else (value,)
    for candidate in candidates:
      if isinstance(candidate, jax_core.ClosedJaxpr):
        yield candidate.jaxpr
      elif isinstance(candidate, jax_core.Jaxpr):
        yield candidate


def peak_intermediate_bytes(jaxpr: jax_core.Jaxpr) -> int:
  """Peak bytes of values created inside ``jaxpr`` (inputs and constants not counted),
  executing its equations in order and freeing each value after its last use; a nested
  call's own peak is added on top of what is live around it."""
  end = len(jaxpr.eqns)
  last_use: Dict[jax_core.Var, int] = {}
  for index, equation in enumerate(jaxpr.eqns):
    for var in equation.invars:
      if isinstance(var, jax_core.Var):
        last_use[var] = index
  for var in jaxpr.outvars:
    if isinstance(var, jax_core.Var):
      last_use[var] = end
  external = set(jaxpr.invars) | set(jaxpr.constvars)
  live = 0
  peak = 0
  for index, equation in enumerate(jaxpr.eqns):
    inner = max((peak_intermediate_bytes(sub) for sub in _sub_jaxprs(equation)), default=0)
    outputs = [var for var in equation.outvars if not isinstance(var, jax_core.DropVar)]
    created = sum(_nbytes(var.aval) for var in outputs)
    peak = max(peak, live + inner + created)
    live += created
    dead = {var for var in outputs if var not in last_use}
    dead |= {var for var in equation.invars
             if isinstance(var, jax_core.Var) and var not in external
             and last_use.get(var) == index}
    live -= sum(_nbytes(var.aval) for var in dead)
  return peak


def traced_peak_bytes(function: Callable, *example_args) -> int:
  """Peak intermediate bytes of ``function`` traced on ``example_args`` (arrays or
  ``jax.ShapeDtypeStruct``), without compiling or running it."""
  closed = jax.make_jaxpr(function)(*example_args)
  return peak_intermediate_bytes(closed.jaxpr)


def available_memory_bytes(device: Optional[jax.Device] = None) -> int:
  """Memory one forward may use on ``device``: the accelerator's allocator limit minus what
  is in use, or, on CPU, the host's ``MemAvailable``."""
  device = device or jax.local_devices()[0]
  stats = device.memory_stats() if hasattr(device, "memory_stats") else None
  if stats and "bytes_limit" in stats:
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
  try:
    with open("/proc/meminfo") as meminfo:
      for line in meminfo:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
