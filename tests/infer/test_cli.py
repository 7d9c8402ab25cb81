"""``python -m star_jax.infer`` end to end: videos and frame folders in and out (frame counts,
sizes, frame rates), and every kind of bad input ending in one line and a non-zero exit
code with no output left behind."""

import fractions
import subprocess
import sys

import av
import numpy as np
import pytest
from av.sidedata.sidedata import Type as SideDataType
from PIL import Image

from star_jax.cli.infer import main
from star_jax.video import reader
from star_jax.video.timeline import Timeline
from star_jax.video.writer import VideoWriter
from tests.video.clips import read_streams, write_clip

F = fractions.Fraction


def _write_video(path, frames, fps=fractions.Fraction(24)):
  writer = VideoWriter(path, Timeline.constant_rate(len(frames), fps), frames[0].shape[1],
                       frames[0].shape[0])
  for frame in frames:
    writer.write(frame)
  writer.close()
  return path


def _run(capsys, *args):
  code = main([str(arg) for arg in args] + ["--no-progress"])
  captured = capsys.readouterr()
  return code, captured.out, captured.err


def _assert_one_line_error(code, err, *phrases):
  assert code != 0
  lines = [line for line in err.strip().splitlines() if line]
  assert len(lines) == 1 and lines[0].startswith("error: "), err
  assert "Traceback" not in err
  for phrase in phrases:
    assert phrase in lines[0], lines[0]


def test_help_lists_the_options():
  completed = subprocess.run([sys.executable, "-m", "star_jax.infer", "--help"],
                             capture_output=True, text=True, check=False, timeout=120)
  assert completed.returncode == 0
  for option in ("--weights", "--input", "--output", "--mode", "--time-factor", "--dtype",
                 "--tile-size", "--tile-overlap", "--memory-budget-gb", "--batch-size",
                 "--pix-fmt", "--no-audio"):
    assert option in completed.stdout
  text = " ".join(completed.stdout.split())
  for phrase in ("no rotation tag", "audio tracks", "duration is kept", "Not kept"):
    assert phrase in text


def test_rotated_variable_rate_video_with_audio_space_time(tmp_path, capsys, release_weights,
                                                          frames_factory):
  """Stored 40x32 with a 90-degree display matrix (plays as 32x40), variable frame rate, an
  AAC track -> 4x of what the player shows (128x160, upright, no rotation tag), the frames at
  the input's times and exactly half-way between, the same duration, the audio copied in
  sync, yuv420p."""
  times = [F(0), F(1001, 24000), F(3003, 24000), F(4004, 24000)]
  source = write_clip(tmp_path / "in.mp4", frames_factory(4, 40, 32), times,
                      end=F(5005, 24000), rotation=(90, False, False), audio_codec="aac",
                      time_base=F(1, 24000))
  output = tmp_path / "out.mp4"
  code, out, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", source,
                        "--output", output)
  assert code == 0, err
  assert "notice: video" in err and "rotated 90 degrees counter-clockwise" in err
  out_times, out_end, audio_spans, pix_fmt, size = read_streams(output)
  assert size == (128, 160) and pix_fmt == "yuv420p"
  with av.open(str(output)) as container:
    frame = next(container.decode(video=0))
    assert frame.side_data.get(SideDataType.DISPLAYMATRIX) is None  # written upright
  assert out_times == [F(0), F(1001, 48000), F(1001, 24000), F(4004, 48000), F(3003, 24000),
                       F(7007, 48000), F(4004, 24000)]
  assert out_end == F(5005, 24000)  # duration kept
  in_times, _, in_spans, _, _ = read_streams(source)
  assert len(audio_spans) == 1
  frame_period = F(1001, 48000)
  assert abs(audio_spans[0][0] - in_spans[0][0]) < frame_period  # starts together
  assert abs(audio_spans[0][1] - in_spans[0][1]) < frame_period  # and ends together
  assert "7 frames 128x160" in out
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]


def test_folder_of_gray_and_rgba_frames_to_png_folder(tmp_path, capsys, release_weights,
                                                      frames_factory):
  frames = frames_factory(3, 40, 32)
  folder = tmp_path / "frames"
  folder.mkdir()
  Image.fromarray(frames[0][:, :, 0]).save(folder / "f1.png")  # grayscale
  Image.fromarray(np.dstack([frames[1], np.full((32, 40), 128, np.uint8)])).save(
      folder / "f2.png")  # RGBA
  Image.fromarray(frames[2]).save(folder / "f10.png")
  output = tmp_path / "out"
  code, _, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", folder,
                      "--output", output, "--mode", "space")
  assert code == 0, err
  written = sorted(output.iterdir())
  assert [p.name for p in written] == [f"frame_{i:06d}.png" for i in range(3)]
  for path in written:
    with Image.open(path) as image:
      assert image.size == (160, 128) and image.mode == "RGB"


def test_time_mode_4x_ntsc_odd_size_into_avi(tmp_path, capsys, release_weights,
                                             frames_factory):
  """29.97 fps x 4 into .avi (MPEG-4 Part 2 cannot take the time base 1001/120000 s), an
  odd 33x41 picture (a 180-degree display matrix over stored 33x41), --no-audio: the
  encoder is opened before the compute, the time base rounded to 16 bits, the output padded
  to 34x42 yuv420p, each said in one notice; input frames pass through upright."""
  frames = frames_factory(3, 33, 41)
  times = [F(1001 * k, 30000) for k in range(3)]
  source = write_clip(tmp_path / "in.mp4", frames, times, rotation=(180, False, False),
                      audio_codec="aac", time_base=F(1, 30000))
  output = tmp_path / "fast.avi"
  code, _, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", source,
                      "--output", output, "--mode", "time", "--time-factor", "4",
                      "--tile-size", "32", "--tile-overlap", "8", "--no-audio")
  assert code == 0, err
  notices = [line for line in err.splitlines() if line.startswith("notice: ")]
  assert len(notices) == 3, err  # orientation, time base, padding
  assert any("1001/120000" in line and "342/40999" in line for line in notices)
  assert any("33x41 is padded to 34x42" in line for line in notices)
  out_times, _, audio_spans, pix_fmt, size = read_streams(output)
  assert size == (34, 42) and pix_fmt == "yuv420p" and audio_spans == []
  expected = [F(1001 * k, 120000) for k in range(9)]
  assert len(out_times) == 9
  assert max(abs(a - b) for a, b in zip(out_times, expected)) < F(1, 10**6)
  passed_through = list(reader.iter_video_frames(output))[4][:41, :33]
  upright = np.abs(passed_through.astype(int) - np.rot90(frames[1], 2)).mean()
  as_stored = np.abs(passed_through.astype(int) - frames[1]).mean()
  assert upright < 8 < 20 < as_stored  # MPEG-4 loss only; the stored orientation is far off


def _one_frame_video(tmp_path, frames_factory):
  return _write_video(tmp_path / "single.mp4", frames_factory(1, 40, 32))


def _garbage_video(tmp_path, frames_factory):
  path = tmp_path / "broken.mp4"
  path.write_bytes(b"\x00\x01" * 500)
  return path


def _text_file(tmp_path, frames_factory):
  path = tmp_path / "notes.txt"
  path.write_text("not a video\n")
  return path


def _mixed_size_folder(tmp_path, frames_factory):
  folder = tmp_path / "mixed"
  folder.mkdir()
  Image.fromarray(frames_factory(1, 40, 32)[0]).save(folder / "a1.png")
  Image.fromarray(frames_factory(1, 44, 32)[0]).save(folder / "a2.png")
  return folder


@pytest.mark.parametrize("make_input,phrases", [
    (_one_frame_video, ("single.mp4", "1 frame", "at least 2")),
    (_garbage_video, ("broken.mp4", "cannot open video")),
    (_text_file, ("notes.txt", "cannot open video")),
    (_mixed_size_folder, ("a2.png is 44x32", "a1.png is 40x32")),
])
def test_bad_inputs_end_in_one_line(tmp_path, capsys, release_weights, frames_factory,
                                    make_input, phrases):
  source = make_input(tmp_path, frames_factory)
  before = set(tmp_path.iterdir())
  code, _, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", source,
                      "--output", tmp_path / "out.mp4")
  _assert_one_line_error(code, err, *phrases)
  assert set(tmp_path.iterdir()) == before  # no output, no temporary left


def test_weights_for_another_scale(tmp_path, capsys, release_weights, frames_factory):
  source = _write_video(tmp_path / "in.mp4", frames_factory(2, 40, 32))
  code, _, err = _run(capsys, "--weights", release_weights("V4_x2"), "--input", source,
                      "--output", tmp_path / "out.mp4", "--scale", "4")
  _assert_one_line_error(code, err, "2x model", "--scale 4")
  assert not (tmp_path / "out.mp4").exists()


def test_bad_weights_and_outputs(tmp_path, capsys, release_weights, frames_factory):
  source = _write_video(tmp_path / "in.mp4", frames_factory(2, 40, 32))
  not_weights = tmp_path / "model.pth"
  not_weights.write_bytes(b"junk")
  code, _, err = _run(capsys, "--weights", not_weights, "--input", source, "--output",
                      tmp_path / "out.mp4")
  _assert_one_line_error(code, err, "cannot load weights", "model.pth")
  code, _, err = _run(capsys, "--weights", tmp_path / "missing.pth", "--input", source,
                      "--output", tmp_path / "out.mp4")
  _assert_one_line_error(code, err, "missing.pth", "do not exist")
  code, _, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", source,
                      "--output", source)
  _assert_one_line_error(code, err, "already exists", "--overwrite")
  code, _, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", source,
                      "--output", tmp_path / "missing" / "out.mp4")
  _assert_one_line_error(code, err, f"folder {tmp_path / 'missing'} does not exist")
  code, _, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", source,
                      "--output", tmp_path / "out.png")
  _assert_one_line_error(code, err, "out.png", "single image")
  code, _, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", source,
                      "--output", tmp_path / "out", "--mode", "space", "--time-factor", "2")
  _assert_one_line_error(code, err, "--time-factor must be 1")
  code, _, err = _run(capsys, "--weights", release_weights("V4_x4"), "--input", source,
                      "--output", tmp_path / "out.avi", "--pix-fmt", "yuv444p")
  _assert_one_line_error(code, err, "--pix-fmt yuv444p", "mpeg4", "yuv420p")
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "model.pth"]
