"""Collectives in a compiled program's HLO text: how many, and how many bytes.

``collective_stats(hlo_text)`` reads ``jax.stages.Compiled.as_text()`` (the optimised,
partitioned HLO module of one device) and counts every instruction of the five collective
kinds XLA's SPMD partitioner emits: all-reduce, all-gather, reduce-scatter, all-to-all and
collective-permute. An asynchronous pair (``all-reduce-start`` ... ``all-reduce-done``)
counts once, at its start. Bytes are those of the instruction's result on one device (the
array it delivers): for a ``-start`` instruction whose result is a tuple holding the operand
buffers and then the result buffers (all-gather, collective-permute, all-to-all), the result
half; the ``u32[]`` context scalars of some async collectives are left out. A collective
inside a loop body counts once, as it appears in the text (STARnet's steps have no loops).
"""

import re
from typing import Dict, List

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all",
               "collective-permute")
# Bytes per element of HLO primitive types (token and tuple types hold no data of their own).
_ELEMENT_BYTES = {"pred": 1, "s4": 0.5, "u4": 0.5, "s8": 1, "u8": 1, "s16": 2, "u16": 2,
                  "f16": 2, "bf16": 2, "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8,
                  "f64": 8, "c64": 8, "c128": 16}
# "  %name = <result shape> <opcode>(" or "  ROOT %name = ...": the shape is everything
# between '=' and the opcode.
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*?)\s*\b(" +
                          "|".join(COLLECTIVES) + r")(-start)?\(", re.MULTILINE)
_ARRAY = re.compile(r"\b([a-z]+[0-9]*)\[([0-9,]*)\]")


def _array_bytes(shape_text: str) -> List[float]:
  """Bytes of every array in an HLO shape (``f32[4,8]{1,0}``, or a tuple of them), in order;
  fp8 types count 1 byte."""
  sizes = []
  for dtype, dims in _ARRAY.findall(shape_text):
    if dtype.startswith("f8"):
      per_element = 1
    elif dtype in _ELEMENT_BYTES:
      per_element = _ELEMENT_BYTES[dtype]
    else:
      continue
    count = 1
    for dim in filter(None, dims.split(",")):
      count *= int(dim)
    sizes.append(count * per_element)
  return sizes


def _result_bytes(opcode: str, is_start: bool, shape_text: str) -> float:
  sizes = _array_bytes(shape_text)
  if is_start and opcode != "all-reduce":
    # (operands..., results..., [u32 contexts]): drop the scalar contexts, keep the second half.
    arrays = [size for size in sizes if size > 4] or sizes
    if len(arrays) >= 2:
      arrays = arrays[len(arrays) // 2:]
    return float(sum(arrays))
  return float(sum(sizes))


def collective_stats(hlo_text: str) -> Dict[str, Dict[str, float]]:
  """{kind: {'count': n, 'bytes': b}} for every kind in :data:`COLLECTIVES` (zeros when the
  program has none), from the HLO text of one device's compiled program (module
  docstring for what is counted)."""
  stats = {kind: {"count": 0, "bytes": 0.0} for kind in COLLECTIVES}
  for shape_text, opcode, start in _INSTRUCTION.findall(hlo_text):
    stats[opcode]["count"] += 1
    stats[opcode]["bytes"] += _result_bytes(opcode, bool(start), shape_text)
  return stats
