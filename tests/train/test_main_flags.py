"""``star_jax.main``'s flag errors, in process: what :func:`star_jax.common.flag_error` says for
each kind of bad command line (the exit status and the single line of a real run are
tested in test_main.py and test_documented_commands.py)."""

from absl import flags

from star_jax.cli import common, train
from tests.train.conftest import REPO

DEMO = f"--config={REPO / 'configs' / 'demo.py'}"


def _said(*args, error=None):
  return common.flag_error(error or ValueError("x"), ["star_jax.main", DEMO, "--workdir=w", *args],
                        train.REQUIRED_FLAGS)


def test_unknown_config_fields_get_the_closest_known_name():
  assert _said("--config.totl_steps=5") == (
      "unknown config field 'totl_steps' (did you mean 'total_steps'?)")
  assert _said("--config.data.patch_sise=8") == (
      "unknown config field 'data.patch_sise' (did you mean 'data.patch_size'?)")
  assert _said("--config.model.varient=V1") == (
      "unknown config field 'model.varient' (did you mean 'model.variant'?)")
  assert _said("--config.zzzz=1") == "unknown config field 'zzzz'"
  assert _said("--noconfig.data.augmnt") == (
      "unknown config field 'data.augmnt' (did you mean 'data.augment'?)")
  assert _said("--config.total_steps=5") == "bad flags (ValueError: x)"  # known: not blamed


def test_groups_and_leaves_are_named():
  assert _said("--config.seed.x=1") == "config field 'seed' has no fields (no 'seed.x')"
  said = _said("--config.model=abc")
  assert said.startswith("config field 'model' is a group of fields: set them one by one "
                         "(--config.model.") and "0x" not in said


def test_config_files_and_flags():
  argv = ["star_jax.main", "--config=configs/nosuch.py", "--workdir=w"]
  assert common.flag_error(ValueError("x"), argv, train.REQUIRED_FLAGS) == "--config: no config file configs/nosuch.py"
  assert common.flag_error(ValueError("x"), ["star_jax.main", DEMO], train.REQUIRED_FLAGS) == (
      "--workdir is required (where checkpoints, TensorBoard logs and the summary go)")
  unknown = flags.UnrecognizedFlagError("workdri")
  assert _said("--workdri=x", error=unknown) == "unknown flag --workdri (did you mean --workdir?)"
  absl_error = flags.IllegalFlagValueError("flag --config.total_steps=abc: invalid literal")
  assert _said(error=absl_error) == "flag --config.total_steps=abc: invalid literal"
  absl_error = flags.IllegalFlagValueError(
      "flag --config.data.augment=maybe: ('Non-boolean argument to boolean flag', 'maybe')")
  assert _said(error=absl_error) == (
      "flag --config.data.augment=maybe: Non-boolean argument to boolean flag 'maybe'")
  assert _said(error=AttributeError("'a'\\nDid you mean")) == (
      "bad flags (AttributeError: 'a' Did you mean)")


def test_a_config_file_that_does_not_load(tmp_path):
  bad = tmp_path / "bad.py"
  bad.write_text("def get_config(:\n")
  said = common.flag_error(ValueError("x"), ["star_jax.main", f"--config={bad}", "--workdir=w"],
                        train.REQUIRED_FLAGS)
  assert said.startswith(f"--config: config file {bad} does not load (SyntaxError: ")
