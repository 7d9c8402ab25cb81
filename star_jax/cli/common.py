"""What the commands of ``star_jax.cli`` share: the options more than one of them takes,
their ``--help`` format, the parsing of absl / ml_collections config flags, and the one
error policy.

Every option that more than one command takes (``--weights``, ``--dtype``, the tiling
options, ``--batch-size``, ``--flow-backend``, ``--mode`` / ``--time-factor``, ``--scale``,
``--overwrite``, ``--no-progress``, ``--require-accelerator``, ``--debug``) is defined here
once, and so are what the engine options make of them (:func:`engine_options`,
:func:`flow_settings`) and the start of jax's backend with the platform line
(:func:`start_platform`).

Error policy, the same for every command (:func:`call_reporting_errors`,
:func:`parse_config_flags`):

* bad usage (argparse, absl flags, ml_collections config overrides) or bad input
  (:class:`~star_jax.errors.UserInputError`, which library code raises for a path, a file's
  content, a config field or a value that does not fit the weights) -> one ``error: ...``
  line on stderr, exit status 2;
* Ctrl-C -> ``error: interrupted...``, exit status 130;
* anything else (a bug, a failed run) -> one ``error: <what failed> (<type>: <message>)``
  line, exit status 1;
* ``--debug`` prints the traceback before that line (in every case); without it no
  traceback is shown.

Library code names the values in its messages by their Python names (``tile_size 8 must be
larger than tile_overlap 8``) and lists them in ``UserInputError.parameters``; this layer
says them as the options that set them (``--tile-size 8 must be larger than --tile-overlap
8``).

It imports ``model``, ``flow`` and ``infer`` for choices and defaults and ``accelerators``
for the platform.
"""

import argparse
import dataclasses
import difflib
import importlib.util
import pathlib
import re
import sys
import traceback
from typing import Callable, Dict, Iterable, Optional, Sequence, Tuple, TypeVar

from absl import flags
import ml_collections
from ml_collections import config_flags

from star_jax import accelerators
from star_jax.errors import UserInputError
from star_jax.flow import BACKENDS, FlowSettings
from star_jax.infer.planner import DEFAULT_TILE_OVERLAP, EngineOptions
from star_jax.infer.frame_schedule import MODES
from star_jax.model import COMPUTE_DTYPES

T = TypeVar("T")

EXIT_FAILURE = 1  # an unexpected error or a failed run
EXIT_USAGE = 2  # bad usage or bad input (argparse's own code for bad usage)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
  """Appends "(default: ...)" only where there is a default worth reading: options whose
  default is None or False are computed or off, and their help text says so."""

  def _get_help_string(self, action):
    if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
      return action.help
    return super()._get_help_string(action)


def positive_int(text: str) -> int:
  """``text`` as an int >= 1; argparse.ArgumentTypeError (shown as one usage line) otherwise."""
  if not text.isdigit() or int(text) < 1:
    raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
  return int(text)


def non_negative_int(text: str) -> int:
  """``text`` as an int >= 0; argparse.ArgumentTypeError otherwise."""
  if not text.isdigit():
    raise argparse.ArgumentTypeError(f"must be 0 or a positive integer, got {text}")
  return int(text)


def new_parser(prog: str, description: str, epilog: Optional[str] = None,
               formatter_class=DefaultsHelpFormatter, debug: bool = True
               ) -> argparse.ArgumentParser:
  """An ArgumentParser in the tools' help format, with ``--debug`` unless ``debug`` is False
  (a parser of subcommands gives each subcommand its own, see :func:`add_subcommand`)."""
  parser = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog,
                                   formatter_class=formatter_class)
  if debug:
    add_debug_argument(parser)
  return parser


def add_subcommand(commands, name: str, help_text: str, **kwargs) -> argparse.ArgumentParser:
  """Subcommand ``name`` of ``commands`` (``parser.add_subparsers()``), with ``--debug``."""
  kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
  sub = commands.add_parser(name, help=help_text, **kwargs)
  add_debug_argument(sub)
  return sub


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
  """``--debug``: show the traceback of an error (otherwise an error is one line)."""
  parser.add_argument("--debug", action="store_true",
                      help="show the traceback of an error, not only its one error: line")


def add_weights_argument(parser: argparse.ArgumentParser) -> None:
  """``--weights PATH`` (required): a star_jax checkpoint directory or a release .pth."""
  parser.add_argument("--weights", required=True, type=pathlib.Path,
                      help="a star_jax checkpoint directory (e.g. workdir/demo/model) or a "
                           "release .pth/.pth.gz file (converted on the fly; any float dtype; "
                           "{'params'|'params_ema'|'state_dict'|'model': ...} wrappers "
                           "unwrapped)")


def add_scale_argument(parser: argparse.ArgumentParser) -> None:
  """``--scale N``: the model scale the weights must have (checked, never converted)."""
  parser.add_argument("--scale", type=int, default=None,
                      help="expected model scale; an error if the weights are for another")


def add_dtype_argument(parser: argparse.ArgumentParser) -> None:
  """Adds ``--dtype {float32,bfloat16}`` (default float32): the model's compute precision
  (``model.dtype``; parameters, flows and output frames stay float32)."""
  parser.add_argument(
      "--dtype", choices=COMPUTE_DTYPES, default="float32",
      help="compute precision of convolutions and activations; bfloat16 is mixed precision "
           "(parameters, BatchNorm, flows and outputs stay float32); its measured "
           "difference from float32 is in benchmarks/results/training_cpu.md")


def add_video_io_arguments(parser: argparse.ArgumentParser) -> None:
  """``--input`` (a video or a frame folder) and ``--output`` (a video or a PNG folder)."""
  parser.add_argument("--input", required=True, type=pathlib.Path,
                      help="a video file (.mp4/.mov/.avi/.mkv, anything FFmpeg decodes) or a "
                           "folder of frames (png/jpg/bmp/tif/webp, natural sort order; 8/16-bit, "
                           "grey/RGB/palette, EXIF orientation applied, alpha dropped)")
  parser.add_argument("--output", required=True, type=pathlib.Path,
                      help="a video file (.mp4/.mov/.avi/.mkv) or a folder (created) for PNG "
                           "frames frame_000000.png, ...")


def add_mode_arguments(parser: argparse.ArgumentParser) -> None:
  """``--mode {space-time,space,time}`` and ``--time-factor {1,2,4}``."""
  parser.add_argument("--mode", choices=MODES, default="space-time",
                      help="space-time: scale x size and time-factor x frame rate (ht); "
                           "space: scale x size (h1/h2); time: time-factor x frame rate at "
                           "the input size (l, STAR-T-HR)")
  parser.add_argument("--time-factor", type=int, choices=(1, 2, 4), default=None,
                      help="frame-rate multiplier; 4 applies the half-way step recursively "
                           "(default: 2, or 1 for --mode space)")


def add_tiling_arguments(parser: argparse.ArgumentParser, sized: bool = True,
                         overlap_help: str = "LR pixels shared by neighbouring tiles (blended)"
                         ) -> None:
  """``--tile-overlap`` and, if ``sized``, ``--tile-size`` and ``--memory-budget-gb`` (an
  ONNX export's tile size is its exported LR size, so ``export run`` takes no size)."""
  if sized:
    parser.add_argument("--tile-size", type=positive_int, default=None,
                        help="LR tile side in pixels (default: the largest that fits the "
                             "memory budget; no tiling if the frame fits)")
  parser.add_argument("--tile-overlap", type=int, default=DEFAULT_TILE_OVERLAP,
                      help=overlap_help)
  if sized:
    parser.add_argument("--memory-budget-gb", type=float, default=None,
                        help="memory one forward may use per device (default: 60%% of the "
                             "free memory)")


def add_batch_size_argument(parser: argparse.ArgumentParser,
                            help_text: str = "frame pairs (or tiles) per step over all "
                                             "devices (default: one per local device)") -> None:
  """``--batch-size N`` (N >= 1; default None: the tool's own choice, said in ``help_text``)."""
  parser.add_argument("--batch-size", type=positive_int, default=None, help=help_text)


def add_flow_backend_argument(parser: argparse.ArgumentParser, option: str = "--flow-backend",
                              help_text: str = "optical-flow backend (coarse2fine = the "
                                               "release's method)") -> None:
  """``--flow-backend`` (``star_jax.flow.BACKENDS``, default coarse2fine); the flow tool
  names it ``--backend``."""
  parser.add_argument(option, default="coarse2fine", choices=sorted(BACKENDS), help=help_text)


def engine_options(args: argparse.Namespace) -> EngineOptions:
  """The ``EngineOptions`` of the tiling and batch options a command took
  (:func:`add_tiling_arguments`, :func:`add_batch_size_argument`: their dests are its field
  names); a field whose option the command lacks keeps its default.

  Raises:
    UserInputError: a value out of range (``EngineOptions``' check), naming its field.
  """
  return EngineOptions(**{field.name: getattr(args, field.name)
                          for field in dataclasses.fields(EngineOptions)
                          if hasattr(args, field.name)})


def flow_settings(args: argparse.Namespace) -> FlowSettings:
  """The ``FlowSettings`` of ``--flow-backend`` (:func:`add_flow_backend_argument`), with
  the backend's default settings."""
  return FlowSettings(args.flow_backend)


def add_overwrite_argument(parser: argparse.ArgumentParser,
                           help_text: str = "replace an existing output (only once the new "
                                            "one is complete)") -> None:
  """``--overwrite``: replace existing outputs (each only once its replacement is complete)."""
  parser.add_argument("--overwrite", action="store_true", help=help_text)


def add_require_accelerator_argument(parser: argparse.ArgumentParser) -> None:
  """``--require-accelerator``: refuse to run on the CPU (:func:`start_platform`)."""
  parser.add_argument("--require-accelerator", action="store_true",
                      help="stop with an error if jax runs on the CPU (e.g. a CPU-only jaxlib "
                           "on a GPU node) instead of a GPU or TPU")


def start_platform(require_accelerator: bool) -> str:
  """Starts jax's backend and returns the platform line (``star_jax.accelerators``); a tool
  calls it once its cheap input checks passed, before anything touches jax, and prints the
  line to stderr once its weights are loaded (so that an error stays the only line).

  Raises:
    UserInputError: ``JAX_PLATFORMS`` names a platform whose plugin or hardware is missing
      (naming the plugin's install command), or ``require_accelerator`` and jax runs on
      the CPU (naming the platform found and the likely cause).
  """
  accelerators.start_backend()
  if require_accelerator:
    accelerators.require_accelerator("--require-accelerator",
                                      "leave out --require-accelerator")
  return accelerators.platform_line()


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
  """``--no-progress``: no progress bars (``args.no_progress``)."""
  parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def option_names(parser: argparse.ArgumentParser) -> Dict[str, str]:
  """``{dest: "--long-option"}`` of ``parser`` and of all its subcommands' parsers: how a
  library parameter (``tile_size``) is said on this command line (``--tile-size``)."""
  names: Dict[str, str] = {}
  for action in parser._actions:  # pylint: disable=protected-access (argparse has no public list)
    if isinstance(action, argparse._SubParsersAction):  # pylint: disable=protected-access
      for sub in action.choices.values():
        names.update(option_names(sub))
    elif action.option_strings:
      names.setdefault(action.dest, max(action.option_strings, key=len))
  return names


def with_option_names(message: str, parameters: Iterable[str], options: Dict[str, str]) -> str:
  """``message`` with each of ``parameters`` that ``options`` has, where it stands as a word
  of its own (not inside a path, a file name or an option), replaced by its option."""
  for parameter in parameters:
    if parameter in options:
      message = re.sub(rf"(?<![\w./\\-]){re.escape(parameter)}(?![\w/\\-]|\.\w)",
                       options[parameter], message)
  return message


def call_reporting_errors(action: Callable[[], T], failed: str, consequence: str = "", *,
                          debug: bool = False, options: Optional[Dict[str, str]] = None,
                          start_backend: bool = False) -> Tuple[Optional[T], Optional[int]]:
  """``(action(), None)``, or ``(None, exit code)`` after printing one ``error:`` line to
  stderr, by the module's error policy: 2 for a UserInputError (its message as it is,
  parameters said as ``options`` names them), 130 for Ctrl-C (with the KeyboardInterrupt's
  message, if it has one), 1 for
  anything else (``failed`` and the exception's type and message). ``failed`` says what
  failed ("inference failed on clip.mp4"); ``consequence`` is appended ("; no output was
  written"). ``debug`` prints the traceback first. ``start_backend``: jax's backend is
  started first (``star_jax.accelerators.start_backend``), for tools that compute with jax
  but print no platform line: libtpu's start-up lines on a machine without a TPU stay off
  the console, and a ``JAX_PLATFORMS`` that cannot work is one error line."""
  try:
    if start_backend:
      accelerators.start_backend()
    return action(), None
  except KeyboardInterrupt as error:  # its message, if any, says what was left undone
    caught, code = error, EXIT_INTERRUPTED
    line = f"interrupted{f': {error}' if str(error) else ''}{consequence}"
  except UserInputError as error:
    caught, code = error, EXIT_USAGE
    line = with_option_names(str(error), error.parameters, options or {})
  except Exception as error:  # pylint: disable=broad-except
    caught, code = error, EXIT_FAILURE
    line = f"{failed} ({type(error).__name__}: {error}){consequence}"
  if debug:
    traceback.print_exception(caught)
  print(f"error: {line}", file=sys.stderr)
  return None, code


# ------------------------------------------------------------ absl + ml_collections flags
HELP_FLAGS = ("--help", "-help", "-h", "--helpshort", "--helpfull", "--helpxml", "-?")


def _config_file(argv) -> str:
  """The ``--config`` value in ``argv`` (``--config=PATH`` or ``--config PATH``), or ''."""
  for i, arg in enumerate(argv):
    if arg.startswith(("--config=", "-config=")):
      return arg.split("=", 1)[1]
    if arg in ("--config", "-config") and i + 1 < len(argv):
      return argv[i + 1]
  return ""


def load_config_file(path: str):
  """``get_config()`` of a config file, as ``--config=path[:argument]`` names it."""
  file, *argument = path.split(":", 1)
  spec = importlib.util.spec_from_file_location("star_jax_checked_config", file)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(*argument)


def _field_paths(config, prefix: str = "") -> list:
  """Every field of ``config`` as a '.'-joined path, groups and their fields alike."""
  paths = []
  for key in config.keys():
    path = f"{prefix}{key}"
    paths.append(path)
    if isinstance(config[key], ml_collections.ConfigDict):
      paths.extend(_field_paths(config[key], path + "."))
  return paths


def override_problem(config, field: str) -> str:
  """Why ``--config.<field>=...`` cannot apply to ``config``, or '' if it can: an unknown
  field (with the closest known names, by ``difflib``), a field inside a field that has
  none, or a whole group of fields set at once."""
  node, parts = config, field.split(".")
  for depth, part in enumerate(parts):
    here = ".".join(parts[:depth + 1])
    if not isinstance(node, ml_collections.ConfigDict):
      return f"config field '{'.'.join(parts[:depth])}' has no fields (no '{here}')"
    if part not in node:
      close = difflib.get_close_matches(here, _field_paths(config), n=1)
      hint = f" (did you mean '{close[0]}'?)" if close else ""
      return f"unknown config field '{here}'{hint}"
    node = node[part]
  if isinstance(node, ml_collections.ConfigDict):
    return (f"config field '{field}' is a group of fields: set them one by one "
            f"(--config.{field}.{next(iter(node.keys()), 'x')}=...)")
  return ""


def flag_error(error: Exception, argv, required: Sequence[str]) -> str:
  """The one line (without ``error: ``) that says what is wrong with ``argv``'s flags, given
  the exception absl or ml_collections raised while parsing them: a config file that does
  not load, an override of no field (named, with the closest known names), else the
  exception's message without Python reprs."""
  path = _config_file(argv)
  if path and not pathlib.Path(path.split(":", 1)[0]).is_file():
    return f"--config: no config file {path.split(':', 1)[0]}"
  try:
    config = load_config_file(path) if path else None
  except Exception as load_error:  # pylint: disable=broad-except (the config file's own error)
    return f"--config: config file {path} does not load ({type(load_error).__name__}: " \
           f"{str(load_error).strip().splitlines()[-1]})"
  if isinstance(config, ml_collections.ConfigDict):
    for arg in argv[1:]:
      match = re.match(r"^--?(?:no)?config\.([^=]+)", arg)
      problem = match and override_problem(config, match.group(1))
      if problem:
        return problem
  if isinstance(error, flags.UnrecognizedFlagError):  # before 'required': --topolgy=v5p-8
    close = difflib.get_close_matches(error.flagname, list(flags.FLAGS), n=1)
    return f"unknown flag --{error.flagname}" + (f" (did you mean --{close[0]}?)" if close
                                                 else "")
  missing = [name for name in required
             if not any(re.match(rf"^--?{name}(=|$)", arg) for arg in argv[1:])]
  if missing:
    what = flags.FLAGS[missing[0]].help.rstrip(".")
    lead = what[:1].lower() if what[1:2].islower() else what[:1]  # 'TPU slice' stays
    return f"--{missing[0]} is required ({lead}{what[1:]})"
  if isinstance(error, flags.Error):  # absl says some values as tuples: ('what', 'value')
    return re.sub(r"\('([^']*)', '([^']*)'\)", r"\1 '\2'", str(error))
  message = " ".join(str(error).replace("\\n", " ").split())
  return f"bad flags ({type(error).__name__}: {message})"


def define_config_flag() -> None:
  """Defines ``--config`` (an experiment config file, ``configs/*.py``, locked; its fields
  are overridden as ``--config.x=y``) for ``star_jax.main`` and ``star_jax.plan``. Its help
  names no default (absl would print ``(default: 'None')`` for this required flag). The
  caller declares it a key flag (``flags.declare_key_flag("config")``: absl ties a key flag
  to the module that declares it) so that its ``--help`` lists it."""
  config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/*.py).",
                                  lock_config=True)
  flags.FLAGS["config"].default_as_str = None


def parse_config_flags(argv, required: Sequence[str]):
  """absl's flag parsing, except that a help request exits 0 (absl exits 1) and a bad flag
  (absl's own errors, or the config file's: an unknown ``--config.`` field, a config file
  that is missing or does not import) is one ``error:`` line (:func:`flag_error`) with exit
  status 2 (absl prints two lines and exits 1, or a traceback); ``--debug`` among the
  arguments adds the traceback. ``required``: the command's required flags, named (with
  their help) when missing. Shared by ``star_jax.main`` and ``star_jax.plan``."""
  try:
    remaining = flags.FLAGS(argv)
    flags.FLAGS.config.keys()  # a config file that failed to load raises here (ml_collections defers it)
    return remaining
  except SystemExit as exit_request:
    if exit_request.code == 1 and any(arg in HELP_FLAGS for arg in argv[1:]):
      sys.exit(0)
    raise
  except Exception as error:  # pylint: disable=broad-except
    if "--debug" in argv[1:]:
      traceback.print_exc()
    print(f"error: {flag_error(error, argv, required)}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


