"""A video's display matrix: how a player turns the stored picture to show it upright.

Containers (the MP4/MOV ``tkhd`` matrix, Matroska projection) and codecs carry a 3x3
display matrix, which FFmpeg attaches to each decoded frame as ``DISPLAYMATRIX`` side data:
nine native-endian int32 ``(a, b, u, c, d, v, x, y, w)``, ``a b c d x y`` in 16.16 fixed
point, mapping a stored pixel ``(p, q)`` (x right, y down) to the displayed
``(a p + c q + x, b p + d q + y)`` (libavutil/display.h). Players (ffplay, mpv, VLC,
browsers) apply it; so does FFmpeg's own autorotate. Of the matrices cameras and editors
write, every one is a quarter-turn rotation, possibly with a mirror: the 8 orientations of
the dihedral group (the same 8 as EXIF). Those are applied here exactly, in numpy; any
other matrix (a rotation by 45 degrees, a shear) is refused in one line, since a player
would resample the picture.
"""

import struct
from typing import Optional, Tuple

import numpy as np

from star_jax.errors import UserInputError

_FIXED_ONE = 1 << 16  # 1.0 in 16.16 fixed point


class Orientation:
  """One of the 8 axis-aligned display transforms, as numpy index operations.

  ``transpose``: swap rows and columns first; then ``flip_rows`` (top <-> bottom) and
  ``flip_columns`` (left <-> right) of the transposed picture.
  """

  def __init__(self, transpose: bool = False, flip_rows: bool = False,
               flip_columns: bool = False):
    self.transpose, self.flip_rows, self.flip_columns = transpose, flip_rows, flip_columns

  def __eq__(self, other) -> bool:
    return (isinstance(other, Orientation) and
            (self.transpose, self.flip_rows, self.flip_columns) ==
            (other.transpose, other.flip_rows, other.flip_columns))

  def __repr__(self) -> str:
    return f"Orientation({self.describe()})"

  @property
  def is_identity(self) -> bool:
    return not (self.transpose or self.flip_rows or self.flip_columns)

  def displayed_size(self, width: int, height: int) -> Tuple[int, int]:
    """(width, height) of a stored ``width x height`` picture as displayed."""
    return (height, width) if self.transpose else (width, height)

  def apply(self, frame: np.ndarray) -> np.ndarray:
    """The displayed picture of ``frame`` (H, W, C), as a contiguous array."""
    if self.is_identity:
      return frame
    if self.transpose:
      frame = frame.transpose(1, 0, 2)
    if self.flip_rows:
      frame = frame[::-1]
    if self.flip_columns:
      frame = frame[:, ::-1]
    return np.ascontiguousarray(frame)

  def describe(self) -> str:
    """Human words: 'rotated 90 degrees clockwise', 'mirrored left-right', ..."""
    names = {
        (False, False, False): "upright",
        (False, True, True): "rotated 180 degrees",
        (False, False, True): "mirrored left-right",
        (False, True, False): "mirrored top-bottom",
        (True, False, True): "rotated 90 degrees clockwise",
        (True, True, False): "rotated 90 degrees counter-clockwise",
        (True, False, False): "transposed (mirrored about the main diagonal)",
        (True, True, True): "mirrored about the anti-diagonal",
    }
    return names[(self.transpose, self.flip_rows, self.flip_columns)]


IDENTITY = Orientation()


def from_display_matrix(matrix: Tuple[int, ...], source: str) -> Orientation:
  """The orientation of a 9-int display matrix (see the module docstring).

  Raises ``UserInputError`` naming ``source`` for a matrix that is not a quarter-turn
  rotation or mirror.
  """
  a, b, _, c, d, _, _, _, _ = matrix

  def sign(value: int) -> int:
    # Scaled matrices exist (a player also scales); only the direction matters here.
    return 0 if abs(value) < _FIXED_ONE // 64 else (1 if value > 0 else -1)

  a, b, c, d = sign(a), sign(b), sign(c), sign(d)
  if b == 0 and c == 0 and a != 0 and d != 0:
    # Displayed (p', q') = (a p, d q): a mirror per negative axis.
    return Orientation(False, flip_rows=d < 0, flip_columns=a < 0)
  if a == 0 and d == 0 and b != 0 and c != 0:
    # Displayed (p', q') = (c q, b p): column p' comes from row q, so transpose, then
    # reverse the displayed columns where c < 0 and the displayed rows where b < 0.
    return Orientation(True, flip_rows=b < 0, flip_columns=c < 0)
  angle = np.degrees(np.arctan2(matrix[1], matrix[0]))
  raise UserInputError(f"{source}: its display matrix {tuple(matrix)} is not a quarter-turn "
                       f"rotation or mirror (rotation {angle:.1f} degrees); re-encode it "
                       "upright first (e.g. ffmpeg -i in.mp4 out.mp4)")


def from_side_data(payload: Optional[bytes], source: str) -> Orientation:
  """The orientation of a frame's ``DISPLAYMATRIX`` side data (``None``: upright)."""
  if payload is None:
    return IDENTITY
  if len(payload) < 36:
    raise UserInputError(f"{source}: display matrix side data has {len(payload)} bytes, "
                         "expected 36")
  return from_display_matrix(struct.unpack("=9i", payload[:36]), source)
