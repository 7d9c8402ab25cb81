"""``python -m benchmarks``: the one command lists every tool, and every tool's ``--help``
works through it (each tool's module imports and builds its parser)."""

import json
import pathlib
import subprocess
import sys

from benchmarks import __main__ as command

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPECTED = ("model", "step-mfu", "flow", "infer", "export", "input-pipeline", "cpu-peak",
            "train-memory", "remat-policy", "accelerator-suite", "profile-step", "profile-ops",
            "bf16-parity")
# Every tool's --help in one interpreter (imports are shared; a process each costs seconds).
EVERY_HELP = """
import contextlib, io, json
from benchmarks import __main__ as command
result = {}
for name in command.TOOLS:
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    try:
      code = command.main([name, "--help"])
    except SystemExit as done:
      code = done.code
  result[name] = [code, out.getvalue()]
print(json.dumps(result))
"""


def _run(*args):
  return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                        timeout=600, check=False)


def test_help_lists_every_tool():
  done = _run("-m", "benchmarks", "--help")
  assert done.returncode == 0, done.stderr
  listed = [line.split()[0] for line in done.stdout.split("tools:\n", 1)[1].splitlines()]
  assert tuple(listed) == EXPECTED == tuple(command.TOOLS)


def test_no_tool_or_an_unknown_one_is_refused():
  for args, message in (([], "error: name a tool"), (["modle"], "unknown tool 'modle'")):
    done = _run("-m", "benchmarks", *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_every_tools_help_works():
  done = _run("-c", EVERY_HELP)
  assert done.returncode == 0, done.stderr[-3000:]
  result = json.loads(done.stdout.splitlines()[-1])
  assert list(result) == list(EXPECTED)
  for name, (code, out) in result.items():
    assert code == 0 and out.startswith(f"usage: python -m benchmarks {name} "), (name, out)
    assert "-h, --help" in out, name
