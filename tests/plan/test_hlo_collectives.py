"""Collective counts and bytes read off real compiled TPU programs (compile-only devices)."""

import functools
import os

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P
import pytest

from star_jax.plan.hlo_collectives import COLLECTIVES, collective_stats
from star_jax.plan.topology import compile_only_devices, parse_topology

os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
  log = tmp_path_factory.mktemp("libtpu") / "libtpu.log"
  devices = compile_only_devices(parse_topology("v5e:2x2"), str(log))
  return jax.make_mesh((4,), ("data",), devices=devices,
                       axis_types=(jax.sharding.AxisType.Auto,))


def _hlo(fn, mesh, *shapes):
  args = [jax.ShapeDtypeStruct(shape, jnp.float32, sharding=NamedSharding(mesh, P("data")))
          for shape in shapes]
  return jax.jit(fn).lower(*args).compile().as_text()


def test_a_sum_over_the_sharded_axis_is_one_all_reduce(mesh):
  stats = collective_stats(_hlo(lambda x: jnp.sum(x, axis=0), mesh, (8, 1024)))
  assert stats["all-reduce"]["count"] == 1
  assert stats["all-reduce"]["bytes"] == 1024 * 4  # one f32[1024] partial sum per chip
  assert all(stats[kind]["count"] == 0 for kind in COLLECTIVES if kind != "all-reduce")


def test_replicating_a_sharded_array_is_an_all_gather(mesh):
  replicate = jax.jit(lambda x: x * 2, out_shardings=NamedSharding(mesh, P()))
  arg = jax.ShapeDtypeStruct((8, 256), jnp.float32, sharding=NamedSharding(mesh, P("data")))
  stats = collective_stats(replicate.lower(arg).compile().as_text())
  assert stats["all-gather"]["count"] >= 1
  assert stats["all-gather"]["bytes"] == 8 * 256 * 4  # the gathered f32[8,256]


def test_elementwise_work_needs_no_collective(mesh):
  stats = collective_stats(_hlo(lambda x: x * 2 + 1, mesh, (8, 256)))
  assert all(stats[kind] == {"count": 0, "bytes": 0.0} for kind in COLLECTIVES)
