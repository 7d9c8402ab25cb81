"""StableHLO export with ``jax.export``: ``model.stablehlo`` (the serialised
``jax.export.Exported``), ``weights.npz`` (its weight arguments, ``w00000``, ...) and the
sidecar. Load with ``star_jax.export.loader`` (jax and NumPy only).

A dynamic batch is a ``jax.export`` symbolic dimension (``"b"``, any size >= 1); the LR
size is fixed, because the release's align-corners upsampling is a matmul with matrices
built for the exact size. Lowered for the CPU platform plus ``platforms`` (e.g. 'cuda',
'tpu') when given.
"""

import pathlib
from typing import Sequence

import jax
import numpy as np
from jax import export as jax_export

from star_jax.export import sidecar as sidecar_lib
from star_jax.export.forward import ExportSource


def export_stablehlo(source: ExportSource, output_dir, platforms: Sequence[str] = ()
                     ) -> pathlib.Path:
  """Writes the export of ``source`` into ``output_dir`` (created; must not hold an export)
  and returns the sidecar path."""
  output_dir = pathlib.Path(output_dir)
  output_dir.mkdir(parents=True, exist_ok=True)
  if (output_dir / sidecar_lib.SIDECAR_FILE).exists():
    raise FileExistsError(f"{output_dir} already holds an export; choose another output")
  if source.batch == sidecar_lib.DYNAMIC_BATCH:
    batch_dim, = jax_export.symbolic_shape(sidecar_lib.DYNAMIC_BATCH)
  else:
    batch_dim = source.batch
  weight_specs = [jax.ShapeDtypeStruct(w.shape, w.dtype) for w in source.weights]
  lowering_platforms = ("cpu",) + tuple(p for p in platforms if p != "cpu")
  exported = jax_export.export(jax.jit(source.forward), platforms=lowering_platforms)(
      weight_specs, *source.input_specs(batch_dim))
  (output_dir / sidecar_lib.STABLEHLO_FILE).write_bytes(exported.serialize())
  np.savez(output_dir / sidecar_lib.WEIGHTS_FILE,
           **{sidecar_lib.weight_key(i): w for i, w in enumerate(source.weights)})
  sidecar = source.sidecar("stablehlo", {"platforms": list(lowering_platforms)})
  return sidecar_lib.write_sidecar(output_dir, sidecar)
