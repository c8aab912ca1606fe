"""Shared fixtures: where the DDEX reference material (samples, XSDs) lives.

Both default to the shared folders beside the repository and can be moved with environment
variables, so CI or a developer can point the tests at their own copies.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def xsd_root() -> Path:
    """DDEX ERN XSDs (``<dir>/<43|42|411|382>/release-notification.xsd``): env ``DDEX_XSD_DIR``."""
    return Path(os.environ.get("DDEX_XSD_DIR", REPO_ROOT.parent / "shared" / "ddex-xsd"))


@pytest.fixture(scope="session")
def xsd_dir() -> Path:
    """The XSD directory; tests needing it are skipped when it is absent."""
    path = xsd_root()
    if not (path / "43" / "release-notification.xsd").is_file():
        pytest.skip(f"DDEX XSDs not found at {path} (set DDEX_XSD_DIR)")
    return path


def samples_root() -> Path:
    """Real DDEX ERN sample messages: env ``DDEX_SAMPLES_DIR``, else ``<repo>/../shared/ddex-samples``."""
    return Path(os.environ.get("DDEX_SAMPLES_DIR", REPO_ROOT.parent / "shared" / "ddex-samples"))


def sample_files() -> list[Path]:
    """Every ``*.xml`` sample, sorted (empty when the directory is absent)."""
    root = samples_root()
    return sorted(root.glob("*.xml")) if root.is_dir() else []


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The samples directory; tests needing it are skipped when it is absent."""
    path = samples_root()
    if not path.is_dir():
        pytest.skip(f"DDEX samples not found at {path} (set DDEX_SAMPLES_DIR)")
    return path


@pytest.fixture(scope="session")
def sample_paths(samples_dir: Path) -> list[Path]:
    """Every sample message path, sorted."""
    paths = sample_files()
    if not paths:
        pytest.skip(f"no *.xml samples in {samples_dir}")
    return paths


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A ``sample_path`` argument runs the test once per sample file (id: the file name)."""
    if "sample_path" in metafunc.fixturenames:
        paths = sample_files()
        metafunc.parametrize("sample_path", paths, ids=[p.name for p in paths])
