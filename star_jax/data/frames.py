"""Single video frames: reading, mod-crop, the release's bicubic LR, and pixel normalisation.

Everything here mirrors one fact of the authors' release so that our data is theirs bit for
bit: HR frames are mod-cropped keeping the top-left corner, LR frames are PIL
``Image.resize(BICUBIC)`` of the HR frame to 1/scale, and the network sees ImageNet-normalised
RGB in [0, 1].
"""

import functools
import pathlib
from typing import Optional, Union

import numpy as np
from PIL import Image

PathLike = Union[str, pathlib.Path]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

# normalize(u8 / 255) folded into one multiply-add per value (see normalize_uint8).
_UINT8_NORM_SCALE = (1.0 / (255.0 * IMAGENET_STD)).astype(np.float32)
_UINT8_NORM_OFFSET = (-IMAGENET_MEAN / IMAGENET_STD).astype(np.float32)


class FrameReadError(OSError):
  """A frame file that is missing or cannot be decoded; ``path`` names it."""

  def __init__(self, path: PathLike, reason: str):
    self.path = pathlib.Path(path)
    super().__init__(f"cannot read frame {self.path}: {reason}")


def read_frame(path: PathLike) -> np.ndarray:
  """Reads an image file as an (H, W, 3) uint8 RGB array.

  Decoding is forced here (PIL opens lazily), so a truncated or corrupt file fails at this
  call with its path in the message rather than somewhere downstream.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FrameReadError(path, "file does not exist")
  try:
    with Image.open(path) as image:
      image.load()
      rgb = image.convert("RGB")
  except (OSError, ValueError, SyntaxError) as error:  # PIL reports corrupt data as these.
    raise FrameReadError(path, f"corrupt or unsupported image ({error})") from error
  return np.asarray(rgb)


def write_frame(path: PathLike, frame_uint8: np.ndarray) -> None:
  """Writes an (H, W, 3) uint8 frame as PNG atomically (a reader never sees half a file).

  zlib level 1: several times faster to write than PIL's default level 6 for ~15 % more bytes,
  and decoding speed is the same.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = path.with_name(path.name + ".partial")
  Image.fromarray(np.asarray(frame_uint8, dtype=np.uint8)).save(partial, format="PNG", compress_level=1)
  partial.replace(path)


def mod_crop(frame: np.ndarray, scale: int) -> np.ndarray:
  """Crops (..., H, W, C) to sides divisible by ``scale``, keeping the top-left corner."""
  if scale < 1:
    raise ValueError(f"scale must be a positive integer, got {scale}")
  height, width = frame.shape[-3], frame.shape[-2]
  return frame[..., :height - height % scale, :width - width % scale, :]


def lr_from_hr(hr_uint8: np.ndarray, scale: int) -> np.ndarray:
  """The release's LR frame: mod-crop, then PIL bicubic resize to exactly 1/scale.

  Args:
    hr_uint8: (H, W, 3) uint8 HR frame (sides need not be multiples of ``scale``).
    scale: the integer downscale factor.
  Returns:
    (H // scale, W // scale, 3) uint8.
  """
  if hr_uint8.dtype != np.uint8 or hr_uint8.ndim != 3:
    raise ValueError(f"lr_from_hr expects an (H, W, 3) uint8 frame, got {hr_uint8.dtype} "
                     f"{hr_uint8.shape}")
  hr = mod_crop(hr_uint8, scale)
  height, width = hr.shape[:2]
  if height < scale or width < scale:
    raise ValueError(f"frame {hr_uint8.shape} is smaller than the scale {scale}")
  image = Image.fromarray(np.ascontiguousarray(hr))
  return np.asarray(image.resize((width // scale, height // scale), resample=Image.BICUBIC))


def to_float(frame_uint8: np.ndarray) -> np.ndarray:
  """uint8 [0, 255] -> float32 [0, 1] (``x / 255``, as the release's ToTensor)."""
  return np.asarray(frame_uint8, dtype=np.float32) * np.float32(1.0 / 255.0)


def to_uint8(frame_float: np.ndarray) -> np.ndarray:
  """float [0, 1] -> uint8 after clamping and rounding (how evaluation quantises outputs)."""
  return np.round(np.clip(np.asarray(frame_float, dtype=np.float32), 0.0, 1.0) * 255.0).astype(
      np.uint8)


def normalize(frame01: np.ndarray) -> np.ndarray:
  """ImageNet normalisation of RGB in [0, 1] (last axis = channels), float32."""
  return (np.asarray(frame01, dtype=np.float32) - IMAGENET_MEAN) / IMAGENET_STD


def denormalize(frame: np.ndarray) -> np.ndarray:
  """Inverse of :func:`normalize`: back to RGB in [0, 1] (unclamped), float32."""
  return np.asarray(frame, dtype=np.float32) * IMAGENET_STD + IMAGENET_MEAN


def normalize_uint8(frame_uint8: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
  """``normalize(to_float(frame))`` as one fused multiply-add (same values to float rounding).

  The frame is processed as rows of W*3 values against per-channel constants tiled to the
  row: broadcasting a length-3 channel axis would make numpy's inner loop 3 long, which is
  several times slower on HR frames (this runs for every frame of every sample).

  Args:
    frame_uint8: (..., H, W, 3) uint8, any strides (flipped views are fine).
    out: optional C-contiguous float32 array of the same shape to write into (e.g. a slot of
      a preallocated batch), saving a copy.
  """
  frame = np.ascontiguousarray(frame_uint8)
  if frame.dtype != np.uint8 or frame.ndim < 3 or frame.shape[-1] != 3:
    raise ValueError(f"expected (..., H, W, 3) uint8 frames, got {frame.dtype} {frame.shape}")
  if out is None:
    out = np.empty(frame.shape, np.float32)
  elif out.shape != frame.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
    raise ValueError(f"out must be a C-contiguous float32 array of shape {frame.shape}")
  row_scale, row_offset = _row_constants(frame.shape[-2])
  rows = out.reshape(-1, row_scale.size)
  np.multiply(frame.reshape(rows.shape), row_scale, out=rows)
  rows += row_offset
  return out


@functools.lru_cache(maxsize=32)
def _row_constants(width: int):
  scale = np.tile(_UINT8_NORM_SCALE, width)
  offset = np.tile(_UINT8_NORM_OFFSET, width)
  scale.flags.writeable = offset.flags.writeable = False
  return scale, offset
