"""launch/gke/render.sh: both JobSets render to valid YAML whose coordinator address, process
count and process id are the variables ``star_jax.main --distributed`` reads."""

import os
import pathlib
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
RENDER = ROOT / "launch" / "gke" / "render.sh"
DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def _render(kind, *extra_args, **env):
  env = dict(os.environ, DRY_RUN="1", **env)
  out = subprocess.run(["bash", str(RENDER), kind, "configs/star.py", "/data/star", *extra_args],
                       env=env, capture_output=True, text=True, check=True).stdout
  return yaml.safe_load(out)


def _worker(jobset):
  (job,) = jobset["spec"]["replicatedJobs"]
  return job, job["template"]["spec"], job["template"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("kind,resource,count", [("tpu", "google.com/tpu", "4"),
                                                 ("gpu", "nvidia.com/gpu", "8")])
def test_rendered_jobset_wires_the_distributed_variables(kind, resource, count):
  jobset = _render(kind, "--config.mesh_shape=(16,1)", '--config.note=a "b" & c|d',
                   NAME="star-run", NUM_PROCESSES="16", COORDINATOR_PORT="8476")
  assert jobset["kind"] == "JobSet" and jobset["metadata"]["name"] == "star-run"
  assert jobset["spec"]["network"]["enableDNSHostnames"] is True
  job, job_spec, pod = _worker(jobset)
  assert job["name"] == "workers" and job["replicas"] == 1
  assert job_spec["completionMode"] == "Indexed"
  assert job_spec["parallelism"] == job_spec["completions"] == 16
  (container,) = pod["containers"]
  env = {e["name"]: e for e in container["env"]}
  # Pod 0 of job 0 of replicated job "workers", on the JobSet's headless service.
  assert env["JAX_COORDINATOR_ADDRESS"]["value"] == "star-run-workers-0-0.star-run:8476"
  assert env["JAX_NUM_PROCESSES"]["value"] == "16"
  assert env["JAX_PROCESS_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == (
      "metadata.annotations['batch.kubernetes.io/job-completion-index']")
  assert container["command"] == ["python3", "-m", "star_jax.main"]
  assert container["args"] == ["--distributed", "--config=configs/star.py",
                               "--config.require_accelerator=True", "--workdir=/data/star",
                               "--config.mesh_shape=(16,1)",
                               '--config.note=a "b" & c|d']
  assert str(container["resources"]["limits"][resource]) == count
  assert container["ports"] == [{"containerPort": 8476}]


def test_main_reads_the_variables_the_manifests_set():
  source = (ROOT / "star_jax" / "cli" / "train.py").read_text()
  for name in DISTRIBUTED_ENV:
    assert f'env("{name}"' in source


def test_tpu_selectors_and_bad_settings():
  _, _, pod = _worker(_render("tpu", TPU_TOPOLOGY="4x4", TPU_ACCELERATOR="tpu-v6e-slice"))
  assert pod["nodeSelector"] == {"cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
                                 "cloud.google.com/gke-tpu-topology": "4x4"}
  bad = subprocess.run(["bash", str(RENDER), "tpu", "c.py", "/w"], capture_output=True,
                       text=True, env=dict(os.environ, DRY_RUN="1", NUM_PROCESSES="0"))
  assert bad.returncode == 2 and "NUM_PROCESSES must be an integer >= 1" in bad.stderr
  usage = subprocess.run(["bash", str(RENDER), "k8s"], capture_output=True, text=True)
  assert usage.returncode == 2 and "tpu|gpu CONFIG WORKDIR" in usage.stderr
  assert "python -m star_jax.plan --config=CONFIG --topology=v5e:4x4" in usage.stderr
