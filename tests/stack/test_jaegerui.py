"""Where the local Jaeger's UI comes from: `ddex-otel stack build` installs it, jaegerui.find() locates it.

The command runs for real against a scratch cache whose bin/ links to the built binaries (so nothing
is rebuilt), with the official UI build the tests pass explicitly (support.jaeger_ui_build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from ddex_otel.stack import jaegerui
from ddex_otel.stack.ports import Ports
from ddex_otel.stack.render import jaeger_env
from support import jaeger_ui_build

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "ddex-otel"
SHARED_TGZ = jaeger_ui_build()
JAEGER_CONFIG = REPO / "collector" / "jaeger" / "jaeger-config.yaml"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty DDEX_OTEL_CACHE for this test (no UI env var)."""
    monkeypatch.setenv("DDEX_OTEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(jaegerui.ENV_JAEGER_UI, raising=False)
    return tmp_path / "cache"


def _ui_dir(root: Path) -> Path:
    (root / "static").mkdir(parents=True)
    (root / "index.html").write_text('<div id="jaeger-ui-root"></div>')
    return root


def test_config_reads_assets_path_from_the_environment_with_an_empty_default():
    ui = yaml.safe_load(JAEGER_CONFIG.read_text())["extensions"]["jaeger_query"]["ui"]
    # empty → the binary's embedded UI: the real one in the official image, which compose runs
    assert ui == {"assets_path": "${env:DDEX_JAEGER_UI_ASSETS_PATH:-}", "config_file": "${env:DDEX_JAEGER_UI_CONFIG:-}"}
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["jaeger"]
    assert compose["image"] == "jaegertracing/jaeger:2.13.0"
    assert "DDEX_JAEGER_UI_ASSETS_PATH" not in compose.get("environment", {})


def test_jaeger_env_sets_the_assets_path_only_for_an_installed_ui(tmp_path):
    assert jaeger_env(Ports())["DDEX_JAEGER_UI_ASSETS_PATH"] == ""
    assert jaeger_env(Ports(), tmp_path)["DDEX_JAEGER_UI_ASSETS_PATH"] == str(tmp_path)


def test_nothing_installed_says_how_to_add_the_ui(cache):
    ui = jaegerui.find()
    assert not ui.installed and ui.path is None
    text = ui.describe()
    assert text.startswith("not installed") and "placeholder" in text
    assert "ddex-otel stack build --jaeger-ui PATH" in text and "../shared" not in text


def test_env_directory_is_used_in_place(cache, tmp_path, monkeypatch):
    ui_dir = _ui_dir(tmp_path / "my-ui")
    monkeypatch.setenv(jaegerui.ENV_JAEGER_UI, str(ui_dir))
    assert jaegerui.find().path == ui_dir.resolve()


@pytest.mark.parametrize("given", ["empty-dir", "missing", "not-unpacked.tgz"])
def test_unusable_env_value_is_not_installed_and_named(cache, tmp_path, monkeypatch, given):
    path = tmp_path / given
    if given == "empty-dir":
        path.mkdir()
    elif given.endswith(".tgz"):
        shutil.copyfile(SHARED_TGZ, path)
    monkeypatch.setenv(jaegerui.ENV_JAEGER_UI, str(path))
    ui = jaegerui.find()
    assert not ui.installed
    assert f"{jaegerui.ENV_JAEGER_UI}={path}" in ui.note


def test_unpacked_name_matches_the_script():
    assert jaegerui.unpacked_name(Path("jaeger-ui-v1.76.0-build.tgz")) == "jaeger-ui-v1.76.0"
    assert jaegerui.unpacked_name(Path("ui.tar.gz")) == "ui"


# -- `ddex-otel stack build`, for real ------------------------------------------------------------------

def _run_script(cache: Path, bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "bin").exists():
        (cache / "bin").symlink_to(bin_dir)  # the built binaries: found cached, nothing rebuilt
    full_env = {k: v for k, v in os.environ.items() if k != jaegerui.ENV_JAEGER_UI}
    full_env.update(DDEX_OTEL_CACHE=str(cache), **env)
    result = subprocess.run([str(CLI), "stack", "build", *args], capture_output=True, text=True, env=full_env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_script_unpacks_the_given_ui_once(cache, stack_bin_dir):
    # Nothing given, nothing remembered: no UI, whatever lies beside the checkout.
    none = _run_script(cache, stack_bin_dir)
    assert "jaeger-ui: not installed" in none.stderr and "ready:" in none.stderr, none.stderr
    first = _run_script(cache, stack_bin_dir, "--jaeger-ui", str(SHARED_TGZ))
    assert "jaeger-ui: unpacked" in first.stderr, first.stderr
    installed = cache / "jaeger-ui-v1.76.0"
    assert (installed / "index.html").is_file() and any((installed / "static").glob("index-*.js"))
    assert os.readlink(cache / "jaeger-ui") == "jaeger-ui-v1.76.0"
    assert jaegerui.find().path == installed.resolve()
    second = _run_script(cache, stack_bin_dir)
    assert f"jaeger-ui: cached ({installed})" in second.stderr, second.stderr


def test_script_unpacks_an_env_archive_and_notices_when_it_changes(cache, tmp_path, monkeypatch, stack_bin_dir):
    archive = tmp_path / "custom-ui-build.tgz"
    shutil.copyfile(SHARED_TGZ, archive)
    monkeypatch.setenv(jaegerui.ENV_JAEGER_UI, str(archive))
    _run_script(cache, stack_bin_dir, **{jaegerui.ENV_JAEGER_UI: str(archive)})
    assert jaegerui.find().path == (cache / "custom-ui").resolve()
    # A different archive under the same name is not the unpacked one any more ...
    source = tmp_path / "src"
    _ui_dir(source)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname=".")
    assert "not unpacked yet" in jaegerui.find().note
    # ... until the script runs again.
    _run_script(cache, stack_bin_dir, **{jaegerui.ENV_JAEGER_UI: str(archive)})
    assert jaegerui.find().path == (cache / "custom-ui").resolve()
    assert (cache / "custom-ui" / "index.html").read_text() == '<div id="jaeger-ui-root"></div>'


@pytest.mark.parametrize("given", ["/nonexistent/ui.tgz", "not-a-tgz"])
def test_script_never_fails_for_the_ui(cache, tmp_path, stack_bin_dir, given):
    if given == "not-a-tgz":
        given = str(tmp_path / "broken.tgz")
        Path(given).write_text("not gzip")
    result = _run_script(cache, stack_bin_dir, **{jaegerui.ENV_JAEGER_UI: given})
    assert "jaeger-ui: WARNING:" in result.stderr and "placeholder page" in result.stderr
    assert "ready:" in result.stderr


def test_a_ui_given_by_path_is_remembered(cache, tmp_path, stack_bin_dir):
    archive = tmp_path / "given-ui-build.tgz"
    shutil.copyfile(SHARED_TGZ, archive)
    first = _run_script(cache, stack_bin_dir, "--jaeger-ui", str(archive))
    assert f"jaeger-ui: unpacked {archive}" in first.stderr, first.stderr
    assert jaegerui.find().path == (cache / "given-ui").resolve()
    # No path, no variable: the remembered UI is kept.
    again = _run_script(cache, stack_bin_dir)
    assert f"jaeger-ui: cached ({cache / 'given-ui'})" in again.stderr, again.stderr
    # A directory is remembered too, used in place.
    ui_dir = _ui_dir(tmp_path / "my-ui")
    _run_script(cache, stack_bin_dir, "--jaeger-ui", str(ui_dir))
    assert jaegerui.find().path == ui_dir.resolve()
    assert "installed by ddex-otel stack build" in jaegerui.find().note
