"""The common flow interface: every backend, one sign convention."""

import numpy as np
import pytest

from star_jax.flow import BACKENDS, FlowSettings, compute_flow


@pytest.fixture(scope="module")
def shifted_pair(shared_dir):
  with np.load(shared_dir / "flow" / "fixtures" / "syn_shift_112x64.npz") as data:
    return data["im1"], data["im2"], np.stack([data["gt_u"], data["gt_v"]], axis=-1)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_recovers_known_shift_in_spec_convention(shifted_pair, backend):
  im1, im2, truth = shifted_pair
  flow = compute_flow(im1, im2, backend=backend)
  assert flow.dtype == np.float32 and flow.shape == im1.shape[:2] + (2,)
  interior = (slice(8, -8), slice(8, -8))
  error = np.linalg.norm(flow[interior] - truth[interior], axis=-1)
  assert np.median(error) < 0.3, (backend, np.median(error))


def test_opencv_backends_accept_batches_and_parameters(shifted_pair):
  im1, im2, _ = shifted_pair
  batch = compute_flow(np.stack([im1, im2]), np.stack([im2, im1]), backend="opencv_dis",
                       preset="fast")
  assert batch.shape == (2,) + im1.shape[:2] + (2,)
  # Reversing the pair reverses the motion.
  assert np.median(batch[0][..., 0]) > 1 and np.median(batch[1][..., 0]) < -1
  farneback = compute_flow(im1, im2, backend="opencv_farneback", winsize=9)
  assert farneback.shape == im1.shape[:2] + (2,)


def test_unknown_backend_and_parameters_are_refused(shifted_pair):
  im1, im2, _ = shifted_pair
  with pytest.raises(ValueError, match="backend='raft'"):
    compute_flow(im1, im2, backend="raft")
  with pytest.raises(ValueError, match="preset"):
    compute_flow(im1, im2, backend="opencv_dis", preset="slowest")
  with pytest.raises(ValueError, match="unknown Farneback"):
    compute_flow(im1, im2, backend="opencv_farneback", window=3)
  with pytest.raises(ValueError, match="shape"):
    compute_flow(im1, im2[:, :-1], backend="opencv_dis")


def test_flow_settings_fill_defaults_compare_and_digest():
  assert FlowSettings() == FlowSettings("coarse2fine", {"mode": "exact"})
  assert FlowSettings().is_default and not FlowSettings("coarse2fine", {"mode": "fast"}).is_default
  assert FlowSettings("opencv_dis").params == {"preset": "medium"}
  assert FlowSettings("opencv_dis").digest != FlowSettings("opencv_farneback").digest
  assert len(FlowSettings().digest) == 8 and hash(FlowSettings()) == hash(FlowSettings())
  with pytest.raises(ValueError, match="no_such"):
    FlowSettings("no_such")
  with pytest.raises(ValueError, match="sor"):
    FlowSettings("opencv_dis", {"sor": 3})
  with pytest.raises(ValueError, match="mode='slow'"):
    FlowSettings("coarse2fine", {"mode": "slow"})
