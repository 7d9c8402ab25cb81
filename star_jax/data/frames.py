"""Single video frames: reading, writing, mod-crop and the release's bicubic LR.

Everything here mirrors one fact of the authors' release so that our data is theirs bit for
bit: HR frames are mod-cropped keeping the top-left corner and LR frames are PIL
``Image.resize(BICUBIC)`` of the HR frame to 1/scale. The space-time SR papers after STARnet
(Zooming Slow-Mo, TMNet, RSTT) make their LR frames with MATLAB's ``imresize(hr, 1/scale,
'bicubic')`` instead: :func:`matlab_bicubic_downscale`, ``lr_from_hr(..., method='matlab')``.
Value ranges and the ImageNet normalisation the network sees are in ``star_jax.pixels``.
"""

import pathlib
import sys
from typing import Tuple, Union

import cv2
import numpy as np
from PIL import ExifTags, Image

from star_jax import files
from star_jax.errors import UserInputError

PathLike = Union[str, pathlib.Path]

class FrameReadError(UserInputError, OSError):
  """A frame file that is missing or cannot be decoded; ``path`` names it."""

  def __init__(self, path: PathLike, reason: str):
    self.path = pathlib.Path(path)
    super().__init__(f"cannot read frame {self.path}: {reason}")


# EXIF 2.32 (CIPA DC-008), tag 0x0112 Orientation: how the stored rows must be turned to show
# the picture upright, as (H, W, ...) array operations. 1 is upright; 5-8 swap the sides.
_ORIENT = {
    2: lambda a: a[:, ::-1],                      # mirrored left-right
    3: lambda a: a[::-1, ::-1],                   # rotated 180
    4: lambda a: a[::-1],                         # mirrored top-bottom
    5: lambda a: a.swapaxes(0, 1),                # transposed
    6: lambda a: a.swapaxes(0, 1)[:, ::-1],       # rotated 90 clockwise to display
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),    # transversed
    8: lambda a: a.swapaxes(0, 1)[::-1],          # rotated 90 counter-clockwise to display
}
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_ALPHA_NOTICE = {"shown": False}


def orientation(image: Image.Image) -> int:
  """The EXIF (or XMP) orientation tag of an opened image, 1 (upright) when absent or invalid,
  as ``PIL.ImageOps.exif_transpose`` reads it."""
  value = image.getexif().get(ExifTags.Base.Orientation, 1)
  return value if value in _ORIENT else 1


def upright(array: np.ndarray, orientation_tag: int) -> np.ndarray:
  """(H, W, ...) stored pixels -> as a viewer shows them for EXIF ``orientation_tag`` (1-8);
  the same result as ``PIL.ImageOps.exif_transpose``, for arrays of any dtype."""
  turn = _ORIENT.get(orientation_tag)
  return np.ascontiguousarray(turn(array)) if turn is not None else array


def _notice_alpha_once(path: pathlib.Path) -> None:
  if not _ALPHA_NOTICE["shown"]:
    _ALPHA_NOTICE["shown"] = True
    print(f"notice: {path} has an alpha channel; it is dropped (colours kept, not composited), "
          "in this and any later frame", file=sys.stderr)


def _wide_rgb_rawmode(image: Image.Image) -> bool:
  """True for 16-bit-per-channel colour files, which PIL decodes to 8 bits by truncation."""
  if image.mode not in ("RGB", "RGBA") or not image.tile:
    return False
  args = image.tile[0].args
  rawmode = args if isinstance(args, str) else (args[0] if args else "")
  return isinstance(rawmode, str) and ";16" in rawmode


def _decode(path: pathlib.Path) -> Tuple[np.ndarray, int]:
  """(H, W, 3) stored values, upright, and their full-scale value (255, 65535, or 1 for float)."""
  with Image.open(path) as image:
    wide = _wide_rgb_rawmode(image)  # before anything loads the pixels (which clears the tiles)
    turn = orientation(image)
    if image.has_transparency_data:
      _notice_alpha_once(path)
    if wide:
      # OpenCV keeps all 16 bits (IMREAD_UNCHANGED does not apply the orientation itself).
      stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
      if stored is None or stored.dtype != np.uint16:
        raise ValueError("16-bit colour data that OpenCV cannot decode")
      return upright(stored[..., 2::-1], turn), 65535
    image.load()
    mode = image.mode
    if mode.startswith("I;16"):
      grey, full_scale = np.asarray(image).astype(np.uint16), 65535
    elif mode == "I":  # 32-bit integer: what PIL gives some 16-bit files
      grey, full_scale = np.asarray(image), 65535
      if grey.size and (grey.min() < 0 or grey.max() > 65535):
        raise ValueError(f"32-bit integer pixels span [{grey.min()}, {grey.max()}], outside "
                         "the 16-bit range [0, 65535] this reader assumes for mode 'I'")
    elif mode == "F":
      grey, full_scale = np.asarray(image), 1
      if grey.size and not (np.isfinite(grey).all() and grey.min() >= 0 and grey.max() <= 1):
        raise ValueError(f"float pixels span [{np.nanmin(grey)}, {np.nanmax(grey)}]; "
                         "float frames must lie in [0, 1]")
    elif image.has_transparency_data:
      rgba = image.convert("LA" if mode == "La" else mode).convert("RGBA")
      return upright(np.asarray(rgba)[..., :3], turn), 255
    else:
      return upright(np.asarray(image.convert("RGB")), turn), 255
  return upright(np.repeat(grey[:, :, None], 3, axis=2), turn), full_scale


def _checked_decode(path: PathLike) -> Tuple[np.ndarray, int]:
  path = pathlib.Path(path)
  if not path.is_file():
    raise FrameReadError(path, "file does not exist")
  try:
    return _decode(path)
  except (OSError, ValueError, SyntaxError) as error:  # PIL reports corrupt data as these.
    raise FrameReadError(path, f"corrupt or unsupported image ({error})") from error


def read_frame(path: PathLike) -> np.ndarray:
  """Reads an image file as an (H, W, 3) uint8 RGB array, as a viewer shows it.

  The one reader of image files in star_jax (training data, evaluation, frame folders, the
  flow CLI). Any 8- or 16-bit file PIL opens: grey (replicated to RGB), RGB, palette,
  bilevel, CMYK/YCbCr, 16-bit grey and 16-bit RGB/RGBA (decoded by OpenCV, since PIL
  truncates those to 8 bits), 32-bit integer (taken as 16-bit values) and float (in [0, 1]).
  The EXIF/XMP orientation tag is applied, as ``PIL.ImageOps.exif_transpose`` does. Wider
  values are rounded to 8 bits, ``round(v * 255 / full_scale)`` (half up), never truncated.
  An alpha channel is dropped (stored colours kept, not composited) with a one-line notice
  on stderr, once per process. Decoding is forced here (PIL opens lazily), so a truncated or
  corrupt file fails at this call.

  Raises:
    FrameReadError: missing, corrupt or unsupported file (names it and says why).
  """
  values, full_scale = _checked_decode(path)
  if full_scale == 255:
    return values
  if values.dtype == np.uint16:
    return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
  if full_scale == 65535:
    return ((values.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)
  return np.floor(values.astype(np.float64) * 255.0 + 0.5).astype(np.uint8)


def read_frame_float(path: PathLike) -> np.ndarray:
  """Reads an image file as (H, W, 3) float64 RGB in [0, 1] at the file's own precision
  (``v / 255`` for 8-bit files, ``v / 65535`` for 16-bit ones); otherwise as
  :func:`read_frame` (same modes, orientation, alpha notice and errors)."""
  values, full_scale = _checked_decode(path)
  return values.astype(np.float64) / float(full_scale)


def frame_size(path: PathLike) -> Tuple[int, int]:
  """(width, height) as :func:`read_frame` returns the frame (orientation applied), from the
  file's header, so a whole folder or dataset is checked before any decoding (~0.04 ms per
  448x256 PNG here, against ~4.5 ms to decode it).

  A PNG's orientation is read from an eXIf chunk before the image data (where the PNG spec
  puts it, and where PIL finds it without decoding); one placed after the image data is not
  looked for (PIL would decode the whole image to find it).

  Raises:
    FrameReadError: missing or unreadable file.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FrameReadError(path, "file does not exist")
  try:
    with Image.open(path) as image:
      width, height = image.size
      if image.format == "PNG" and "exif" not in image.info:
        return width, height  # PIL's getexif() would decode the PNG to look further
      return (height, width) if orientation(image) in (5, 6, 7, 8) else (width, height)
  except (OSError, ValueError, SyntaxError) as error:
    raise FrameReadError(path, f"corrupt or unsupported image ({error})") from error


def write_frame(path: PathLike, frame_uint8: np.ndarray) -> None:
  """Writes an (H, W, 3) uint8 frame as PNG atomically (a reader never sees half a file).

  zlib level 1: several times faster to write than PIL's default level 6 for ~15 % more bytes,
  and decoding speed is the same.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with files.replaced_on_success(path) as partial:
    Image.fromarray(np.asarray(frame_uint8, dtype=np.uint8)).save(partial, format="PNG",
                                                                  compress_level=1)


def mod_crop(frame: np.ndarray, scale: int) -> np.ndarray:
  """Crops (..., H, W, C) to sides divisible by ``scale``, keeping the top-left corner."""
  if scale < 1:
    raise ValueError(f"scale must be a positive integer, got {scale}")
  height, width = frame.shape[-3], frame.shape[-2]
  return frame[..., :height - height % scale, :width - width % scale, :]


LR_METHODS = ("pil", "matlab")  # lr_from_hr's method: the release's, or the field's


def _keys_cubic(x: np.ndarray) -> np.ndarray:
  """Keys' cubic convolution kernel with a = -0.5 (MATLAB's and PIL's 'bicubic')."""
  x = np.abs(x)
  return np.where(x <= 1, 1.5 * x ** 3 - 2.5 * x ** 2 + 1,
                  np.where(x <= 2, -0.5 * x ** 3 + 2.5 * x ** 2 - 4 * x + 2, 0.0))


def matlab_downscale_matrix(length: int, scale: int) -> np.ndarray:
  """The (length // scale, length) float64 matrix of MATLAB's antialiased bicubic
  ``imresize`` by 1/scale along one axis (row i: the weights of output sample i).

  As MATLAB's ``imresize.m`` (``contributions``) computes them: output sample i (1-based)
  sits at input position ``u = i * scale + (1 - scale) / 2``; the kernel is the cubic
  stretched by ``scale`` (antialiasing), ``h(x) = cubic(x / scale) / scale``, over the
  ``4 * scale + 2`` input samples from ``floor(u - 2 scale)``; each row is normalised to sum
  1; indices outside the frame are mirrored (``symmetric``: ..., 2, 1, 1, 2, ...), so their
  weights fall on the samples they mirror. Raises ValueError for ``length < scale``.
  """
  if scale < 1 or length < scale:
    raise ValueError(f"cannot downscale {length} samples by {scale}")
  out_length = length // scale
  centres = np.arange(1, out_length + 1) * scale + (1 - scale) / 2
  taps = 4 * scale + 2
  first = np.floor(centres - 2 * scale)
  indices = first[:, None] + np.arange(taps)[None, :]  # 1-based
  weights = _keys_cubic((centres[:, None] - indices) / scale) / scale
  weights /= weights.sum(axis=1, keepdims=True)
  mirrored = np.concatenate([np.arange(length), np.arange(length)[::-1]])
  columns = mirrored[(indices.astype(np.int64) - 1) % (2 * length)]
  matrix = np.zeros((out_length, length))
  np.add.at(matrix, (np.repeat(np.arange(out_length), taps), columns.reshape(-1)),
            weights.reshape(-1))
  return matrix


def matlab_bicubic_downscale(frame_uint8: np.ndarray, scale: int) -> np.ndarray:
  """MATLAB's ``imresize(frame, 1/scale, 'bicubic')`` (antialiasing on, its default) of an
  (H, W, C) uint8 frame whose sides are multiples of ``scale`` -> (H/scale, W/scale, C) uint8.

  Rows then columns with :func:`matlab_downscale_matrix`, in float64 throughout, rounded
  once at the end (half away from zero, as MATLAB's ``uint8`` conversion) and clipped to
  [0, 255], as the Python ports of ``imresize`` compute it (checked in tests/data against
  ResizeRight and against kernel weights written out by hand; MATLAB itself was not run).
  Raises ValueError for other dtypes or shapes, or sides not divisible by ``scale``.
  """
  if frame_uint8.dtype != np.uint8 or frame_uint8.ndim != 3:
    raise ValueError(f"expected an (H, W, C) uint8 frame, got {frame_uint8.dtype} "
                     f"{frame_uint8.shape}")
  height, width = frame_uint8.shape[:2]
  if scale < 1 or height % scale or width % scale:
    raise ValueError(f"frame {width}x{height} is not a multiple of the scale {scale}")
  rows = matlab_downscale_matrix(height, scale)
  columns = matlab_downscale_matrix(width, scale)
  out = np.einsum("ih,hwc,jw->ijc", rows, frame_uint8.astype(np.float64), columns,
                  optimize=True)
  return np.floor(np.clip(out, 0.0, 255.0) + 0.5).astype(np.uint8)


def lr_from_hr(hr_uint8: np.ndarray, scale: int, method: str = "pil") -> np.ndarray:
  """The LR frame of an HR frame: mod-crop, then bicubic downscaling to exactly 1/scale.

  Args:
    hr_uint8: (H, W, 3) uint8 HR frame (sides need not be multiples of ``scale``).
    scale: the integer downscale factor.
    method: 'pil' (the release's PIL ``Image.resize(BICUBIC)``) or 'matlab'
      (:func:`matlab_bicubic_downscale`, the field's since Zooming Slow-Mo). Both use Keys'
      cubic with antialiasing; they differ at the frame borders (PIL renormalises the
      kernel over the samples inside the frame, MATLAB mirrors the frame) and in PIL's
      8-bit intermediate between its two passes.
  Returns:
    (H // scale, W // scale, 3) uint8.
  Raises:
    ValueError: another dtype or shape, a frame smaller than ``scale``, an unknown method.
  """
  if hr_uint8.dtype != np.uint8 or hr_uint8.ndim != 3:
    raise ValueError(f"lr_from_hr expects an (H, W, 3) uint8 frame, got {hr_uint8.dtype} "
                     f"{hr_uint8.shape}")
  if method not in LR_METHODS:
    raise ValueError(f"method must be one of {LR_METHODS}, got {method!r}")
  hr = mod_crop(hr_uint8, scale)
  height, width = hr.shape[:2]
  if height < scale or width < scale:
    raise UserInputError(f"frame {hr_uint8.shape} is smaller than the scale {scale}")
  if method == "matlab":
    return matlab_bicubic_downscale(np.ascontiguousarray(hr), scale)
  image = Image.fromarray(np.ascontiguousarray(hr))
  return np.asarray(image.resize((width // scale, height // scale), resample=Image.BICUBIC))
