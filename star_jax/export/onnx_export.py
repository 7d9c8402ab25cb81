"""ONNX export with jax2onnx: ``model.onnx`` and the sidecar.

The weights are closed over (ONNX initializers); inputs are named im1, im2, flow_f, flow_b and
outputs ht, h1, h2, l (NHWC, as the sidecar says); a dynamic batch is the symbolic ONNX
dimension ``b``. Float32 only: onnxruntime's CPU provider has no bfloat16 convolution.

Every operator of every variant converts as it is: the transposed convolutions are already
a matmul plus overlap-add (``star_jax.model.layers``) and the align-corners upsampling two
einsums with constant matrices, so they lower to Einsum/MatMul, Pad, Slice and Add.
jax2onnx's stand-in for ``flax.linen.max_pool`` (the FR models' flow UNet) accepts the window
shape only as a keyword, so the UNet passes it by keyword (same computation).
"""

import importlib.metadata
import pathlib

import jax

from star_jax.export import sidecar as sidecar_lib
from star_jax.export.forward import ExportSource
from star_jax.model import OUTPUT_NAMES

OPSET = 23  # jax2onnx 0.17.1's default; onnxruntime 1.31 runs opsets up to 23+


def export_onnx(source: ExportSource, output_dir, opset: int = OPSET) -> pathlib.Path:
  """Writes ``model.onnx`` and the sidecar of ``source`` into ``output_dir`` (created; must
  not hold an export) and returns the sidecar path. ``ValueError`` for a bfloat16 source."""
  from jax2onnx import to_onnx  # pylint: disable=g-import-not-at-top (optional extra)
  import onnx  # pylint: disable=g-import-not-at-top
  if source.model_config["dtype"] != "float32":
    raise ValueError(f"ONNX export is float32 only, got dtype {source.model_config['dtype']}")
  output_dir = pathlib.Path(output_dir)
  output_dir.mkdir(parents=True, exist_ok=True)
  if (output_dir / sidecar_lib.SIDECAR_FILE).exists():
    raise FileExistsError(f"{output_dir} already holds an export; choose another output")
  weights = [jax.numpy.asarray(w) for w in source.weights]

  def forward(im1, im2, flow_f, flow_b):
    return source.forward(weights, im1, im2, flow_f, flow_b)

  height, width = source.lr_size
  specs = [(source.batch, height, width, channels) for channels in (3, 3, 2, 2)]
  model = to_onnx(forward, specs, model_name=f"starnet_{source.model_config['variant']}_x"
                  f"{source.scale}", opset=opset, input_names=list(sidecar_lib.INPUT_NAMES),
                  output_names=list(OUTPUT_NAMES))
  onnx.save(model, str(output_dir / sidecar_lib.ONNX_FILE))
  sidecar = source.sidecar("onnx", {"jax2onnx": importlib.metadata.version("jax2onnx"),
                                    "onnx": importlib.metadata.version("onnx"),
                                    "onnx_opset": opset})
  return sidecar_lib.write_sidecar(output_dir, sidecar)
