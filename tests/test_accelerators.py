"""star_jax.accelerators and how the commands start: the platform line, ``JAX_PLATFORMS``
naming a platform whose plugin or hardware is missing (real subprocesses of main, infer and
evaluate with ``JAX_PLATFORMS`` set), and the refusal to run on the CPU when an accelerator
is required. The expected lines follow what this machine has (plugins installed, devices
visible), found independently of the code under test where possible."""

import importlib.util
import os
import pathlib
import subprocess
import sys
import tomllib

import jax
import numpy as np
import pytest
from PIL import Image

from star_jax import accelerators
from star_jax.cli.evaluate import main as evaluate_main
from star_jax.cli.infer import main as infer_main
from star_jax.errors import UserInputError
from tests.conftest import fake_device_flags

REPO = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def _run(*args, **env):
  return subprocess.run([sys.executable, "-m", *map(str, args)], cwd=REPO, capture_output=True,
                        text=True, timeout=300, env=dict(os.environ, **env), check=False)


def _error_line(result) -> str:
  """The one ``error:`` line of a run that failed with status 2 and no traceback."""
  errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
  assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
  assert "Traceback" not in result.stderr and "AssertionError" not in result.stderr
  return errors[0]


def _installed(*modules) -> bool:
  return any(importlib.util.find_spec(name) is not None for name in modules)


CUDA_PLUGIN = _installed("jax_cuda12_plugin", "jax_cuda13_plugin")
NVIDIA_GPU = any(pathlib.Path(p).exists() for p in ("/dev/nvidia0", "/dev/nvidiactl", "/dev/dxg"))


def _check_cuda_start(result, success_phrase):
  """JAX_PLATFORMS=cuda: without the plugin, the plugin and its install command; with the
  plugin but no GPU, the GPU; with both, the run gets past the start (``success_phrase``)."""
  if CUDA_PLUGIN and NVIDIA_GPU:
    assert success_phrase in result.stderr + result.stdout, result.stderr[-3000:]
    return
  line = _error_line(result)
  phrases = (("no NVIDIA GPU is visible",) if CUDA_PLUGIN else
             ("CUDA plugin is not installed", "pip install -e '.[cuda]'", EXTRAS["cuda"][0]))
  assert line.startswith("error: JAX_PLATFORMS=cuda but ") and all(p in line for p in phrases), line


def test_jax_platforms_without_plugin_or_hardware_is_one_error_line(tmp_path, shared_dir):
  """Before: a traceback ending in a bare AssertionError (cuda) or jax's RuntimeError (tpu).
  Now every command says what is missing and how to install it, status 2."""
  frames = tmp_path / "frames"
  ucf = tmp_path / "ucf" / "1"
  frames.mkdir()
  ucf.mkdir(parents=True)
  rng = np.random.default_rng(0)
  for i in range(3):
    image = Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8))
    image.save(frames / f"{i}.png")
    image.save(ucf / ("frame_00.png", "frame_01_gt.png", "frame_02.png")[i])
  weights = shared_dir / "parity" / "V4_x2" / "model.pth.gz"
  main = _run("star_jax.main", "--config=configs/star.py", f"--workdir={tmp_path / 'work'}",
              f"--config.data.dir={tmp_path / 'no_data'}", JAX_PLATFORMS="cuda")
  _check_cuda_start(main, "split list")
  infer = _run("star_jax.infer", "--weights", weights, "--input", frames, "--output",
               tmp_path / "out", JAX_PLATFORMS="cuda")
  _check_cuda_start(infer, "platform: gpu")
  evaluate = _run("star_jax.evaluate", "--weights", weights, "--dataset", "ucf101",
                  "--data-dir", tmp_path / "ucf", "--output-dir", tmp_path / "results",
                  "--no-progress", JAX_PLATFORMS="tpu")
  if accelerators.visible_tpu_chips() and _installed("libtpu"):
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    return
  line = _error_line(evaluate)
  phrases = (("this machine has no TPU", "libtpu is installed") if _installed("libtpu") else
             ("libtpu", "not installed", "pip install -e '.[tpu]'", EXTRAS["tpu"][0]))
  assert line.startswith("error: JAX_PLATFORMS=tpu but ") and all(p in line for p in phrases), line


def test_platform_line_and_require_accelerator(tmp_path):
  """configs/star.py requires an accelerator: on a CPU-only jax the run stops at start,
  after the platform line, naming the field and how to opt out; with an accelerator it gets
  past the check (and stops at the missing dataset)."""
  result = _run("star_jax.main", "--config=configs/star.py", f"--workdir={tmp_path / 'w'}",
                f"--config.data.dir={tmp_path / 'no_data'}",
                XLA_FLAGS=fake_device_flags(2))
  platform_lines = [l for l in result.stderr.splitlines() if "platform: " in l]
  assert len(platform_lines) == 1, result.stderr[-3000:]
  line = _error_line(result)
  if jax.default_backend() == "cpu":
    assert platform_lines[0].endswith(
        "platform: cpu (device kind cpu), process 0/1, 2 local / 2 global devices") or (
            "visible" in platform_lines[0]), platform_lines[0]
    assert line.startswith("error: config.require_accelerator is set but jax found only cpu "
                           "(2 devices): "), line
    assert line.endswith("; or pass --config.require_accelerator=False to run on the CPU"), line
  else:
    assert "split list" in line, line


def test_install_command_names_the_pinned_extra():
  assert accelerators.install_command("cuda") == f"pip install -e '.[cuda]' ({EXTRAS['cuda'][0]})"
  assert accelerators.install_command("tpu") == f"pip install -e '.[tpu]' ({EXTRAS['tpu'][0]})"


def test_platform_line_counts_this_process():
  line = accelerators.platform_line()
  kinds = ", ".join(sorted({d.device_kind for d in jax.local_devices()}))
  assert line.startswith(
      f"platform: {jax.default_backend()} (device kind {kinds}), process 0/1, "
      f"{jax.local_device_count()} local / {jax.device_count()} global devices"), line


def test_require_accelerator_follows_the_backend():
  if jax.default_backend() in accelerators.ACCELERATOR_PLATFORMS:
    accelerators.require_accelerator("--require-accelerator", "leave it out")
    return
  with pytest.raises(UserInputError) as refusal:
    accelerators.require_accelerator("--require-accelerator", "leave it out")
  message = str(refusal.value)
  assert message.startswith("--require-accelerator is set but jax found only cpu")
  assert message.endswith("; or leave it out to run on the CPU")


@pytest.mark.parametrize("gpu,plugin,phrases", [
    ("/dev/nvidia0", False, ("CUDA plugin is not installed (this jaxlib is the CPU build)",
                             "pip install -e '.[cuda]'")),
    (None, False, ("CUDA plugin is not installed", "no NVIDIA GPU either")),
    (None, True, ("no NVIDIA GPU is visible",)),
    ("/dev/nvidia0", True, None),  # plugin and GPU there: jax's own error is the news
])
def test_cuda_diagnosis_of_each_machine(monkeypatch, gpu, plugin, phrases):
  """The hardware and plugin this machine lacks, given by replacing the two probes."""
  monkeypatch.setattr(accelerators, "visible_nvidia_device", lambda: gpu)
  monkeypatch.setattr(accelerators, "cuda_plugin_installed", lambda: plugin)
  monkeypatch.setattr(accelerators, "requested_platforms", lambda: ("cuda",))
  unusable = accelerators._unusable_platform  # pylint: disable=protected-access
  reason = unusable("cuda", RuntimeError("x"))
  if phrases is None:
    assert reason is None
  else:
    assert reason.startswith("JAX_PLATFORMS=cuda but ") and all(p in reason for p in phrases)


def test_cpu_fallback_on_a_gpu_node_names_the_cause(monkeypatch):
  """A GPU node whose jaxlib is the CPU build: jax runs on the CPU with only a log warning;
  the platform line and the refusal say why."""
  monkeypatch.setattr(accelerators, "visible_nvidia_device", lambda: "/dev/nvidia0")
  monkeypatch.setattr(accelerators, "cuda_plugin_installed", lambda: False)
  monkeypatch.setattr(accelerators, "requested_platforms", lambda: ())
  monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
  cause = "an NVIDIA GPU is visible (/dev/nvidia0) but jax's CUDA plugin is not installed"
  assert cause in accelerators.platform_line()
  with pytest.raises(UserInputError, match=r"config.require_accelerator is set but jax found "
                     r"only cpu .*" + cause.replace("(", r"\(").replace(")", r"\)")):
    accelerators.require_accelerator("config.require_accelerator", "pass x=False")


def test_infer_and_evaluate_require_accelerator(tmp_path, capsys, shared_dir):
  """``--require-accelerator``: on a CPU-only jax, the one line of the refusal (naming the
  platform found), before any weights are loaded; nothing written."""
  frames, ucf = tmp_path / "frames", tmp_path / "ucf" / "1"
  frames.mkdir()
  ucf.mkdir(parents=True)
  for i, name in enumerate(("frame_00.png", "frame_01_gt.png", "frame_02.png")):
    image = Image.fromarray(np.full((32, 40, 3), 60 * i, np.uint8))
    image.save(frames / f"{i}.png")
    image.save(ucf / name)
  weights = str(shared_dir / "parity" / "V4_x2" / "model.pth.gz")
  codes = [infer_main(["--weights", weights, "--input", str(frames), "--output",
                       str(tmp_path / "out"), "--require-accelerator", "--no-progress"]),
           evaluate_main(["--weights", weights, "--dataset", "ucf101", "--data-dir",
                          str(tmp_path / "ucf"), "--output-dir", str(tmp_path / "results"),
                          "--require-accelerator", "--no-progress"])]
  err = capsys.readouterr().err.splitlines()
  if jax.default_backend() in accelerators.ACCELERATOR_PLATFORMS:
    assert codes == [0, 0], err
    return
  assert codes == [2, 2] and len(err) == 2, err
  for line in err:
    assert line.startswith("error: --require-accelerator is set but jax found only cpu")
    assert line.endswith("; or leave out --require-accelerator to run on the CPU")
  assert not (tmp_path / "out").exists() and not (tmp_path / "results" / "metrics.csv").exists()


TPU_CHIP = any(pathlib.Path(vendor).read_text().strip() == "0x1ae0"
               for vendor in pathlib.Path("/sys/bus/pci/devices").glob("*/vendor"))


# What jax writes into os.environ once its TPU plugin failed to start in this process
# (TPU_SKIP_MDS_QUERY=1 quiets libtpu in a child), and a platform choice: left out, a child
# starts as a fresh command would. A test process that loaded libtpu also holds libtpu's lock
# file (/tmp/libtpu_lockfile), which keeps a child's libtpu silent unless
# ALLOW_MULTIPLE_LIBTPU_LOAD is set.
JAX_SET_VARIABLES = ("TPU_SKIP_MDS_QUERY", "TPU_LIBRARY_PATH", "TF_CPP_MIN_LOG_LEVEL",
                     "JAX_PLATFORMS")


def _fresh_env():
  env = {k: v for k, v in os.environ.items() if k not in JAX_SET_VARIABLES}
  env["ALLOW_MULTIPLE_LIBTPU_LOAD"] = "1"
  return env


def test_libtpu_start_up_lines_go_to_the_log_not_the_console(tmp_path):
  """``make install`` installs libtpu (the plan command's extra); on a machine without a TPU
  its start-up warnings (TPU_ACCELERATOR_TYPE, TPU_WORKER_HOSTNAMES) must not reach the
  console of a training run or a tool."""
  assert _installed("libtpu") and not TPU_CHIP, "needs libtpu installed on a machine without TPU"
  log = tmp_path / "start.log"
  code = ("import sys; from star_jax import accelerators; "
          "accelerators.start_backend(sys.argv[1]); print(accelerators.platform_line())")
  logged = subprocess.run([sys.executable, "-c", code, str(log)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=True, env=_fresh_env())
  quiet = subprocess.run([sys.executable, "-c", code.replace("sys.argv[1]", "None")], cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=True, env=_fresh_env())
  for result in (logged, quiet):
    assert "TPU_" not in result.stdout + result.stderr, result.stderr
    assert result.stdout.startswith("platform: cpu"), result.stdout
  assert "TPU_WORKER_HOSTNAMES" in log.read_text()


def test_tools_without_a_platform_line_keep_libtpu_quiet_too(tmp_path):
  """Tools that print no platform line (flow, convert, export, showcase) start jax's backend
  through ``call_reporting_errors(start_backend=True)``: no libtpu start-up line reaches
  their console (the flow tool, run for real), and a ``JAX_PLATFORMS`` naming a missing
  accelerator is their one error line."""
  assert _installed("libtpu") and not TPU_CHIP, "needs libtpu installed on a machine without TPU"
  paths = [tmp_path / f"frame{i}.png" for i in range(2)]
  for i, path in enumerate(paths):
    Image.fromarray(np.random.default_rng(i).integers(0, 256, (32, 40, 3), np.uint8)).save(path)
  out = tmp_path / "flow.npz"
  bare = subprocess.run([sys.executable, "-c", "import jax; jax.devices()"], cwd=REPO,
                        capture_output=True, text=True, timeout=300, env=_fresh_env(), check=True)
  assert "TPU_WORKER_HOSTNAMES" in bare.stderr  # what a bare jax start prints here
  result = subprocess.run([sys.executable, "-m", "star_jax.flow", *map(str, paths), "--out",
                           str(out), "--no-compile-cache"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=_fresh_env(), check=False)
  assert result.returncode == 0 and out.exists(), result.stderr[-3000:]
  assert "TPU_" not in result.stdout + result.stderr and "E0000" not in result.stderr
  assert result.stderr == "", result.stderr
  assert _error_line(_run("star_jax.flow", *paths, "--out", tmp_path / "again.npz",
                          JAX_PLATFORMS="tpu")).startswith("error: JAX_PLATFORMS=tpu but this "
                                                           "machine has no TPU")
