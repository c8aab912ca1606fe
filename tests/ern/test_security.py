"""Hostile XML is refused by both readers: no entity expansion, no file read, no network access."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ddex_otel.ern import DDEXError, DDEXSecurityError, parse, stream

SECRET = "TOP-SECRET-7f3a9c-do-not-leak"

Reader = Callable[[bytes], object]
READERS: dict[str, Reader] = {"parse": parse, "stream": lambda data: list(stream(data))}


@pytest.fixture(params=sorted(READERS))
def read(request: pytest.FixtureRequest) -> Reader:
    """Each test runs against ``parse`` and ``stream``."""
    return READERS[request.param]


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # http.server's naming
        type(self).requests.append(self.path)
        body = b'<!ENTITY leak "FETCHED">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_origin() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server recording every request: (base URL, requests seen)."""
    handler = type("Recorder", (_Recorder,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _refused(read: Reader, data: bytes) -> DDEXSecurityError:
    with pytest.raises(DDEXSecurityError) as info:
        read(data)
    assert SECRET not in str(info.value)
    assert "\n" not in str(info.value)
    return info.value


def _ddex(body: str = "") -> str:
    return f'<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43">{body}</ern:NewReleaseMessage>'


def test_billion_laughs(read: Reader) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 10)
    )
    doc = f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]>' + _ddex("<MessageHeader>&lol9;</MessageHeader>")
    _refused(read, doc.encode())


def test_quadratic_blowup(read: Reader) -> None:
    big = "A" * 100_000
    doc = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{big}">]>' + _ddex("&a;" * 10_000)
    _refused(read, doc.encode())


def test_entity_expansion_inside_an_attribute(read: Reader) -> None:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY a{i} "{("&a%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 8)
    )
    doc = f'<!DOCTYPE r [{entities}]><r x="&a7;"/>'
    _refused(read, doc.encode())


def test_xxe_local_file(read: Reader, secret_file: Path) -> None:
    doc = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>' + _ddex(
        "<MessageHeader><MessageId>&x;</MessageId></MessageHeader>"
    )
    _refused(read, doc.encode())


def test_xxe_parameter_entity(read: Reader, secret_file: Path) -> None:
    doc = f'<!DOCTYPE r [<!ENTITY % x SYSTEM "{secret_file.as_uri()}"> %x;]>' + _ddex()
    _refused(read, doc.encode())


def test_xxe_over_http_fetches_nothing(read: Reader, http_origin: tuple[str, list[str]]) -> None:
    base, requests = http_origin
    doc = f'<!DOCTYPE r [<!ENTITY x SYSTEM "{base}/entity">]>' + _ddex("<MessageHeader>&x;</MessageHeader>")
    _refused(read, doc.encode())
    assert requests == []


@pytest.mark.parametrize("external_id", ['SYSTEM "{base}/ern.dtd"', 'PUBLIC "-//DDEX//ERN//EN" "{base}/ern.dtd"'])
def test_external_dtd_is_refused_and_never_fetched(
    read: Reader, http_origin: tuple[str, list[str]], external_id: str
) -> None:
    base, requests = http_origin
    doc = f"<!DOCTYPE ern:NewReleaseMessage {external_id.format(base=base)}>" + _ddex()
    _refused(read, doc.encode())
    assert requests == []


def test_external_dtd_file_is_refused(read: Reader, tmp_path: Path, secret_file: Path) -> None:
    dtd = tmp_path / "ext.dtd"
    dtd.write_text(f'<!ENTITY leak SYSTEM "{secret_file.as_uri()}">')
    doc = f'<!DOCTYPE r SYSTEM "{dtd.as_uri()}">' + _ddex("<MessageHeader>&leak;</MessageHeader>")
    _refused(read, doc.encode())


def test_attack_in_utf16_is_refused(read: Reader, secret_file: Path) -> None:
    doc = (
        f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>'
        + _ddex("<MessageHeader>&x;</MessageHeader>")
    )
    _refused(read, doc.encode("utf-16"))


def test_doctype_behind_a_long_comment_is_refused(read: Reader, secret_file: Path) -> None:
    comment = "<!-- " + "<a> padding " * 1000 + " -->"  # > 4 KiB, with start-tag lookalikes
    doc = f'{comment}<!DOCTYPE r [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>' + _ddex(
        "<MessageHeader>&x;</MessageHeader>"
    )
    _refused(read, doc.encode())


def test_schema_location_is_never_fetched(read: Reader, samples_dir: Path, http_origin: tuple[str, list[str]]) -> None:
    base, requests = http_origin
    data = (samples_dir / "daddykev__Samples43_2_Video.xml").read_bytes()
    data = data.replace(b"http://ddex.net/xml/ern/43/release-notification.xsd", f"{base}/schema.xsd".encode())
    assert f"{base}/schema.xsd".encode() in data
    read(data)
    assert requests == []


def test_real_message_with_injected_entity_is_refused(read: Reader, samples_dir: Path, secret_file: Path) -> None:
    data = (samples_dir / "AudiusProject__01_delivery.xml").read_bytes()
    declaration = f'<!DOCTYPE ern:NewReleaseMessage [<!ENTITY x SYSTEM "{secret_file.as_uri()}">]>\n'.encode()
    head, rest = data.split(b"\n", 1)
    hostile = head + b"\n" + declaration + rest.replace(b"MessageID5678", b"&x;")
    _refused(read, hostile)


def test_bare_doctype_is_harmless_and_accepted(samples_dir: Path) -> None:
    data = (samples_dir / "AudiusProject__01_delivery.xml").read_bytes()
    head, rest = data.split(b"\n", 1)
    with_doctype = head + b"\n<!DOCTYPE ern:NewReleaseMessage>\n" + rest
    assert parse(with_doctype) == parse(data)
    assert list(stream(with_doctype)) == list(stream(data))


def test_undeclared_entity_is_just_malformed(read: Reader) -> None:
    with pytest.raises(DDEXError) as info:
        read(_ddex("<MessageHeader>&undeclared;</MessageHeader>").encode())
    assert not isinstance(info.value, DDEXSecurityError)


@pytest.mark.parametrize(
    ("data", "may"),
    [
        (b'<?xml version="1.0"?>\n<ern:X/>', False),
        (b'\xef\xbb\xbf<?xml version="1.0"?><a/>', False),
        (b'  <!-- c <b> --> <?pi x?>\n<a/>', False),
        ('<a/>'.encode("utf-16"), False),
        (b"<!DOCTYPE a><a/>", True),
        (b'<?xml version="1.0"?><!-- <b> --><!DOCTYPE a [<!ENTITY x "y">]><a/>', True),  # start-tag lookalike first
        (b"<!-- " + b"<a> " * 2000 + b" --><!DOCTYPE r><a/>", True),  # prolog longer than the 4 KiB looked at
        (b"garbage", True),
        ("<!DOCTYPE a><a/>".encode("utf-16"), True),
    ],
)
def test_doctype_pre_check_says_no_only_when_a_start_tag_ends_a_plain_prolog(data: bytes, may: bool) -> None:
    """``may_have_doctype`` (run on every input) answers False only when no DOCTYPE can be there."""
    from ddex_otel.ern import safexml

    assert safexml.may_have_doctype(data) is may
