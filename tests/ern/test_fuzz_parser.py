"""Parser fuzzing: mutated real samples never escape as anything but a DDEXError, never hang, never blow memory.

Mutations of the DDEX samples (hypothesis): truncation, byte flips, inserted junk, encoding swaps
(with and without a matching XML declaration), deep nesting, huge attributes and text, duplicated
sections. Each input goes through ``ern.parse`` and through ``ern.stream`` to the end. Bounds: every
input within ``PER_INPUT_S`` seconds, the process's peak RSS within ``MEMORY_GROWTH`` of the start.
The number of inputs tried is printed and recorded (``fuzz_inputs`` in the junit properties).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddex_otel import ern
from ddex_otel.ern.errors import DDEXError

EXAMPLES = 500  # per mutation family: ~2 500 inputs in ~20 s on 2 cores (CI budget: 60 s)
PER_INPUT_S = 3.0
MEMORY_GROWTH = 768 * 1024 * 1024
ENCODINGS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252", "ascii", "shift_jis", "ebcdic-cp-be")


@pytest.fixture(scope="module")
def samples(sample_paths: list[Path]) -> list[bytes]:
    return [p.read_bytes() for p in sample_paths]


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _exercise(data: bytes) -> None:
    """Parse and stream one input; only DDEXError may escape, within the time bound."""
    started = time.monotonic()
    for run in (lambda: ern.parse(data), lambda: sum(1 for _ in ern.stream(data))):
        try:
            run()
        except DDEXError:
            pass
    took = time.monotonic() - started
    assert took < PER_INPUT_S, f"{took:.1f} s for a {len(data)}-byte input"


@st.composite
def mutated(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    data = draw(st.sampled_from(samples))
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "encoding", "nest", "huge-attr", "huge-text",
                                 "duplicate", "combo"]))
    size = len(data)
    if kind in ("truncate", "combo"):
        data = data[: draw(st.integers(0, size))]
    if kind in ("flip", "combo") and data:
        buf = bytearray(data)
        for _ in range(draw(st.integers(1, 20))):
            i = draw(st.integers(0, len(buf) - 1))
            buf[i] ^= draw(st.integers(1, 255))
        data = bytes(buf)
    if kind == "insert":
        at = draw(st.integers(0, size))
        data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    if kind == "encoding":
        text = data.decode("utf-8", errors="replace")
        encoding = draw(st.sampled_from(ENCODINGS))
        if draw(st.booleans()):
            text = text.replace('encoding="UTF-8"', f'encoding="{encoding}"', 1)
        data = text.encode(encoding, errors="replace")
    if kind == "nest":
        depth = draw(st.sampled_from([300, 5_000, 100_000]))
        at = data.find(b"<MessageHeader>")
        at = at if at >= 0 else size // 2
        data = data[:at] + b"<a>" * depth + b"</a>" * depth + data[at:]
    if kind == "huge-attr":
        length = draw(st.sampled_from([10_000, 1_000_000, 12_000_000]))
        at = data.find(b">", data.find(b"<MessageId") if b"<MessageId" in data else 0)
        data = data[:at] + b' x="' + b"A" * length + b'"' + data[at:]
    if kind == "huge-text":
        length = draw(st.sampled_from([100_000, 12_000_000]))
        data = data.replace(b"</MessageId>", b"A" * length + b"</MessageId>", 1)
    if kind == "duplicate":
        start = draw(st.integers(0, size))
        end = draw(st.integers(start, min(size, start + 5_000)))
        data = data[:end] + data[start:end] * draw(st.integers(1, 50)) + data[end:]
    return data


def test_mutated_samples_raise_only_ddex_errors(samples: list[bytes], record_property) -> None:
    tried = 0
    rss_before = _peak_rss()

    @settings(max_examples=EXAMPLES * 4, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(data=mutated(samples))
    def run(data: bytes) -> None:
        nonlocal tried
        tried += 1
        _exercise(data)

    run()
    growth = _peak_rss() - rss_before
    record_property("fuzz_inputs", tried)
    print(f"\nfuzz: {tried} mutated inputs, peak RSS growth {growth / 2**20:.0f} MiB")
    assert tried >= EXAMPLES
    assert growth < MEMORY_GROWTH, f"peak RSS grew by {growth / 2**20:.0f} MiB"


def test_random_bytes_raise_only_ddex_errors(record_property) -> None:
    tried = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True)
    @given(data=st.one_of(st.binary(max_size=2048),
                          st.text(max_size=512).map(lambda t: ("<?xml version='1.0'?><" + t).encode())))
    def run(data: bytes) -> None:
        nonlocal tried
        tried += 1
        _exercise(data)

    run()
    record_property("fuzz_inputs", tried)
    print(f"\nfuzz: {tried} random inputs")
    assert tried >= EXAMPLES // 2
