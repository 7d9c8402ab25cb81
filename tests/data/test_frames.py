"""Frame reading, writing, mod-crop and the release's bicubic LR."""

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from star_jax.data import frames


def _random_frame(height, width, seed=0):
  return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_write_then_read_is_lossless(tmp_path):
  frame = _random_frame(13, 17)
  frames.write_frame(tmp_path / "a" / "im1.png", frame)
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "a" / "im1.png"), frame)
  assert not list(tmp_path.glob("a/*.partial"))


def test_read_converts_grey_and_rgba_to_rgb(tmp_path):
  Image.fromarray(np.full((4, 5), 7, np.uint8)).save(tmp_path / "grey.png")
  Image.fromarray(np.full((4, 5, 4), 9, np.uint8)).save(tmp_path / "rgba.png")
  assert frames.read_frame(tmp_path / "grey.png").shape == (4, 5, 3)
  assert frames.read_frame(tmp_path / "rgba.png").shape == (4, 5, 3)


def test_missing_frame_error_names_the_file(tmp_path):
  path = tmp_path / "nowhere" / "im2.png"
  with pytest.raises(frames.FrameReadError, match="nowhere/im2.png") as error:
    frames.read_frame(path)
  assert error.value.path == path


@pytest.mark.parametrize("content", [b"not a png at all", "truncated"])
def test_corrupt_frame_error_names_the_file(tmp_path, content):
  path = tmp_path / "im1.png"
  if content == "truncated":
    frames.write_frame(path, _random_frame(32, 32))
    path.write_bytes(path.read_bytes()[:200])
  else:
    path.write_bytes(content)
  with pytest.raises(frames.FrameReadError, match="im1.png.*corrupt"):
    frames.read_frame(path)


def test_mod_crop_keeps_the_top_left_corner():
  frame = _random_frame(67, 99)
  cropped = frames.mod_crop(frame, 4)
  assert cropped.shape == (64, 96, 3)
  np.testing.assert_array_equal(cropped, frame[:64, :96])
  batch = np.stack([frame, frame])
  assert frames.mod_crop(batch, 8).shape == (2, 64, 96, 3)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_lr_is_the_release_pil_bicubic_of_the_mod_cropped_frame(scale):
  hr = _random_frame(67, 99, seed=scale)
  lr = frames.lr_from_hr(hr, scale)
  # The release: modcrop, then img.resize((int(w * 1/scale), int(h * 1/scale)), BICUBIC).
  width, height = 99 - 99 % scale, 67 - 67 % scale
  want = Image.fromarray(hr[:height, :width]).resize(
      (int(width * (1.0 / scale)), int(height * (1.0 / scale))), Image.BICUBIC)
  assert lr.shape == (67 // scale, 99 // scale, 3) and lr.dtype == np.uint8
  np.testing.assert_array_equal(lr, np.asarray(want))


def test_lr_of_a_smooth_frame_is_its_subsampling():
  """Bicubic downscaling of a linear ramp stays on the ramp (catches wrong kernels/offsets)."""
  ramp = np.tile(np.linspace(0, 252, 64), (32, 1))
  hr = np.round(np.dstack([ramp] * 3)).astype(np.uint8)
  lr = frames.lr_from_hr(hr, 4).astype(np.float64)
  centres = np.interp(np.arange(16) * 4 + 1.5, np.arange(64), ramp[0])
  np.testing.assert_allclose(lr[4, 2:-2, 0], centres[2:-2], atol=1.0)


def test_lr_rejects_float_input():
  with pytest.raises(ValueError, match="uint8"):
    frames.lr_from_hr(np.zeros((8, 8, 3), np.float32), 2)


# --- one reader for every bit depth, pixel mode and orientation ------------------------------


def _png_with_exif_chunk(path, png_bytes, orientation):
  """A PNG with an eXIf chunk (orientation tag) inserted before its image data."""
  exif = Image.Exif()
  exif[0x0112] = orientation
  data = exif.tobytes()[6:]  # without the JPEG APP1 'Exif\0\0' header
  chunk = (struct.pack(">I", len(data)) + b"eXIf" + data
           + struct.pack(">I", zlib.crc32(b"eXIf" + data)))
  at = png_bytes.index(b"IDAT") - 4
  path.write_bytes(png_bytes[:at] + chunk + png_bytes[at:])
  return path


def _sixteen_bit_ramp():
  """Values 257k + 128 (must round to k) and 257k + 129 (to k + 1), k = 0..254: truncating
  to the high byte gets half of them wrong, so does v // 257 for the second half."""
  k = np.arange(255, dtype=np.uint32)
  values = np.stack([257 * k + 128, 257 * k + 129]).astype(np.uint16)  # (2, 255)
  want = np.stack([k, k + 1]).astype(np.uint8)
  return values, want


def test_sixteen_bit_grey_and_rgb_are_rounded_not_truncated(tmp_path):
  values, want = _sixteen_bit_ramp()
  Image.fromarray(values).save(tmp_path / "grey16.png")
  assert Image.open(tmp_path / "grey16.png").mode == "I;16"
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "grey16.png"),
                                np.dstack([want] * 3))
  rgb = np.dstack([values, values[::-1], np.roll(values, 7, axis=1)])
  rgb_want = np.dstack([want, want[::-1], np.roll(want, 7, axis=1)])
  cv2.imwrite(str(tmp_path / "rgb16.png"), np.ascontiguousarray(rgb[..., ::-1]))  # BGR
  assert Image.open(tmp_path / "rgb16.png").mode == "RGB"  # which PIL alone truncates
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "rgb16.png"), rgb_want)
  cv2.imwrite(str(tmp_path / "rgba16.png"), np.dstack([rgb[..., ::-1], values]))
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "rgba16.png"), rgb_want)
  # Float reads keep all 16 bits.
  np.testing.assert_array_equal(frames.read_frame_float(tmp_path / "grey16.png")[..., 0],
                                values / 65535.0)


def test_integer_and_float_modes(tmp_path):
  values, want = _sixteen_bit_ramp()
  Image.fromarray(values.astype(np.int32)).save(tmp_path / "i32.tif")
  assert Image.open(tmp_path / "i32.tif").mode == "I"
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "i32.tif"), np.dstack([want] * 3))
  unit = np.linspace(0, 1, 40, dtype=np.float32).reshape(5, 8)
  Image.fromarray(unit).save(tmp_path / "f.tif")
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "f.tif")[..., 1],
                                np.floor(unit.astype(np.float64) * 255 + 0.5).astype(np.uint8))
  Image.fromarray(unit * 255).save(tmp_path / "f255.tif")
  with pytest.raises(frames.FrameReadError, match=r"f255\.tif.*float pixels span \[0\.0, 255\.0\]"):
    frames.read_frame(tmp_path / "f255.tif")


def test_palette_bilevel_and_alpha_modes(tmp_path, capsys, monkeypatch):
  monkeypatch.setitem(frames._ALPHA_NOTICE, "shown", False)  # pylint: disable=protected-access
  rgb = _random_frame(6, 5, seed=3)
  palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
  palette.save(tmp_path / "p.png")
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "p.png"),
                                np.asarray(palette.convert("RGB")))
  palette.info["transparency"] = 0
  palette.save(tmp_path / "p_transparent.png", transparency=0)
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "p_transparent.png"),
                                np.asarray(palette.convert("RGB")))
  Image.fromarray(np.dstack([rgb, np.full((6, 5), 3, np.uint8)])).save(tmp_path / "rgba.png")
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "rgba.png"), rgb)
  Image.fromarray(np.dstack([rgb[..., 0], rgb[..., 1]]), "LA").save(tmp_path / "la.png")
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "la.png"),
                                np.dstack([rgb[..., 0]] * 3))
  Image.fromarray(rgb[..., 0] > 127).save(tmp_path / "bits.png")
  np.testing.assert_array_equal(frames.read_frame(tmp_path / "bits.png"),
                                np.dstack([np.where(rgb[..., 0] > 127, 255, 0)] * 3))
  err = capsys.readouterr().err.strip().splitlines()
  assert err == [f"notice: {tmp_path / 'p_transparent.png'} has an alpha channel; it is "
                 "dropped (colours kept, not composited), in this and any later frame"]


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_orientation_tag_is_applied_as_a_viewer_does(tmp_path, fmt):
  stored = _random_frame(6, 10, seed=4)
  for tag in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = tag
    path = tmp_path / f"o{tag}.{fmt}"
    Image.fromarray(stored).save(path, format=fmt.upper(), exif=exif.tobytes())
    with Image.open(path) as image:
      viewer = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    got = frames.read_frame(path)
    np.testing.assert_array_equal(got, viewer)
    assert frames.frame_size(path) == (got.shape[1], got.shape[0])
    assert got.shape[:2] == ((10, 6) if tag >= 5 else (6, 10))


def test_sixteen_bit_rgb_orientation(tmp_path):
  values = np.random.default_rng(5).integers(0, 65536, (4, 6, 3), dtype=np.uint16)
  ok, png = cv2.imencode(".png", values[..., ::-1])
  assert ok
  path = _png_with_exif_chunk(tmp_path / "rot.png", png.tobytes(), 6)
  rounded = ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
  np.testing.assert_array_equal(frames.read_frame(path), np.rot90(rounded, k=-1))
  assert frames.frame_size(path) == (4, 6)
