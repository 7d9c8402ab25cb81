"""The launch scripts parse, and the TPU one builds the command a user expects."""

import os
import pathlib
import subprocess

LAUNCH = pathlib.Path(__file__).resolve().parents[2] / "launch"


def test_scripts_are_valid_bash():
  for script in ("tpu_vm.sh", "slurm.sbatch"):
    subprocess.run(["bash", "-n", str(LAUNCH / script)], check=True)


def test_tpu_dry_run_command():
  env = dict(os.environ, DRY_RUN="1", REPO="https://example.invalid/star_jax.git")
  out = subprocess.run(
      ["bash", str(LAUNCH / "tpu_vm.sh"), "star-v4", "zone-a", "configs/star.py", "/mnt/w",
       "--config.mesh_shape=(16,1)"], env=env, capture_output=True, text=True, check=True).stdout
  assert out.startswith("gcloud compute tpus tpu-vm ssh star-v4 --zone zone-a --worker=all")
  assert "python3\\ -m\\ star_jax.main\\ --distributed\\ --config=configs/star.py" in out
  assert "--workdir=/mnt/w" in out and "mesh_shape" in out


def test_tpu_script_without_arguments_prints_usage():
  result = subprocess.run(["bash", str(LAUNCH / "tpu_vm.sh")], capture_output=True, text=True)
  assert result.returncode == 2 and "TPU_NAME ZONE CONFIG WORKDIR" in result.stderr
  assert "python -m star_jax.plan --config=CONFIG --topology=ACCELERATOR_TYPE" in result.stderr
