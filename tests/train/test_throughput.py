"""Throughput arithmetic: MFU on a known FLOP count and chip, the unknown-chip message, and
rates that leave out the first step and excluded (eval) time. A fake clock stands in for
time, so no assertion depends on this machine's speed."""

import pytest

from star_jax.train import throughput


class FakeClock:
  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def _meter(clock, peak, num_devices=8, flops=1e12, batch_size=10, total_steps=1001):
  return throughput.ThroughputMeter(flops_per_step_per_device=flops, num_devices=num_devices,
                                    batch_size=batch_size, total_steps=total_steps,
                                    peak_flops_per_chip=peak, clock=clock)


def test_mfu_on_known_flops_and_chip():
  # 1 TFLOP per step per device, 8 H100 SXM chips (bf16 dense 989.5 TFLOP/s), 2 steps/s:
  # 16 TFLOP/s achieved, MFU = 16 / (8 * 989.5) = 0.2021 %.
  peak, _ = throughput.resolve_peak("NVIDIA H100 80GB HBM3", "bfloat16", None)
  assert peak == 989.5e12
  achieved = throughput.achieved_flops_per_sec(1e12, 8, 2.0)
  assert achieved == 16e12
  assert throughput.model_flops_utilisation(achieved, peak, 8) == pytest.approx(16 / 7916)

  clock = FakeClock()
  meter = _meter(clock, peak)
  clock.now = 100.0  # compile + step 1 took 100 s
  meter.first_step_done(1)
  clock.now = 105.0  # steps 2..11 in 5 s
  rates = meter.report(11)
  assert rates.steps_per_sec == pytest.approx(2.0)
  assert rates.samples_per_sec == pytest.approx(20.0)
  assert rates.tflops_per_sec == pytest.approx(16.0)
  assert rates.mfu == pytest.approx(16 / 7916)
  assert rates.eta_seconds == pytest.approx(990 / 2.0)
  assert rates.scalars()["perf/mfu"] == pytest.approx(16 / 7916)


def test_first_step_is_excluded_and_nothing_is_reported_before_step_two():
  clock = FakeClock()
  meter = _meter(clock, None, num_devices=1)
  assert meter.report(1) is None  # nothing timed before the first step finishes
  clock.now = 60.0
  meter.first_step_done(1)
  assert meter.report(1) is None  # only the (untimed) first step so far
  clock.now = 64.0  # 4 steps in 4 s; an average from t=0 would give 5 / 64
  assert meter.report(5).steps_per_sec == pytest.approx(1.0)


def test_excluded_time_and_windows():
  clock = FakeClock()
  meter = _meter(clock, 1e12, num_devices=1, total_steps=21)
  meter.first_step_done(1)
  clock.now = 10.0  # steps 2..11 (10 steps) in 10 s, of which 5 s of evaluation
  meter.exclude(5.0)
  first = meter.report(11)
  assert first.steps_per_sec == pytest.approx(2.0)
  clock.now = 20.0  # steps 12..21 in 10 s: the window starts at the last report
  second = meter.report(21)
  assert second.steps_per_sec == pytest.approx(1.0)
  assert second.eta_seconds == 0.0
  assert second.mfu == pytest.approx(1e12 * 1.0 / 1e12)


def test_unknown_chip_prints_why_and_override_wins():
  peak, note = throughput.resolve_peak("cpu", "float32", None)
  assert peak is None
  assert note.startswith("no MFU: unknown device kind 'cpu'")
  assert "config.peak_flops_per_chip" in note
  clock = FakeClock()
  meter = _meter(clock, peak)
  meter.first_step_done(1)
  clock.now = 1.0
  rates = meter.report(2)
  assert rates.mfu is None and "perf/mfu" not in rates.scalars()
  assert "MFU" not in throughput.format_rates(2, 10, rates)

  peak, note = throughput.resolve_peak("cpu", "float32", 2.5e11)
  assert peak == 2.5e11 and "0.25 TFLOP/s" in note
  with pytest.raises(ValueError, match="peak_flops_per_chip"):
    throughput.resolve_peak("cpu", "float32", 0.0)


def test_format_seconds():
  assert throughput.format_seconds(59.2) == "59s"
  assert throughput.format_seconds(125) == "2m05s"
  assert throughput.format_seconds(12345.6) == "3h25m46s"


def test_the_progress_line_carries_the_loss_once_and_the_rates():
  clock = FakeClock()
  meter = _meter(clock, 1e12)
  meter.first_step_done(1)
  assert throughput.format_rates(1, 10, None, 0.0412) == "step 1/10: loss 0.0412"
  clock.now = 1.0
  line = throughput.format_rates(2, 10, meter.report(2), 0.0398)
  assert line.startswith("step 2/10: loss 0.0398, ") and line.count("loss") == 1
  assert "steps/s" in line and "ETA" in line
