"""Speed, memory and accuracy benchmarks: one command, ``python -m benchmarks <tool>``
(``__main__.py`` lists the tools), over a shared harness (``harness.py``: timer, synthetic
batch, table and JSON output). Results, with device, versions and commands, are in
``results/``, one file per topic (index: ``RESULTS.md``); finished one-off experiments are in ``archive/`` (not imported)."""
