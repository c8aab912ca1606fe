"""Shared fixtures: the DDEX reference material (samples, XSDs) every part of the suite reads.

Missing material is a usage error, not a reason to skip: a suite that silently skips the samples
proves nothing. Point ``DDEX_SAMPLES_DIR`` / ``DDEX_XSD_DIR`` at copies when they live elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import sample_files, samples_root, xsd_root


def pytest_configure(config: pytest.Config) -> None:
    samples, xsds = samples_root(), xsd_root()
    if not sample_files():
        raise pytest.UsageError(f"no DDEX sample messages (*.xml) in {samples}: set DDEX_SAMPLES_DIR")
    if not (xsds / "43" / "release-notification.xsd").is_file():
        raise pytest.UsageError(f"no DDEX ERN schemas in {xsds} (43/release-notification.xsd): set DDEX_XSD_DIR")


@pytest.fixture(scope="session")
def xsd_dir() -> Path:
    """The ERN XSD directory (checked in ``pytest_configure``)."""
    return xsd_root()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The samples directory (checked in ``pytest_configure``)."""
    return samples_root()


@pytest.fixture(scope="session")
def sample_paths(samples_dir: Path) -> list[Path]:
    """Every sample message path, sorted."""
    return sample_files()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A ``sample_path`` argument runs the test once per sample file (id: the file name)."""
    if "sample_path" in metafunc.fixturenames:
        paths = sample_files()
        metafunc.parametrize("sample_path", paths, ids=[p.name for p in paths])
