"""The local telemetry stack's files, shipped inside the package as ``ddex_otel.stack.assets``.

pyproject.toml maps this directory to that package; this file makes it a regular package, which is
what lets importlib.resources find it in an editable install (``pip install -e .``) as well as in a
wheel. The code reads the files through ``ddex_otel.stack.paths.assets_dir()``.
"""
