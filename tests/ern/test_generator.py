"""The synthetic generator: schema-valid, parseable, deterministic, sized, streamed."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from ddex_otel.ern import generator, identifiers, parse, validate
from ddex_otel.ern.builder import build
from ddex_otel.ern.errors import UnsupportedVersionError
from ddex_otel.ern.generator import generate_message, write_message
from ddex_otel.ern.schema import validate_against_schema

VERSIONS = ("4.3", "4.2", "4.1.1", "3.8.2")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("releases", "tracks"), [(1, 1), (1, 12), (3, 4)])
def test_generated_messages_validate_against_the_xsd(version: str, releases: int, tracks: int, xsd_dir: Path) -> None:
    assert validate_against_schema(generate_message(releases, tracks, version, seed=3), xsd_dir) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_generated_messages_parse_with_the_shape_documented(version: str) -> None:
    message = parse(generate_message(releases=3, tracks_per_release=4, version=version, seed=1))
    assert message.ern_version == version
    assert len(message.resources) == 12 and {r.kind for r in message.resources} == {"SoundRecording"}
    if version == "3.8.2":
        assert [len(r.resource_refs) for r in message.releases] == [4, 4, 4]
        assert len(message.deals) == 3
    else:  # one album of every track, plus a TrackRelease per track
        assert [r.kind for r in message.releases] == ["Release"] + ["TrackRelease"] * 12
        assert message.releases[0].resource_refs == tuple(f"A{i}" for i in range(1, 13))
        assert message.releases[0].display_artist == "Various Artists"
    # every identifier is valid and every reference resolves: strict validation finds nothing
    assert validate(message, "strict").findings == ()
    assert all(identifiers.is_valid_isrc(r.ids.isrc or "") for r in message.resources)
    assert len({r.ids.isrc for r in message.resources}) == 12


@pytest.mark.parametrize("version", VERSIONS)
def test_generated_messages_rebuild_to_the_same_model(version: str, xsd_dir: Path) -> None:
    message = parse(generate_message(2, 3, version, seed=5))
    built = build(message, version, validation="strict")
    assert built.findings == ()
    assert parse(built) == message


def test_deterministic_per_seed() -> None:
    assert generate_message(2, 5, "4.3", seed=42) == generate_message(2, 5, "4.3", seed=42)
    assert generate_message(2, 5, "4.3", seed=42) != generate_message(2, 5, "4.3", seed=43)


def test_text_is_escaped() -> None:
    data = generate_message(4, 25, "4.3", seed=0)
    assert b"Rock &amp; Roll" in data and b"&lt;Live&gt;" in data  # the word list has both
    titles = {r.title for r in parse(data).resources}
    assert any("Rock & Roll" in t for t in titles if t) and any("<Live>" in t for t in titles if t)


def test_write_message_matches_generate_message(tmp_path: Path) -> None:
    path = tmp_path / "m.xml"
    size = write_message(path, releases=2, tracks_per_release=3, version="3.8.2", seed=9)
    assert path.read_bytes() == generate_message(2, 3, "3.8.2", seed=9)
    assert size == path.stat().st_size


@pytest.mark.parametrize("version", ["4.3", "3.8.2"])
@pytest.mark.parametrize("target", [100_000, 1_000_000, 5_000_000])
def test_target_size_is_met_within_five_percent(tmp_path: Path, version: str, target: int) -> None:
    path = tmp_path / "sized.xml"
    size = write_message(path, target_bytes=target, version=version)
    assert size == path.stat().st_size
    assert abs(size - target) / target < 0.05, size


def test_tiny_targets_give_the_smallest_valid_message(tmp_path: Path, xsd_dir: Path) -> None:
    path = tmp_path / "tiny.xml"
    size = write_message(path, target_bytes=1024, version="4.3")
    assert size == len(generate_message(1, 1, "4.3"))
    assert validate_against_schema(path, xsd_dir) == []
    assert len(parse(path).resources) == 1


def test_progress_is_reported_until_the_end(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    size = write_message(tmp_path / "p.xml", target_bytes=2_000_000, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) > 5
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1][0] == size and all(total >= done for done, total in seen)


def test_big_output_is_streamed_not_held_in_memory(tmp_path: Path) -> None:
    tracemalloc.start()
    try:
        size = write_message(tmp_path / "big.xml", target_bytes=30_000_000, version="4.3")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 28_000_000
    assert peak < 8_000_000, peak  # a few chunks of text, not the document


def test_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_message(tmp_path / "x.xml", target_bytes=1000, releases=2)
    with pytest.raises(ValueError):
        generate_message(releases=0)
    with pytest.raises(ValueError):
        generate_message(tracks_per_release=0)
    with pytest.raises(UnsupportedVersionError):
        generate_message(version="3.7")


def test_isrcs_stay_unique_past_one_registrant_block() -> None:
    text = generator._Text(0)
    isrcs = {text.isrc(n) for n in (0, 99_999, 100_000, 199_999, 3_600_000)}
    assert len(isrcs) == 5 and all(identifiers.is_valid_isrc(i) for i in isrcs)


# ------------------------------------------------------------------------------------ the CLI


def test_cli_generate(tmp_path: Path, xsd_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ddex_otel.cli import main

    out = tmp_path / "gen.xml"
    assert main(["generate", str(out), "--releases", "2", "--tracks", "3", "--version", "3.8.2", "--seed", "4"]) == 0
    assert out.read_bytes() == generate_message(2, 3, "3.8.2", seed=4)
    assert capsys.readouterr().err.startswith(f"wrote {out}: {out.stat().st_size} bytes, ERN 3.8.2")
    assert main(["generate", str(out), "--size", "200KB"]) == 0
    assert abs(out.stat().st_size - 200_000) < 10_000 and validate_against_schema(out, xsd_dir) == []


def test_cli_generate_shows_progress_for_big_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from ddex_otel.cli import main
    from ddex_otel.ern import cli

    monkeypatch.setattr(cli, "PROGRESS_EVERY_S", 0.0)
    assert main(["generate", str(tmp_path / "big.xml"), "--size", "40MB"]) == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ddex-otel: generate:")]
    assert progress and progress[-1].endswith("%)")


@pytest.mark.parametrize(("text", "expected"), [("10MB", 10_000_000), ("1GiB", 2**30), ("512kb", 512_000),
                                                ("4096", 4096), ("1.5 GB", 1_500_000_000)])
def test_size_arguments(text: str, expected: int) -> None:
    from ddex_otel.ern.cli import parse_size

    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["ten", "10XB", "0", "-5MB", ""])
def test_bad_size_arguments(text: str) -> None:
    import argparse

    from ddex_otel.ern.cli import parse_size

    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)
