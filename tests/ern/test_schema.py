"""XSD validation against a user-supplied schema directory, never the network."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import pytest

from ddex_otel.ern import schema
from ddex_otel.ern.schema import (
    SchemaError,
    SchemaNotFoundError,
    SchemaValidationError,
    assert_valid_against_schema,
    load_schema,
    schema_path_for,
    validate_against_schema,
)


def test_every_sample_validates_against_its_schema(sample_path: Path, xsd_dir: Path) -> None:
    path = sample_path
    assert validate_against_schema(path, xsd_dir) == []


def test_sources_bytes_str_path_and_file_object(xsd_dir: Path, samples_dir: Path) -> None:
    path = samples_dir / "AudiusProject__03_delete.xml"
    data = path.read_bytes()
    for source in (data, bytearray(data), memoryview(data), str(path), path, io.BytesIO(data)):
        assert validate_against_schema(source, xsd_dir) == []


def test_errors_carry_line_numbers_and_all_are_reported(xsd_dir: Path, samples_dir: Path) -> None:
    data = (samples_dir / "daddykev__Samples43_1_Audio.xml").read_bytes()
    broken = data.replace(b"<Duration>PT2M28S</Duration>", b"<Duration>two minutes</Duration>", 1)
    broken = broken.replace(b"<ReleaseType>Album</ReleaseType>", b"<ReleaseType>Mixtape</ReleaseType>", 1)
    errors = validate_against_schema(broken, xsd_dir)
    assert len(errors) == 2
    assert errors[0].startswith("line 88:") and "Duration" in errors[0]
    assert "ReleaseType" in errors[1] and "Mixtape" in errors[1]
    with pytest.raises(SchemaValidationError) as info:
        assert_valid_against_schema(broken, xsd_dir)
    assert info.value.errors == errors


def test_malformed_xml_is_a_typed_error(xsd_dir: Path) -> None:
    with pytest.raises(SchemaValidationError) as info:
        validate_against_schema(b'<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43">', xsd_dir)
    assert info.value.errors[0].startswith("line 1:")


def test_schema_is_chosen_by_namespace(xsd_dir: Path) -> None:
    for code in ("382", "411", "42", "43"):
        path = schema_path_for(f"http://ddex.net/xml/ern/{code}", xsd_dir)
        assert path == xsd_dir / code / "release-notification.xsd"
    with pytest.raises(SchemaNotFoundError):
        schema_path_for("http://ddex.net/xml/ern/381", xsd_dir)
    with pytest.raises(SchemaNotFoundError):
        schema_path_for("urn:something:else", xsd_dir)


def test_schema_dir_may_be_one_version_folder(xsd_dir: Path, samples_dir: Path) -> None:
    sample = samples_dir / "daddykev__Samples42_2_Video.xml"
    assert validate_against_schema(sample, xsd_dir / "42") == []
    with pytest.raises(SchemaNotFoundError):  # a 4.3 folder cannot validate a 4.2 message
        validate_against_schema(sample, xsd_dir / "43")


def test_absolute_import_urls_resolve_beside_the_schema(xsd_dir: Path, tmp_path: Path, samples_dir: Path) -> None:
    # 3.8.2 imports http://ddex.net/xml/avs/avs_20161006.xsd: it must come from the copy beside it.
    copy = tmp_path / "382"
    shutil.copytree(xsd_dir / "382", copy)
    assert validate_against_schema(samples_dir / "AudiusProject__01_delivery.xml", tmp_path) == []


def test_missing_import_fails_without_fetching(xsd_dir: Path, tmp_path: Path, samples_dir: Path) -> None:
    copy = tmp_path / "382"
    copy.mkdir()
    shutil.copy(xsd_dir / "382" / "release-notification.xsd", copy)
    started = time.monotonic()
    with pytest.raises(SchemaError):
        validate_against_schema(samples_dir / "AudiusProject__01_delivery.xml", tmp_path)
    assert time.monotonic() - started < 30  # refused locally, not a network timeout


def test_compiled_schemas_are_cached_until_the_file_changes(xsd_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "42"
    shutil.copytree(xsd_dir / "42", copy)
    xsd = copy / "release-notification.xsd"
    first = load_schema(xsd)
    assert load_schema(xsd) is first
    os.utime(xsd, ns=(xsd.stat().st_atime_ns, xsd.stat().st_mtime_ns + 1_000_000_000))
    assert load_schema(xsd) is not first


def test_load_schema_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaNotFoundError):
        load_schema(tmp_path / "nope.xsd")


def test_schema_errors_are_ddex_errors() -> None:
    from ddex_otel.ern.errors import DDEXError

    assert issubclass(schema.SchemaNotFoundError, DDEXError)
    assert issubclass(schema.SchemaValidationError, DDEXError)
