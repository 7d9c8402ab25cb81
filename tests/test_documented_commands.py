"""Every command the documentation quotes works as written: the README's ``bash`` blocks and
its inline commands, the docstrings of ``configs/*.py`` and of the commands
(``star_jax/cli/``), and what ``make demo``, ``launch/tpu_vm.sh`` and ``launch/gke/render.sh`` run.

How each is checked (a command no checker knows fails the test, so a new kind of documented
command needs a checker here):

* ``python -m star_jax.main ...``: ``--dry_run`` (flags, config checks, the dataset's split
  lists, ``init_from`` read and compared with the config's model, the platform), each in a
  process of its own forked from one interpreter that has imported star_jax (a fresh
  interpreter per command would cost seconds of imports each). Placeholder paths become tiny
  real inputs: ``/data/vimeo_triplet`` a Vimeo-layout folder, ``STAR.pth`` a release-format
  file of the parity fixtures, ``/tmp/star/model`` a star_jax checkpoint of it; a narrow
  model matching those weights is appended (``TINY_MODEL``).
* the other tools (``infer``, ``evaluate``, ``export``, ``flow``, ``showcase``) and the
  benchmark tools (``python -m benchmarks TOOL``, also as quoted in their docstrings): their
  own argument parsers; ``convert detect`` / ``to-flax`` / ``to-torch`` run for real on a tiny
  release file.
* launch scripts: ``DRY_RUN=1`` with the synopsis' placeholders filled in (``sbatch``: the
  script run with SLURM's variables and stand-ins for ``scontrol``/``srun``), and the
  ``star_jax.main`` command each renders is dry-run as above.

The same run shows the checks can fail: the STAR-ST command of an earlier
``configs/star_st.py`` (``init_from`` a train-state checkpoint) and a misspelt field are
refused.
* ``make X``: ``make -n X`` (and the star_jax commands it prints are checked as above);
  ``pip install -e '.[extras]'``: the extras exist in pyproject.toml; ``pip install
  --no-deps jax2onnx==V``: V is the pinned version; ``tensorboard``/``xprof``: installed by
  a dependency or extra.
"""

import ast
import gzip
import json
import importlib.util
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import yaml
from PIL import Image

from star_jax.cli import convert as convert_cli
from star_jax.cli import evaluate as evaluate_cli
from star_jax.cli import export as export_cli
from star_jax.cli import flow as flow_cli
from star_jax.cli import infer as infer_cli
from star_jax.cli import showcase as showcase_cli

REPO = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PARSERS = {"star_jax.infer": infer_cli.build_parser, "star_jax.evaluate": evaluate_cli.build_parser,
           "star_jax.export": export_cli.build_parser, "star_jax.flow": flow_cli.build_parser,
           "star_jax.showcase": showcase_cli.build_parser, "star_jax.convert": convert_cli.build_parser}
# A model of the widths of tests/fixtures/parity/V4_x4 (the weights the placeholders become).
TINY_MODEL = ("--config.model.variant=V4", "--config.model.base_filter=16",
              "--config.model.feat=8", "--config.model.n_resblock=2")
CONVERT_RUNS = ("detect", "to-flax", "to-torch")  # cheap: run for real (verify: parsed)
COMMAND = re.compile(
    r"^(python3? |make |pip |bash |\. |launch/\S+\.sh |sbatch |tensorboard |xprof )")
# Synopsis words (README: `launch/tpu_vm.sh TPU_NAME ZONE CONFIG WORKDIR [--config.x=y ...]`).
SYNOPSIS = {"TPU_NAME": "star-test", "ZONE": "zone-a", "CONFIG": "configs/demo.py"}


def _shell_commands(text: str):
  """The commands of shell text: continuation lines joined, comments dropped, as tokens."""
  for line in text.replace("\\\n", " ").splitlines():
    tokens = shlex.split(line, comments=True)
    if tokens:
      yield tokens


def readme_commands():
  text = (REPO / "README.md").read_text()
  for block in re.findall(r"```bash\n(.*?)```", text, re.S):
    for tokens in _shell_commands(block):
      yield "README.md", tokens
  prose = re.sub(r"```.*?```", "", text, flags=re.S)
  for span in re.findall(r"`([^`]+)`", prose):
    span = " ".join(span.split())
    if COMMAND.match(span) and span not in ("make",):
      yield "README.md", shlex.split(span)


def docstring_commands():
  """Commands in the docstrings of configs/*.py, of the entry points and of the benchmark
  tools: indented lines (with their continuations; ``#`` comments dropped) and ``inline``
  literals that start with ``python -m``."""
  files = sorted((REPO / "configs").glob("*.py")) + [
      *sorted((REPO / "star_jax" / "cli").glob("*.py")),
      *sorted(p for p in (REPO / "benchmarks").glob("*.py") if not p.name.startswith("__"))]
  for path in files:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    name = str(path.relative_to(REPO))
    for literal in re.findall(r"``(python3? -m [^`]+)``", doc):
      yield name, shlex.split(literal)
    for line in doc.replace("\\\n", " ").splitlines():
      if re.match(r"\s*python3? -m ", line):
        yield name, shlex.split(line, comments=True)


def _fill_synopsis(tokens, workdir):
  """Placeholders of a synopsis filled in; ``[...]`` optional parts and ``...`` dropped."""
  out, optional = [], False
  for token in tokens:
    if token.startswith("["):
      optional = True
    if not optional and token != "...":
      option, equals, value = token.rpartition("=")
      value = SYNOPSIS.get(value, str(workdir) if value in ("WORKDIR", "DIR") else value)
      out.append(option + equals + value)
    if token.endswith("]"):
      optional = False
  return out


def _vimeo_stand_in(root, list_prefix: str, frames: int):
  """A Vimeo-90K-layout folder with one train and one test clip of ``frames`` 112x64 frames
  (``<list_prefix>_{train,test}list.txt``)."""
  for split in ("train", "test"):
    clip = f"0000{1 if split == 'train' else 2}/0001"
    (root / "sequences" / clip).mkdir(parents=True)
    (root / f"{list_prefix}_{split}list.txt").write_text(clip + "\n")
    for i in range(1, frames + 1):
      Image.fromarray(np.full((64, 112, 3), 30 * i, np.uint8)).save(
          root / "sequences" / clip / f"im{i}.png")
  return root


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, shared_dir):
  """Tiny real stand-ins for the documentation's placeholder paths."""
  root = tmp_path_factory.mktemp("documented")
  vimeo = _vimeo_stand_in(root / "vimeo_triplet", "tri", 3)
  septuplet = _vimeo_stand_in(root / "vimeo_septuplet", "sep", 7)
  release = root / "STAR.pth"
  with gzip.open(shared_dir / "parity" / "V4_x4" / "model.pth.gz") as packed:
    release.write_bytes(packed.read())
  from star_jax.weights import load_weights, save_checkpoint  # pylint: disable=g-import-not-at-top
  model_cfg, variables = load_weights(release)
  save_checkpoint(root / "star" / "model", model_cfg, variables)
  return {"/data/vimeo_triplet": str(vimeo), "/data/vimeo_septuplet": str(septuplet),
          "STAR.pth": str(release),
          "/tmp/star/model": str(root / "star" / "model"), "root": root}


def _substitute(tokens, inputs):
  out = []
  for token in tokens:
    for placeholder, real in inputs.items():
      if placeholder != "root":
        token = re.sub(rf"(?<![\w/.-]){re.escape(placeholder)}(?![\w/.-])", real, token)
    out.append(token)
  return out


# The driver: forks one process per star_jax.main command line and runs the entry point as
# ``python -m star_jax.main`` does (absl's app.run with star_jax.main's flag parser).
DRIVER = r"""
import json, os, sys, tempfile, traceback
from absl import app
from star_jax.cli import train as entry
from star_jax.train import config_checks, data_setup, trainer  # what a dry run imports
results = []
for argv in json.loads(sys.stdin.read()):
  with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    pid = os.fork()
    if pid == 0:
      os.dup2(out.fileno(), 1)
      os.dup2(err.fileno(), 2)
      sys.argv = argv
      code = 0
      try:
        app.run(entry.main, flags_parser=entry.parse_flags)
      except SystemExit as done:
        code = done.code if isinstance(done.code, int) else int(done.code is not None)
      except BaseException:
        traceback.print_exc()
        code = 1
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(code)
    _, status = os.waitpid(pid, 0)
    out.seek(0)
    err.seek(0)
    results.append({"code": os.waitstatus_to_exitcode(status),
                    "stdout": out.read().decode(), "stderr": err.read().decode()})
print(json.dumps(results))
"""


def dry_run_all(argvs):
  """``--dry_run`` of each ``star_jax.main`` argument list: [{code, stdout, stderr}]."""
  done = subprocess.run([sys.executable, "-c", DRIVER], cwd=REPO, input=json.dumps(argvs),
                        capture_output=True, text=True, timeout=900, check=True)
  return json.loads(done.stdout.strip().splitlines()[-1])


def _main_argv(tokens, inputs, workdir):
  """``star_jax.main``'s argv for a documented ``python -m star_jax.main`` command."""
  args = _substitute(_fill_synopsis(tokens[3:], workdir), inputs)
  return ["star_jax.main", *args, "--dry_run", *TINY_MODEL]


def _parse_tool(module, args, capsys):
  parser = PARSERS[module]()
  try:
    parser.parse_args(args)
  except SystemExit as refusal:
    pytest.fail(f"{module} {shlex.join(args)}: {capsys.readouterr().err.strip()} ({refusal})")


def _rendered_main_commands(tokens, workdir):
  """The star_jax.main command lines a launch script renders (DRY_RUN=1)."""
  filled = _fill_synopsis(tokens, workdir)
  env = dict(os.environ, DRY_RUN="1", REPO="https://example.invalid/star_jax.git")
  kinds = filled[1].split("|") if filled[0].endswith("render.sh") else [None]
  rendered = []
  for kind in kinds:
    args = filled[1:] if kind is None else [kind, *filled[2:]]
    done = subprocess.run(["bash", filled[0], *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{shlex.join(tokens)}: {done.stderr}"
    if kind is None:  # gcloud ... --command 'set -e; ...; python3 -m star_jax.main ...'
      remote = shlex.split(done.stdout)[-1]
      line = shlex.split(next(part for part in remote.split(";") if "star_jax.main" in part))
      # Under launch/retry.sh (VAR=... bash launch/retry.sh python3 -m star_jax.main ...).
      rendered.append(line[line.index("-m") - 1:])
    else:
      (job,) = yaml.safe_load(done.stdout)["spec"]["replicatedJobs"]
      (container,) = job["template"]["spec"]["template"]["spec"]["containers"]
      rendered.append(container["command"] + container["args"])
  return rendered


def _slurm_main_command(tokens, workdir, stubs):
  """The python command line ``sbatch ... launch/slurm.sbatch ARGS`` runs on a node: the
  script run with SLURM's variables set, stand-ins for ``scontrol`` / ``srun`` (not on
  this machine) and a ``python3`` that records its arguments."""
  filled = _fill_synopsis(tokens, workdir)
  script = next(i for i, t in enumerate(filled) if t.startswith("launch/"))
  stubs.mkdir(exist_ok=True)
  for name, body in (("scontrol", 'echo node-a; echo node-b'),
                     ("srun", 'while [[ $1 == -* ]]; do shift; done; exec "$@"'),
                     ("python3", 'printf "%s\\0" "$@" > "$ARGS_FILE"')):
    (stubs / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
    (stubs / name).chmod(0o755)
  env = dict(os.environ, PATH=f"{stubs}:{os.environ['PATH']}", SLURM_JOB_NODELIST="node-[a-b]",
             SLURM_NNODES="2", SLURM_PROCID="0", ARGS_FILE=str(stubs / "args"))
  done = subprocess.run(["bash", filled[script], *filled[script + 1:]], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=60, check=False)
  assert done.returncode == 0, f"{shlex.join(tokens)}: {done.stderr}"
  return (stubs / "args").read_text().split("\0")[:-1]


def test_every_documented_command_works(inputs, capsys, monkeypatch):
  commands = list(readme_commands()) + list(docstring_commands())
  assert len(commands) > 20  # the extraction finds them (a broken one would find none)
  workdir = inputs["root"] / "work"
  convert_dir = inputs["root"] / "convert"
  convert_dir.mkdir()
  shutil.copy(inputs["STAR.pth"], convert_dir / "STAR_4x.pth")
  main_runs, unchecked = [], []

  def check(source, tokens):
    line = shlex.join(tokens)
    if tokens[0] in ("python", "python3") and tokens[1:3] == ["-m", "star_jax.main"]:
      if " by launch/" in source:  # the launch scripts train on accelerators only
        assert "--config.require_accelerator=True" in tokens, f"{source}: {line}"
      if len(tokens) > 3:  # `python -m star_jax.main` alone names the tool
        main_runs.append((source, line, _main_argv(tokens, inputs, workdir)))
    elif tokens[:3] == ["python", "-m", "star_jax.convert"] and tokens[3:4] and (
        tokens[3] in CONVERT_RUNS):
      monkeypatch.chdir(convert_dir)  # STAR_4x.pth there is the tiny release file
      assert convert_cli.main(tokens[3:]) == 0, f"{line}: {capsys.readouterr().err}"
    elif tokens[0] in ("python", "python3") and tokens[1] == "-m" and tokens[2] in PARSERS:
      if len(tokens) > 3:  # `python -m star_jax.infer` alone names the tool
        _parse_tool(tokens[2], tokens[3:], capsys)
    elif tokens[:3] == ["python", "-m", "benchmarks"]:
      if len(tokens) > 3:  # `python -m benchmarks` alone names the command; a tool: its parser
        from benchmarks import __main__ as benchmarks_cli  # pylint: disable=import-outside-toplevel
        assert tokens[3] in benchmarks_cli.TOOLS, f"{source}: {line}"
        benchmarks_cli.tool_module(tokens[3]).parse_args(_fill_synopsis(tokens[4:], workdir))
    elif tokens[0] == "make":
      done = subprocess.run(["make", "-n", *tokens[1:]], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=False)
      assert done.returncode == 0, f"{line}: {done.stderr}"
      for recipe in _shell_commands(done.stdout):
        if recipe[0].endswith("/python") and recipe[1:2] == ["-m"]:
          check(f"make -n {' '.join(tokens[1:])}", ["python", *recipe[1:]])
    elif tokens[:3] == ["pip", "install", "-e"]:
      extras = re.fullmatch(r"\.\[([\w,]+)\]", tokens[3]).group(1).split(",")
      missing = set(extras) - set(PYPROJECT["project"]["optional-dependencies"])
      assert not missing, f"{line}: no extra {missing} in pyproject.toml"
    elif tokens[:3] == ["pip", "install", "--no-deps"]:
      requirements = tokens[5:] if tokens[3] == "--target" else tokens[3:]
      for requirement in requirements:  # pinned in [tool.star_jax]; the CUDA plugin's pjrt
        name, version = requirement.split("==")  # half goes with the plugin's pin
        key = name.replace("-", "_").replace("jax_cuda12_pjrt", "jax_cuda12_plugin")
        assert PYPROJECT["tool"]["star_jax"][key] == version, line
    elif tokens[0] in ("tensorboard", "xprof"):
      provided = {"tensorboard": PYPROJECT["project"]["dependencies"],
                  "xprof": PYPROJECT["project"]["optional-dependencies"]["profile"]}
      assert any(r.startswith(("tensorboard==", "tensorboard-plugin-profile=="))
                 for r in provided[tokens[0]]), line
    elif tokens[0] == ".":
      makefile = (REPO / "Makefile").read_text()
      assert tokens[1] == ".venv/bin/activate" and "VENV ?= .venv" in makefile, line
    elif tokens[0] == "bash":
      subprocess.run(["bash", "-n", tokens[1]], cwd=REPO, check=True)
    elif tokens[0] == "sbatch":
      rendered = _slurm_main_command(tokens, workdir, inputs["root"] / "slurm")
      check(f"{source}: run by launch/slurm.sbatch", ["python", *rendered])
    elif tokens[0].startswith("launch/"):
      for rendered in _rendered_main_commands(tokens, workdir):
        check(f"{source}: rendered by {tokens[0]}", ["python", *rendered[1:]])
    elif tokens[:3] == ["python", "-m", "star_jax.plan"]:
      if len(tokens) > 3:  # the plan's own flag parser, config overrides applied (own process:
        argv = [t for t in tokens[2:] if not t.startswith(("[", "..."))]  # absl's flags are global)
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from star_jax.cli import plan as m; "
             "m.parse_flags(sys.argv[1:])", *argv], cwd=REPO, capture_output=True, text=True,
            timeout=300, check=False)
        assert done.returncode == 0, f"{line}: {done.stderr[-2000:]}"
    elif tokens[:3] == ["python", "-m", "tests.train.trainstep_parity"]:
      assert importlib.util.find_spec("tests.train.trainstep_parity"), line
    else:
      unchecked.append(f"{source}: {line}")

  seen = set()
  for source, tokens in commands:
    if tuple(tokens) not in seen:
      seen.add(tuple(tokens))
      check(source, tokens)
  assert not unchecked, "documented commands without a check:\n" + "\n".join(unchecked)
  # The checks fail where the documentation was wrong: the STAR-ST command of an earlier
  # configs/star_st.py (init_from a train-state checkpoint) and a misspelt field.
  (inputs["root"] / "star" / "checkpoints" / "7").mkdir(parents=True)
  broken = [
      (["python", "-m", "star_jax.main", "--config=configs/star_st.py", "--workdir=/tmp/star_st",
        "--config.data.dir=/data/vimeo_triplet",
        f"--config.init_from={inputs['root'] / 'star' / 'checkpoints' / '7'}"],
       "is not a star_jax checkpoint"),
      (["python", "-m", "star_jax.main", "--config=configs/star.py", "--workdir=/tmp/star",
        "--config.data.dir=/data/vimeo_triplet", "--config.totl_steps=5"],
       "error: unknown config field 'totl_steps' (did you mean 'total_steps'?)")]
  runs = {tuple(argv): (source, line) for source, line, argv in main_runs}
  assert len(runs) >= 8
  argvs = [list(a) for a in runs] + [_main_argv(tokens, inputs, workdir) for tokens, _ in broken]
  results = dry_run_all(argvs)
  for argv, result in zip(runs, results):
    source, line = runs[argv]
    assert result["code"] == 0 and "dry run: nothing compiled or written" in result["stdout"], (
        f"{source}: {line}\n{result['stderr'][-2000:]}")
    assert "platform: " in result["stdout"]
  for (_, phrase), result in zip(broken, results[len(runs):]):
    assert result["code"] == 2 and phrase in result["stderr"].strip().splitlines()[-1], result
  assert not workdir.exists()  # a dry run writes nothing
