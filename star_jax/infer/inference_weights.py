"""Loading model weights for inference, with the failures a user can cause reported as one
line: a missing path, a file that is not a checkpoint, a state dict that matches no
STARnet, or weights for another scale than the one asked for."""

import pathlib
from typing import Any, Optional, Tuple, Union

from star_jax.convert import CheckpointMismatchError
from star_jax.errors import UserInputError
from star_jax.weights import load_weights

PathLike = Union[str, pathlib.Path]


def load_inference_weights(path: PathLike, expected_scale: Optional[int] = None
                           ) -> Tuple[Any, Any]:
  """(model config, variables) from a release ``.pth`` (converted on the fly) or a
  star_jax checkpoint directory; ``expected_scale`` guards against using, say, a 2x model
  where 4x output is wanted."""
  path = pathlib.Path(path)
  if not path.exists():
    raise UserInputError(f"weights {path} do not exist")
  try:
    model_cfg, variables = load_weights(path)
  except (CheckpointMismatchError, ValueError, KeyError, FileNotFoundError, ImportError,
          OSError) as error:
    raise UserInputError(f"cannot load weights {path}: {error}") from error
  if expected_scale is not None and int(model_cfg.scale) != int(expected_scale):
    raise UserInputError(f"weights {path} are a {model_cfg.scale}x model ({model_cfg.variant}), "
                         f"but scale {expected_scale} was requested", ("scale",))
  return model_cfg, variables
