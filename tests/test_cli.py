"""star_jax.cli: option values accepted and refused, the options the tools share, and the
error policy (exit codes, one line, option names, tracebacks only with --debug)."""

import argparse

import pytest

from star_jax.cli import common
from star_jax.cli import evaluate as evaluate_cli
from star_jax.cli import export as export_cli
from star_jax.cli import infer as infer_cli
from star_jax.errors import UserInputError
from star_jax.model import COMPUTE_DTYPES


def test_positive_int():
  assert common.positive_int("3") == 3
  for bad in ("0", "-1", "2.5", "x"):
    with pytest.raises(argparse.ArgumentTypeError, match=f"positive integer, got {bad}"):
      common.positive_int(bad)


def test_non_negative_int():
  assert common.non_negative_int("0") == 0 and common.non_negative_int("7") == 7
  for bad in ("-1", "x"):
    with pytest.raises(argparse.ArgumentTypeError, match=f"0 or a positive integer, got {bad}"):
      common.non_negative_int(bad)


def _action(parser, option):
  return next(a for a in parser._actions if option in a.option_strings)  # pylint: disable=protected-access


@pytest.mark.parametrize("parser", [infer_cli.build_parser(), evaluate_cli.build_parser()])
def test_both_clis_share_the_dtype_option(parser, capsys):
  action = _action(parser, "--dtype")
  assert tuple(action.choices) == COMPUTE_DTYPES and action.default == "float32"
  assert "mixed precision" in action.help
  with pytest.raises(SystemExit):
    parser.parse_args(["--dtype", "float16"])
  assert "float16" in capsys.readouterr().err


def test_infer_and_export_run_share_their_options():
  """The options both take are one definition: same type, default and choices."""
  infer = infer_cli.build_parser()
  run = next(a for a in export_cli.build_parser()._actions  # pylint: disable=protected-access
             if isinstance(a, argparse._SubParsersAction)).choices["run"]  # pylint: disable=protected-access
  for option in ("--input", "--output", "--mode", "--time-factor", "--batch-size",
                 "--tile-overlap", "--flow-backend", "--overwrite", "--no-progress", "--debug"):
    ours, theirs = _action(infer, option), _action(run, option)
    assert (ours.type, ours.default, ours.choices, ours.required) == (
        theirs.type, theirs.default, theirs.choices, theirs.required), option


def test_option_names_cover_subcommands():
  names = common.option_names(export_cli.build_parser())
  assert names["lr_size"] == "--lr-size" and names["tile_overlap"] == "--tile-overlap"
  assert names["batch_size"] == "--batch-size" and "model" not in names  # a positional


def test_with_option_names_leaves_paths_and_other_words_alone():
  options = {"tile_size": "--tile-size", "output": "--output", "mode": "--mode"}
  message = "output /data/output/mode.mp4 is bad; tile_size 8, mode space, output."
  assert common.with_option_names(message, ("output", "tile_size", "mode"), options) == (
      "--output /data/output/mode.mp4 is bad; --tile-size 8, --mode space, --output.")
  assert common.with_option_names(message, (), options) == message  # only the declared names


def _fail(error):
  def action():
    raise error
  return action


@pytest.mark.parametrize("debug", [False, True])
def test_error_policy(capsys, debug):
  options = {"tile_size": "--tile-size"}
  cases = [
      (_fail(UserInputError("tile_size 8 is too small", ("tile_size",))), 2,
       "error: --tile-size 8 is too small"),
      (_fail(UserInputError("weights.pth does not exist")), 2,
       "error: weights.pth does not exist"),
      # Only a UserInputError is bad input: another ValueError or a FileNotFoundError a
      # library let through is a failure, whichever command it reaches.
      (_fail(ValueError("bad shape")), 1,
       "error: the run failed (ValueError: bad shape); nothing kept"),
      (_fail(FileNotFoundError("x.npz")), 1,
       "error: the run failed (FileNotFoundError: x.npz); nothing kept"),
      (_fail(RuntimeError("boom")), 1, "error: the run failed (RuntimeError: boom); nothing kept"),
      (_fail(KeyboardInterrupt()), 130, "error: interrupted; nothing kept"),
      (_fail(KeyboardInterrupt("the step was abandoned")), 130,
       "error: interrupted: the step was abandoned; nothing kept"),
  ]
  for action, code, line in cases:
    assert common.call_reporting_errors(action, "the run failed", "; nothing kept", debug=debug,
                                        options=options) == (None, code)
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == line
    assert ("Traceback" in err) == debug
    if not debug:
      assert err == line + "\n"
  assert common.call_reporting_errors(lambda: 7, "unused") == (7, None)
