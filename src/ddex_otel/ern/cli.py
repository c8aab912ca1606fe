"""``ddex-otel`` subcommands of the ERN engine: one ``_add_<name>`` + ``_run_<name>`` pair each.

Bad input exits with code 1 and one line on stderr, ``ddex-otel: error: <file>: <message>``, never a
traceback. ``FILE`` may be ``-`` for standard input.

The engine is called through its modules (``parser.parse``, ``streaming.stream``), never through
names bound at import time, so telemetry instrumentation applied later still sees the calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import IO, BinaryIO

from ddex_otel.ern import parser, streaming
from ddex_otel.ern.errors import DDEXError
from ddex_otel.ern.model import Deal, Message, MessageHeader, Party, Release, Resource, StreamStart
from ddex_otel.ern.validation import BUILD_VERSIONS
from ddex_otel.ern.versions import READABLE_VERSIONS
from ddex_otel.outputs import atomic_write, check_writable

#: Inputs at least this big get progress lines on stderr while streaming.
PROGRESS_MIN_BYTES = 32 * 1024 * 1024
PROGRESS_EVERY_S = 1.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ERN subcommands to the top-level ``ddex-otel`` parser."""
    _add_parse(subparsers)
    _add_stream(subparsers)
    _add_build(subparsers)
    _add_validate(subparsers)
    _add_generate(subparsers)


# ----------------------------------------------------------------------------------------- shared


def fail(path: str, exc: BaseException, err: IO[str] | None = None) -> int:
    """Report a bad input as one line on stderr and return exit code 1."""
    if isinstance(exc, OSError) and exc.strerror:
        message = exc.strerror
    else:
        message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"ddex-otel: error: {path}: {message}", file=err or sys.stderr)
    return 1


def _source(path: str) -> str | BinaryIO:
    """The path itself, or stdin's binary buffer for ``-``."""
    return sys.stdin.buffer if path == "-" else path


def _guarded(path: str, action: Callable[[], int]) -> int:
    """Run ``action``; typed engine errors and file errors become the one-line failure."""
    try:
        return action()
    except BrokenPipeError:
        raise  # the reader went away (``| head``): the top-level command handles it quietly
    except (DDEXError, OSError) as exc:
        return fail(path, exc)


# ------------------------------------------------------------------------------------------ parse


def _add_parse(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "parse",
        help="parse an ERN message and print a summary (or its model as JSON)",
        description=f"Parse one DDEX ERN message (ERN {', '.join(READABLE_VERSIONS)}) into the model and "
        "summarise it.",
    )
    p.add_argument("file", metavar="FILE", help="ERN XML file, or - for standard input")
    p.add_argument("--json", action="store_true", help="print the whole model as JSON (Message.to_dict())")
    p.add_argument("--huge-tree", action="store_true", help="lift libxml2's size limits (trusted input only)")
    p.set_defaults(func=_run_parse)


def _run_parse(args: argparse.Namespace) -> int:
    def action() -> int:
        message = parser.parse(_source(args.file), huge_tree=args.huge_tree)
        if args.json:
            json.dump(message.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(summarize(message, args.file))
        return 0

    return _guarded(args.file, action)


def summarize(message: Message, path: str = "") -> str:
    """A readable, plain-text summary of a parsed message."""
    header = message.header
    lines = [
        f"file:        {path}" if path else None,
        f"ERN version: {message.ern_version}",
        f"type:        {message.message_type}",
        f"message id:  {header.message_id or '-'}",
        f"thread id:   {header.thread_id or '-'}" if header.thread_id else None,
        f"sender:      {_party_label(header.sender)}",
        f"recipients:  {', '.join(_party_label(r) for r in header.recipients) or '-'}",
        f"created:     {header.created or '-'}",
        f"control:     {header.control_type}" if header.control_type else None,
        f"counts:      {len(message.releases)} releases, {len(message.resources)} resources, "
        f"{len(message.deals)} deals, {len(message.parties)} parties"
        + (f", {len(message.purged_releases)} purged releases" if message.purged_releases else ""),
    ]
    out = [line for line in lines if line is not None]
    if message.releases:
        out.append("releases:")
        out.extend(_release_line(r) for r in message.releases)
    if message.purged_releases:
        out.append("purged releases:")
        out.extend(_release_line(r) for r in message.purged_releases)
    return "\n".join(out) + "\n"


def _party_label(party: Party | None) -> str:
    if party is None:
        return "-"
    ids = ", ".join(party.party_ids)
    if party.name and ids:
        return f"{party.name} ({ids})"
    return party.name or ids or "-"


def _release_line(release: Release) -> str:
    parts = [
        f"  {release.reference or '-'} {release.kind}",
        release.release_type and f"[{release.release_type}]",
        repr(release.title) if release.title else "(no title)",
        release.display_artist and f"by {release.display_artist}",
        _release_id(release),
        f"{len(release.resource_refs)} track(s)" if release.resource_refs else None,
    ]
    return " ".join(p for p in parts if p)


def _release_id(release: Release) -> str | None:
    """The most telling identifier of a release: ICPN, else GRid, ISRC, a proprietary id."""
    ids = release.ids
    for label, value in (("ICPN", ids.icpn), ("GRid", ids.grid), ("ISRC", ids.isrc), ("catalog", ids.catalog_number)):
        if value:
            return f"{label} {value}"
    return f"id {ids.proprietary[0].value}" if ids.proprietary else None


# ----------------------------------------------------------------------------------------- stream


def _add_stream(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "stream",
        help="read a (huge) ERN message incrementally and print item counts",
        description="Stream one DDEX ERN message with flat memory; counts go to stdout, progress to stderr.",
    )
    p.add_argument("file", metavar="FILE", help="ERN XML file, or - for standard input")
    p.add_argument("--jsonl", action="store_true", help="also print every item as one JSON line")
    p.add_argument("--huge-tree", action="store_true", help="lift libxml2's size limits (trusted input only)")
    p.set_defaults(func=_run_stream)


class _CountingReader:
    """A binary file wrapper counting the bytes read, for progress lines."""

    def __init__(self, raw: BinaryIO, name: str | None) -> None:
        self._raw = raw
        self.name = name
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data


def _run_stream(args: argparse.Namespace) -> int:
    def action() -> int:
        if args.file == "-":
            return _stream_counts(_CountingReader(sys.stdin.buffer, None), total=None, jsonl=args.jsonl, huge=args.huge_tree)
        with open(args.file, "rb") as raw:
            total = os.fstat(raw.fileno()).st_size
            reader = _CountingReader(raw, args.file)
            return _stream_counts(reader, total=total, jsonl=args.jsonl, huge=args.huge_tree)

    return _guarded(args.file, action)


_KIND_NAMES: dict[type, str] = {
    StreamStart: "start",
    MessageHeader: "header",
    Party: "parties",
    Resource: "resources",
    Release: "releases",
    Deal: "deals",
}


def _stream_counts(reader: _CountingReader, *, total: int | None, jsonl: bool, huge: bool) -> int:
    counts: Counter[str] = Counter()
    start: StreamStart | None = None
    header: MessageHeader | None = None
    began = last = time.monotonic()
    show_progress = total is None or total >= PROGRESS_MIN_BYTES
    for item in streaming.stream(reader, huge_tree=huge):
        kind = _KIND_NAMES[type(item)]
        if kind == "releases" and item.kind == "PurgedRelease":  # type: ignore[union-attr]
            kind = "purged releases"
        counts[kind] += 1
        if isinstance(item, StreamStart):
            start = item
        elif isinstance(item, MessageHeader):
            header = item
        if jsonl:
            print(json.dumps({"item": type(item).__name__, **item.to_dict()}, ensure_ascii=False))
        now = time.monotonic()
        if show_progress and now - last >= PROGRESS_EVERY_S:
            last = now
            _progress(reader.count, total, counts, now - began)
    elapsed = time.monotonic() - began
    print(_stream_summary(start, header, counts, reader.count, elapsed), file=sys.stderr if jsonl else sys.stdout)
    return 0


def _progress(done: int, total: int | None, counts: Counter[str], elapsed: float) -> None:
    share = f" ({100 * done / total:.0f}%)" if total else ""
    rate = done / elapsed / 1e6 if elapsed > 0 else 0.0
    print(
        f"ddex-otel: stream: {done / 1e6:.1f} MB read{share}, {rate:.1f} MB/s, "
        f"{counts['releases']} releases, {counts['resources']} resources, {counts['deals']} deals",
        file=sys.stderr,
        flush=True,
    )


def _stream_summary(
    start: StreamStart | None, header: MessageHeader | None, counts: Counter[str], size: int, elapsed: float
) -> str:
    version = start.ern_version if start else "?"
    message_type = start.message_type if start else "?"
    message_id = header.message_id if header and header.message_id else "-"
    rate = size / elapsed / 1e6 if elapsed > 0 else 0.0
    return "\n".join(
        [
            f"ERN version: {version}",
            f"type:        {message_type}",
            f"message id:  {message_id}",
            f"counts:      {counts['releases']} releases, {counts['resources']} resources, "
            f"{counts['deals']} deals, {counts['parties']} parties"
            + (f", {counts['purged releases']} purged releases" if counts["purged releases"] else ""),
            f"read:        {size} bytes in {elapsed:.2f} s ({rate:.1f} MB/s)",
        ]
    )


# ------------------------------------------------------------------- build / validate / generate
# (builder side; the engine modules are imported lazily so ``parse``/``stream`` start as before)


def _add_build(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build",
        help="parse an ERN message and write it again as another ERN version",
        description="Parse FILE, then build it as ERN --version (default 4.3); warnings go to stderr.",
    )
    p.add_argument("file", metavar="FILE", help="ERN XML file, or - for standard input")
    p.add_argument("--version", dest="target_version", default="4.3",
                   help=f"ERN version to write: {', '.join(BUILD_VERSIONS)}")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of standard output (- also means stdout)")
    p.add_argument("--level", choices=("strict", "warn", "off"), default="warn", help="validation level (default warn)")
    p.add_argument("--huge-tree", action="store_true", help="lift libxml2's size limits (trusted input only)")
    p.add_argument("--fail-on-loss", action="store_true",
                   help="exit 1 (and write nothing) when the build cannot carry every element of FILE")
    p.add_argument("--show-losses", action="store_true",
                   help="print one line per element the build cannot carry (default: a summary by place)")
    p.add_argument("--default", dest="defaults", metavar="PATH=VALUE", action="append", type=parse_default,
                   default=[], help="a value for a part the target version requires and FILE lacks, by element "
                   "name: Genre=Pop, Release/Genre=Pop, @LanguageAndScriptCode=en (repeatable; a refusal names "
                   "each missing PATH)")
    p.set_defaults(func=_run_build)


def parse_default(text: str) -> tuple[str, str]:
    """``PATH=VALUE`` → (PATH, VALUE); argparse reports a ValueError as a usage error."""
    path, sep, value = text.partition("=")
    if not sep or not path.strip() or not value:
        raise argparse.ArgumentTypeError(f"expected PATH=VALUE (e.g. Release/Genre=Pop), got {text!r}")
    return path.strip(), value


def _print_findings(path: str, findings: tuple, stream_: IO[str]) -> None:
    for finding in findings:
        print(f"ddex-otel: {finding.severity}: {path}: {finding.path + ': ' if finding.path else ''}"
              f"{finding.message} ({finding.code})", file=stream_)


def _print_losses(path: str, losses: list, total: int, target: str, stream_: IO[str]) -> None:
    """One summary line: how many source values are lost, grouped by where (positions left out)."""
    import re
    from collections import Counter

    lost = sum(size for _, size in losses)  # values
    where = Counter(re.sub(r"\[[^\]]*\]", "", finding.path) for finding, _ in losses)
    places = ", ".join(f"{place} ×{n}" if n > 1 else place for place, n in where.most_common())
    print(f"ddex-otel: warning: {path}: {lost} of {total} values are not carried into ERN {target} "
          f"({len(losses)} places: {places}) (ddex.build.dropped)", file=stream_)


def _writes_file(output: str | None) -> bool:
    return bool(output) and output != "-"


def _run_build(args: argparse.Namespace) -> int:
    from ddex_otel.ern import lossless
    from ddex_otel.ern.builder import build, normalize_version
    from ddex_otel.ern.errors import DDEXValidationError

    if _writes_file(args.output):
        try:
            check_writable(args.output)  # before the parse: a bad -o costs nothing
        except OSError as exc:
            return fail(args.output, exc)

    def action() -> int:
        message = parser.parse(_source(args.file), huge_tree=args.huge_tree)
        try:
            built = build(message, args.target_version, validation=args.level, defaults=dict(args.defaults))
        except DDEXValidationError as exc:
            _print_findings(args.file, tuple(f for f in exc.findings if f.severity == "error"), sys.stderr)
            return 1
        losses = lossless.dropped_elements(message, normalize_version(args.target_version), dict(args.defaults))
        loss_codes = (lossless.DROPPED, lossless.REGENERATED)
        shown = built.findings if args.show_losses else tuple(f for f in built.findings if f.code != lossless.DROPPED)
        _print_findings(args.file, shown, sys.stderr)
        if losses and not args.show_losses:
            _print_losses(args.file, losses, lossless.value_count(message), args.target_version, sys.stderr)
        if args.fail_on_loss and any(f.code in loss_codes for f in built.findings):
            print(f"ddex-otel: error: {args.file}: not written: the build loses content (--fail-on-loss)", file=sys.stderr)
            return 1
        if _writes_file(args.output):
            try:
                with atomic_write(args.output) as out:
                    out.write(built)
            except OSError as exc:  # the output's fault, not the input's: name the output
                return fail(args.output, exc)
        else:
            sys.stdout.buffer.write(built)
            sys.stdout.flush()
        return 0

    return _guarded(args.file, action)


def _add_validate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate",
        help="validate an ERN message (model checks, and the XSD with --schema-dir)",
        description="Print every finding; exit 1 when there is an error.",
    )
    p.add_argument("file", metavar="FILE", help="ERN XML file, or - for standard input")
    p.add_argument("--level", choices=("strict", "warn", "off"), default="warn",
                   help="strict: identifier problems are errors; warn (default): warnings; off: model checks off")
    p.add_argument("--schema-dir", metavar="DIR", help="also validate against the DDEX XSDs in DIR (<DIR>/43/…)")
    p.add_argument("--target", metavar="VERSION", help="also check what building it as this ERN version needs")
    p.add_argument("--huge-tree", action="store_true", help="lift libxml2's size limits (trusted input only)")
    p.set_defaults(func=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    from ddex_otel.ern.builder import normalize_version
    from ddex_otel.ern.schema import validate_against_schema
    from ddex_otel.ern.validation import check

    def action() -> int:
        data = sys.stdin.buffer.read() if args.file == "-" else None
        source = data if data is not None else args.file
        target = normalize_version(args.target) if args.target else None
        report = check(parser.parse(source, huge_tree=args.huge_tree), args.level, target_version=target)
        for finding in report.findings:
            print(finding)
        schema_errors = validate_against_schema(source, args.schema_dir) if args.schema_dir else []
        for line in schema_errors:
            print(f"[error] schema: {line}")
        errors = len(report.errors) + len(schema_errors)
        checked = "model and schema" if args.schema_dir else "model"
        print(f"{args.file}: {errors} error(s), {len(report.warnings)} warning(s) ({checked}, level {args.level})")
        return 1 if errors else 0

    return _guarded(args.file, action)


def _add_generate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="write a synthetic, schema-valid ERN message of a given size or release count",
        description="Stream a synthetic ERN message to OUT (deterministic for a seed). A file is written "
        "whole or not at all: an interrupted run leaves none.",
    )
    p.add_argument("output", metavar="OUT", help="file to write, or - for standard output")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--releases", type=int,
                       help="number of releases (default 1); ERN 4.x allows one main release per message, so "
                       "there it is the number of components of one album (RELEASES × TRACKS tracks, one "
                       "TrackRelease each)")
    group.add_argument("--size", type=parse_size, help="about this many bytes: 500KB, 10MB, 1GB, 1GiB, 12345")
    p.add_argument("--tracks", type=int, default=10, help="tracks per release (default 10)")
    p.add_argument("--version", dest="target_version", default="4.3", help=f"ERN version: {', '.join(BUILD_VERSIONS)}")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=_run_generate)


_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def parse_size(text: str) -> int:
    """``"10MB"`` → 10 000 000, ``"1GiB"`` → 2**30, ``"4096"`` → 4096 (argparse type)."""
    raw = text.strip().upper().replace(" ", "")
    number = raw.rstrip("KMGIB")
    unit = raw[len(number):]
    try:
        value = float(number) * _SIZE_UNITS[unit]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 500KB, 10MB, 1GB)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return int(value)


def _run_generate(args: argparse.Namespace) -> int:
    from ddex_otel.ern.generator import write_message

    began = last = time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if total >= PROGRESS_MIN_BYTES and now - last >= PROGRESS_EVERY_S:
            last = now
            print(f"ddex-otel: generate: {done / 1e6:.1f} of ~{total / 1e6:.0f} MB ({100 * done / total:.0f}%)",
                  file=sys.stderr, flush=True)

    to_stdout = args.output == "-"
    if not to_stdout:
        try:
            check_writable(args.output)
        except OSError as exc:
            return fail(args.output, exc)

    def action() -> int:
        try:
            size = write_message(sys.stdout.buffer if to_stdout else args.output, target_bytes=args.size,
                                 releases=args.releases, tracks_per_release=args.tracks,
                                 version=args.target_version, seed=args.seed, progress=progress)
        except ValueError as exc:
            return fail(args.output, exc)
        if to_stdout:
            sys.stdout.flush()
        elapsed = time.monotonic() - began
        where = "standard output" if to_stdout else args.output
        print(f"wrote {where}: {size} bytes, ERN {args.target_version}, in {elapsed:.2f} s", file=sys.stderr)
        return 0

    return _guarded(args.output, action)

