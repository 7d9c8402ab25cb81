"""The command-line layer: every command of star_jax, one module each, over ``common`` (the
options the commands share, their ``--help`` format and the one error policy).

``train`` (``python -m star_jax.main``), ``infer``, ``evaluate``, ``flow``, ``convert``,
``export``, ``plan`` and ``showcase`` (``python -m`` of ``star_jax.<name>``). The ``python -m``
entry points (``star_jax/main.py`` and each package's ``__main__.py``) and the console
scripts (``pyproject.toml``) only call them. This package sits above every library package
and nothing in those imports it. It imports nothing here: ``train`` and ``plan`` set
environment variables before jax, TensorFlow or libtpu are first imported.
"""
