"""Shared fixtures: the DDEX reference material (samples, XSDs) every part of the suite reads.

Missing material is a usage error, not a reason to skip: a suite that silently skips the samples
proves nothing. Point ``DDEX_SAMPLES_DIR`` / ``DDEX_XSD_DIR`` at copies when they live elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support import CHROMIUM, launch_chromium, sample_files, samples_root, stack_binaries, xsd_root


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


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """Headless Debian chromium driven by Playwright (sync API), shared by the session.

    A missing /usr/bin/chromium is installed by `ddex-otel stack build --browser`; if it still cannot start,
    the test fails loudly (never skips).
    """
    if not CHROMIUM.exists():
        from ddex_otel.stack import StackError
        try:
            stack_binaries()
        except StackError as exc:
            pytest.fail(f"cannot install chromium: {exc}\n{exc.log_tail()}", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@dataclass
class BrowserPage:
    """A fresh page and what went wrong in it: console errors, uncaught exceptions, failed requests."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.console_errors + self.page_errors + self.failed_requests


@pytest.fixture
def browser_page(chromium_browser, request) -> Iterator[BrowserPage]:
    """A page in its own browser context (1400x900 viewport), closed after the test."""
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    seen = BrowserPage(page)
    page.on("console", lambda msg: seen.console_errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.page_errors.append(f"uncaught: {exc}"))
    page.on("requestfailed", lambda req: seen.failed_requests.append(f"request failed: {req.url} {req.failure}"))
    yield seen
    context.close()
