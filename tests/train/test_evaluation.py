"""The held-out evaluation's one-line summary of metrics (the training loop itself runs end to
end in test_main.py)."""

from star_jax.train import evaluation


def test_summary_line_puts_every_output_next_to_its_baseline():
  metrics = {"eval/psnr_h1": 26.0, "eval/psnr_h1_baseline": 25.6, "eval/psnr_h2": 25.5,
             "eval/psnr_h2_baseline": 25.7, "eval/psnr_ht": 23.2,
             "eval/psnr_ht_baseline": 21.67, "eval/psnr_l": 27.0, "eval/psnr_l_baseline": 24.77,
             "eval/ssim_ht": 0.6, "eval/grid_ht": 1.1, "eval/grid_ht_baseline": 1.0,
             "eval/num_samples": 32}
  line = evaluation.summary_line(metrics)
  assert line == ("held-out PSNR on 32 samples: h1 26.00 dB (bicubic 25.60, +0.40) | "
                  "h2 25.50 dB (bicubic 25.70, -0.20) | ht 23.20 dB (bicubic + frame average "
                  "21.67, +1.53) | l 27.00 dB (LR average 24.77, +2.23) | ssim_ht 0.6000 | "
                  "grid ht 1.10 (baseline 1.00)")


def test_summary_line_without_baselines_shows_the_outputs_alone():
  line = evaluation.summary_line({"eval/psnr_h1": 26.0})
  assert line == "held-out PSNR: h1 26.00 dB"
