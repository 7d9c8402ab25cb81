"""TPU slice names: the compiler's and Cloud's spellings, and what is refused."""

import re

import pytest

from star_jax.errors import UserInputError
from star_jax.plan.topology import Topology, compile_only_devices, parse_topology


@pytest.mark.parametrize("name, compiler_name, chips, accelerator_type", [
    ("v5p:2x2x1", "v5p:2x2x1", 4, "v5p-8"),
    ("v5p-8", "v5p:2x2x1", 4, "v5p-8"),          # v5p names count TensorCores, 2 per chip
    ("v5p-64", "v5p:2x4x4", 32, "v5p-64"),
    ("v4-8", "v4:2x2x1", 4, "v4-8"),
    ("v4:2x2x2", "v4:2x2x2", 8, "v4-16"),
    ("v5e:4x4", "v5e:4x4", 16, "v5litepod-16"),
    ("v5litepod-16", "v5e:4x4", 16, "v5litepod-16"),  # v5e/v6e names count chips
    ("v5e-256", "v5e:16x16", 256, "v5litepod-256"),
    ("v6e-8", "v6e:2x4", 8, "v6e-8"),
    ("V6E:2x2", "v6e:2x2", 4, "v6e-4"),
])
def test_both_spellings(name, compiler_name, chips, accelerator_type):
  topology = parse_topology(name)
  assert (topology.compiler_name, topology.num_chips, topology.accelerator_type) == (
      compiler_name, chips, accelerator_type)


@pytest.mark.parametrize("name, message", [
    ("v3-8", "unknown TPU generation 'v3'"),
    ("v7:2x2", "unknown TPU generation 'v7' (one of v4, v5e, v5litepod, v5p, v6e)"),
    ("v7x-8", "unknown TPU generation 'v7x' (one of v4, v5e, v5litepod, v5p, v6e)"),
    ("v5p:2x2", "3-D shapes"),
    ("v5e:2x2x1", "2-D shapes"),
    ("v5e:0x2", "every side must be at least 1"),
    ("v5p-6", "no listed v5p slice of that size"),
    ("v5litepod-12", "no listed v5e slice"),
    ("tpu", "none of a compiler topology"),
    ("h100:0", "at least 1"),
    ("a100:8", "none of a compiler topology"),
    (" ", "topology is empty"),
])
def test_refusals_name_the_topology(name, message):
  with pytest.raises(ValueError, match=re.escape(message)):
    parse_topology(name)


def test_the_cloud_prefix_of_v5e_in_the_compiler_spelling():
  assert parse_topology("v5litepod:2x2") == parse_topology("v5e:2x2")


@pytest.mark.parametrize("name, shape, chips", [("h100:8", (1, 8), 8), ("H200:4x8", (4, 8), 32)])
def test_gpu_hosts_and_gpus_per_host(name, shape, chips):
  topology = parse_topology(name)
  assert topology.is_gpu and topology.shape == shape and topology.num_chips == chips
  assert topology.accelerator_type is None


def test_topology_is_a_value():
  assert parse_topology("v5p-8") == Topology("v5p", (2, 2, 1))


@pytest.mark.parametrize("name, kind", [
    ("v6e-1", "TPU v6 lite"), ("v5litepod-1", "TPU v5 lite"), ("v5p:1x1x1", "TPU v5")])
def test_single_chip_slices_are_described(tmp_path, name, kind):
  """Slices smaller than libtpu's default 2x2x1 chips per host get their own host bounds."""
  devices = compile_only_devices(parse_topology(name), str(tmp_path / "libtpu.log"))
  assert [device.device_kind for device in devices] == [kind]


@pytest.mark.parametrize("name, message", [
    ("v5e:3x5", "topology v5e:3x5: libtpu refuses it (JaxRuntimeError: INVALID_ARGUMENT: "
                "Topology layout \"v5e:3x5\" is not divisible"),
    ("v4:1x1x1", "topology v4:1x1x1: libtpu describes it as 2 devices for 1 chips; plan a "
                 "listed slice instead (e.g. v4:2x2x1)"),
])
def test_shapes_libtpu_cannot_describe_are_named(tmp_path, name, message):
  with pytest.raises(UserInputError, match=f"^{re.escape(message)}"):
    compile_only_devices(parse_topology(name), str(tmp_path / "libtpu.log"))
