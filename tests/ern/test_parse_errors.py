"""Bad input raises typed, one-line errors (never a bare lxml error, never a crash)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddex_otel.ern import (
    DDEXError,
    EmptyInputError,
    EncodingError,
    MalformedXMLError,
    NotDDEXError,
    TruncatedInputError,
    UnsupportedVersionError,
    parse,
    stream,
)
from ddex_otel.ern.versions import READABLE_VERSIONS, SUPPORTED_VERSIONS, namespace_for, version_from_namespace


@pytest.fixture(scope="module")
def audio43(samples_dir: Path) -> bytes:
    return (samples_dir / "daddykev__Samples43_1_Audio.xml").read_bytes()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text.strip() == text and text
    return text


@pytest.mark.parametrize("data", [b"", b"   \n\t  ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n", " \n".encode("utf-16"), ""])
def test_empty_input(data: bytes | str) -> None:
    with pytest.raises(EmptyInputError) as info:
        parse(data)
    _one_line(info.value)


def test_malformed_xml_reports_line_and_column(audio43: bytes) -> None:
    # line 8 of the sample is "      <MessageId>Test1.1</MessageId>"
    broken = audio43.replace(b"</MessageId>", b"</MessageIdX>", 1)
    with pytest.raises(MalformedXMLError) as info:
        parse(broken)
    error = info.value
    assert not isinstance(error, TruncatedInputError)
    assert error.line == 8
    assert error.column is not None and error.column > 20
    assert "MessageIdX" in _one_line(error) and "line 8" in str(error)


def test_unescaped_ampersand_is_malformed_not_truncated(audio43: bytes) -> None:
    with pytest.raises(MalformedXMLError) as info:
        parse(audio43.replace(b"Sony DADC", b"Sony & DADC"))
    assert not isinstance(info.value, TruncatedInputError)
    assert info.value.line == 18


def test_wrong_closing_root_tag_is_malformed_not_truncated(audio43: bytes) -> None:
    with pytest.raises(MalformedXMLError) as info:
        parse(audio43.replace(b"</ern:NewReleaseMessage>", b"</ern:NewReleaseMessag>"))
    assert not isinstance(info.value, TruncatedInputError)


def test_content_after_the_root_is_malformed(audio43: bytes) -> None:
    with pytest.raises(MalformedXMLError) as info:
        parse(audio43 + b"<again/>")
    assert not isinstance(info.value, TruncatedInputError)


def test_sample_cut_in_half_is_truncated(audio43: bytes) -> None:
    with pytest.raises(TruncatedInputError) as info:
        parse(audio43[: len(audio43) // 2])
    assert info.value.line is not None and info.value.line > 700  # the cut is near line 797
    assert info.value.column is not None
    _one_line(info.value)


def test_every_cut_of_every_sample_is_truncated(sample_path: Path) -> None:
    data = sample_path.read_bytes()
    root_start = data.index(b"Message")
    rng = random.Random(sample_path.name)
    for cut in sorted(rng.sample(range(root_start + 20, len(data.rstrip()) - 1), 25)):
        with pytest.raises(TruncatedInputError):
            parse(data[:cut])


@pytest.mark.parametrize(
    "xml",
    [
        b"<html><body/></html>",
        b'<a xmlns="urn:example:other"/>',
        b'<m:NewReleaseMessage xmlns:m="http://ddex.net/xml/mead/10"/>',
        b'<ern:CatalogListMessage xmlns:ern="http://ddex.net/xml/ern/382"/>',
    ],
)
def test_not_ddex(xml: bytes) -> None:
    with pytest.raises(NotDDEXError) as info:
        parse(xml)
    _one_line(info.value)


def test_unsupported_version_names_found_and_supported() -> None:
    with pytest.raises(UnsupportedVersionError) as info:
        parse(b'<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/99"/>')
    error = info.value
    assert error.found == "99"
    assert "4.3" in error.supported and "3.8.2" in error.supported
    assert "'99'" in str(error) and "4.3" in str(error)


def test_latin1_bytes_declared_utf8_are_an_encoding_error_with_position(audio43: bytes) -> None:
    # "Sony DADC" is on line 18, column 23 onwards; é in Latin-1 is the lone byte 0xE9.
    with pytest.raises(EncodingError) as info:
        parse(audio43.replace(b"Sony DADC", b"Sony D\xe9DC"))
    assert "line 18" in _one_line(info.value)


def test_unknown_declared_encoding_is_an_encoding_error() -> None:
    with pytest.raises(EncodingError):
        parse(b'<?xml version="1.0" encoding="X-NO-SUCH"?><a/>')


def test_nonexistent_path_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        parse(tmp_path / "missing.xml")
    with pytest.raises(FileNotFoundError):
        parse(str(tmp_path / "missing.xml"))


def test_unsupported_source_type() -> None:
    with pytest.raises(TypeError):
        parse(12345)  # type: ignore[arg-type]


def test_text_too_large_needs_huge_tree() -> None:
    """libxml2's limits stay on by default; ``huge_tree=True`` lifts them for trusted input."""
    title = "x" * (11 * 1024 * 1024)  # above libxml2's 10 MB text-node limit
    xml = (
        '<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43"><ReleaseList><Release>'
        f"<ReleaseReference>R0</ReleaseReference><DisplayTitleText>{title}</DisplayTitleText>"
        "</Release></ReleaseList></ern:NewReleaseMessage>"
    ).encode()
    with pytest.raises(MalformedXMLError):
        parse(xml)
    assert len(parse(xml, huge_tree=True).releases[0].title) == len(title)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_ddex_errors(data: bytes) -> None:
    try:
        parse(data)
    except DDEXError as exc:
        _one_line(exc)


_XMLISH = st.lists(
    st.sampled_from(["<", ">", "/", "&", ";", "a", "ern:", "=", '"', " ", "\n", "<!--", "-->", "<?", "?>",
                     "<![CDATA[", "]]>", "&amp;", "\u00e9", "\x00", "<!DOCTYPE", "[", "]"]),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_XMLISH)
def test_random_markup_raises_only_ddex_errors(text: str) -> None:
    prefix = '<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43"><MessageHeader>'
    try:
        parse((prefix + text).encode("utf-8", "surrogatepass"))
    except DDEXError as exc:
        _one_line(exc)


def test_versions_map_both_ways() -> None:
    for version in READABLE_VERSIONS:
        assert version_from_namespace(namespace_for(version)) == version
    assert namespace_for("4.3") == "http://ddex.net/xml/ern/43"
    assert namespace_for("3.8.2") == "http://ddex.net/xml/ern/382"
    assert namespace_for("431") == "http://ddex.net/xml/ern/431"
    assert set(SUPPORTED_VERSIONS) <= set(READABLE_VERSIONS)
    with pytest.raises(UnsupportedVersionError):
        namespace_for("5.0")
    with pytest.raises(NotDDEXError):
        version_from_namespace("http://example.com/ern/43")


def test_truncated_utf16_is_truncated(audio43: bytes) -> None:
    text = audio43.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    data = text.encode("utf-16")
    with pytest.raises(TruncatedInputError):
        parse(data[: len(data) // 2])
    with pytest.raises(TruncatedInputError):
        list(stream(data[: len(data) // 3 * 2]))


def test_successive_errors_on_one_thread_report_their_own_document(audio43: bytes) -> None:
    """``parse`` reuses one parser per thread: each error still describes only its own document."""
    ampersand = audio43.replace(b"Sony DADC", b"Sony & DADC")
    cut = audio43[: len(audio43) // 2]
    for _ in range(3):
        with pytest.raises(MalformedXMLError) as first:
            parse(ampersand)
        assert first.value.line == 18 and not isinstance(first.value, TruncatedInputError)
        with pytest.raises(TruncatedInputError) as second:
            parse(cut)
        assert second.value.line is not None and second.value.line > 700
        assert parse(audio43).header.message_id == "Test1.1"  # a good document after bad ones
        with pytest.raises(EmptyInputError):
            parse(b"  ")


def test_each_thread_parses_with_its_own_parser(audio43: bytes) -> None:
    import threading

    from ddex_otel.ern import safexml

    mine = safexml.thread_parser()
    assert safexml.thread_parser() is mine and safexml.thread_parser(huge_tree=True) is not mine
    seen: list[object] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            seen.append(safexml.thread_parser())
            for _ in range(20):
                assert parse(audio43).releases[0].title == "Yume no Hajmari"
        except BaseException as exc:  # noqa: BLE001 - reported on the main thread, where the test fails
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(seen) == 3
    assert len({id(p) for p in seen} | {id(mine)}) == 4
