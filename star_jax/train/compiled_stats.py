"""FLOPs and memory of a compiled XLA executable (the train step, or any jitted function)."""

from typing import Dict


def compiled_step_stats(compiled) -> Dict[str, int]:
  """XLA's own FLOP count and buffer sizes of ``compiled``.

  Args:
    compiled: ``jax.jit(f).lower(*args).compile()``.
  Returns:
    ``{'flops', 'peak_bytes', 'argument_bytes', 'output_bytes', 'temp_bytes'}`` (ints):
    ``flops`` is ``cost_analysis()['flops']`` of one execution (of a partitioned program,
    one device's share, as XLA compiles it per device); the byte counts are
    ``memory_analysis()``'s per-device sizes, and ``peak_bytes`` = argument + output +
    temp - alias bytes (outputs written into donated arguments counted once): every
    buffer the step holds while it runs. XLA's own ``peak_memory_in_bytes`` is not used:
    on CPU (jaxlib 0.10.2) it leaves the arguments out (measured: 524308 for a step with
    524288 argument and 524288 temp bytes).
  Raises:
    ValueError: the backend gives no cost or memory analysis for ``compiled``.
  """
  costs = compiled.cost_analysis()
  if isinstance(costs, (list, tuple)):  # older jax: one dict per program
    costs = costs[0] if costs else None
  memory = compiled.memory_analysis()
  if not costs or "flops" not in costs or memory is None:
    raise ValueError("this backend reports no cost_analysis() FLOPs or memory_analysis() "
                     "for the compiled executable")
  argument = int(memory.argument_size_in_bytes)
  output = int(memory.output_size_in_bytes)
  temp = int(memory.temp_size_in_bytes)
  alias = int(memory.alias_size_in_bytes)
  return {"flops": int(costs["flops"]), "peak_bytes": argument + output + temp - alias,
          "argument_bytes": argument, "output_bytes": output, "temp_bytes": temp}
