"""Fixtures for the stack's config tests: the real binaries, built or found in the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddex_otel.stack import StackError
from support import stack_binaries


def pytest_collection_modifyitems(items):
    """Tests that need the built binaries count as integration tests (`make unit` skips them)."""
    for item in items:
        if "stack_bin_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack_bin_dir() -> Path:
    """`ddex-otel stack build`'s bin dir (first run builds for several minutes, then cached)."""
    try:
        return stack_binaries()
    except StackError as exc:
        pytest.fail(f"{exc}\n{exc.log_tail()}", pytrace=False)


@pytest.fixture(scope="session")
def otelcol(stack_bin_dir: Path) -> Path:
    return stack_bin_dir / "ddex-otelcol"


@pytest.fixture(scope="session")
def promtool(stack_bin_dir: Path) -> Path:
    return stack_bin_dir / "promtool"


@pytest.fixture(scope="session")
def amtool(stack_bin_dir: Path) -> Path:
    return stack_bin_dir / "amtool"
