"""One ``--dtype`` definition serves both command-line tools."""

import pytest

from star_jax.evaluate import __main__ as evaluate_cli
from star_jax.infer import __main__ as infer_cli
from star_jax.model import COMPUTE_DTYPES


@pytest.mark.parametrize("parser", [infer_cli.build_parser(), evaluate_cli.build_parser()])
def test_both_clis_share_the_dtype_option(parser, capsys):
  action = next(a for a in parser._actions if "--dtype" in a.option_strings)  # pylint: disable=protected-access
  assert tuple(action.choices) == COMPUTE_DTYPES and action.default == "float32"
  assert "mixed precision" in action.help
  with pytest.raises(SystemExit):
    parser.parse_args(["--dtype", "float16"])
  assert "float16" in capsys.readouterr().err
