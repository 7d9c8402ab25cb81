"""The JSON sidecar written beside every exported model, and the file names of an export.

An export is a directory: ``model.json`` (this sidecar) plus ``model.stablehlo`` and
``weights.npz`` (StableHLO) or ``model.onnx`` (ONNX). The sidecar says everything a consumer
needs without star_jax:

* ``format`` ('stablehlo' | 'onnx'), ``variant``, ``scale``, ``model_config`` (widths, ...);
* ``inputs`` / ``outputs``: name, shape and dtype in order; NHWC; a batch of ``"b"`` means
  any batch size (dynamic);
* ``normalisation``: frames are RGB in [0, 1] mapped to ``(x - mean) / std`` per channel
  (ImageNet statistics, as the release); outputs are in the same normalised space;
* ``flow``: ``flow_f`` is the optical flow im1 -> im2 and ``flow_b`` im2 -> im1, in LR pixels
  (x, y), fed as ``-clip(flow_px, -max_px, max_px) / max_px`` (the release's convention);
* ``lr_side_multiple``: every LR side of the exported shape is a multiple of it;
* ``versions``: the packages that produced the export (and ``onnx_opset`` for ONNX).

Only the standard library is imported here (the StableHLO loader uses it).
"""

import json
import pathlib
from typing import Any, Dict, Mapping, Sequence, Union

from star_jax.errors import UserInputError

PathLike = Union[str, pathlib.Path]
SIDECAR_FILE = "model.json"
STABLEHLO_FILE = "model.stablehlo"
WEIGHTS_FILE = "weights.npz"
ONNX_FILE = "model.onnx"
FORMATS = ("stablehlo", "onnx")
INPUT_NAMES = ("im1", "im2", "flow_f", "flow_b")
DYNAMIC_BATCH = "b"
SIDECAR_VERSION = 1


def weight_key(index: int) -> str:
  """Name of the StableHLO export's weight argument ``index`` in ``weights.npz``."""
  return f"w{index:05d}"


def tensor_specs(batch: Union[int, str], height: int, width: int, scale: int,
                 output_names: Sequence[str], dtype: str = "float32") -> Dict[str, list]:
  """Names, shapes and dtypes of the inputs and outputs for an LR size ``height x width``.

  Inputs: im1, im2 (B, H, W, 3), flow_f, flow_b (B, H, W, 2), all ``dtype``; outputs in the
  order ``output_names``: l is (B, H, W, 3), the others (ht, h1, h2) (B, scale*H, scale*W, 3),
  always float32.
  """
  inputs = [dict(name=name, shape=[batch, height, width, 3 if name.startswith("im") else 2],
                 dtype=dtype) for name in INPUT_NAMES]
  outputs = [dict(name=name, shape=[batch, height * (1 if name == "l" else scale),
                                    width * (1 if name == "l" else scale), 3],
                  dtype="float32") for name in output_names]
  return dict(inputs=inputs, outputs=outputs)


def build_sidecar(fmt: str, model_config: Mapping[str, Any], specs: Mapping[str, list], *,
                  mean: Sequence[float], std: Sequence[float], max_flow_px: float,
                  lr_side_multiple: int, versions: Mapping[str, Any]) -> Dict[str, Any]:
  """The sidecar dictionary (fields as in the module docstring); ``fmt`` must be in FORMATS."""
  if fmt not in FORMATS:
    raise ValueError(f"export format must be one of {', '.join(FORMATS)}; got {fmt!r}")
  return dict(
      sidecar_version=SIDECAR_VERSION, format=fmt, variant=model_config["variant"],
      scale=int(model_config["scale"]), model_config=dict(model_config), layout="NHWC",
      inputs=specs["inputs"], outputs=specs["outputs"],
      normalisation=dict(input_range=[0.0, 1.0], mean=[float(m) for m in mean],
                         std=[float(s) for s in std], formula="(rgb - mean) / std",
                         source="ImageNet statistics, as the STARnet release"),
      flow=dict(flow_f="im1 -> im2", flow_b="im2 -> im1", units="LR pixels (x, y)",
                max_px=float(max_flow_px), formula="-clip(flow_px, -max_px, max_px) / max_px"),
      lr_side_multiple=int(lr_side_multiple), versions=dict(versions))


def write_sidecar(directory: PathLike, sidecar: Mapping[str, Any]) -> pathlib.Path:
  path = pathlib.Path(directory) / SIDECAR_FILE
  path.write_text(json.dumps(sidecar, indent=1, sort_keys=True) + "\n")
  return path


def read_sidecar(directory: PathLike, expected_format: str) -> Dict[str, Any]:
  """The sidecar of an export directory; ``UserInputError`` naming the directory when it is
  missing, unreadable or of another format than ``expected_format``."""
  path = pathlib.Path(directory) / SIDECAR_FILE
  if not path.is_file():
    raise UserInputError(f"{directory} is not a star_jax export: {SIDECAR_FILE} is missing")
  try:
    sidecar = json.loads(path.read_text())
  except (OSError, json.JSONDecodeError) as error:
    raise UserInputError(f"cannot read {path}: {error}") from error
  if sidecar.get("format") != expected_format:
    raise UserInputError(f"{directory} holds a {sidecar.get('format')!r} export, not "
                         f"{expected_format!r}")
  return sidecar
