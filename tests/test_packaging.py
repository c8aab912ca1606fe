"""pyproject.toml's package list and mapping: every directory of the library ships, and collector/ ships
as ddex_otel.stack.assets (the wheel itself is checked by tests/integration/test_installed_package.py)."""

from __future__ import annotations

import tomllib

from support import REPO_ROOT

SETUPTOOLS = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_the_package_list_names_every_directory_of_the_library() -> None:
    src = REPO_ROOT / "src"
    on_disk = {".".join(d.relative_to(src).parts) for d in [src / "ddex_otel", *(src / "ddex_otel").rglob("*")]
               if d.is_dir() and "__pycache__" not in d.parts}
    listed = set(SETUPTOOLS["packages"])
    assert listed - {"ddex_otel.stack.assets"} == on_disk


def test_collector_is_mapped_as_the_package_the_code_reads() -> None:
    assert SETUPTOOLS["package-dir"] == {"": "src", "ddex_otel.stack.assets": "collector"}
    assert "ddex_otel.stack.assets" in SETUPTOOLS["packages"]
    assert SETUPTOOLS["package-data"]["ddex_otel.stack.assets"] == ["**/*"]
    # A regular package (not a namespace): how an editable install's import finder reaches it.
    assert (REPO_ROOT / "collector" / "__init__.py").is_file()
    assert not (REPO_ROOT / "src" / "ddex_otel" / "stack" / "assets").exists()


def test_the_code_reads_collector_in_a_checkout() -> None:
    from ddex_otel.stack import paths

    assert paths.assets_dir() == REPO_ROOT / "collector"
    assert (paths.assets_dir() / paths.COLLECTOR_CONFIG).is_file()
