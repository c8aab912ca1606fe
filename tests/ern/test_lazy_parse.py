"""``parse`` fills Resources, Releases and Deals on first read: same model as an eager read, invisibly.

For 4.x the parties, resources, releases and deals are lazy (the header and 3.x messages are eager).
The core proof is field-by-field equality (types included) between ``parse`` and
``extract_message(..., lazy=False)`` — the eager extraction every object used to go through — on
every sample, on generated messages and on hypothesis mutations of real samples (odd text and
attribute values, removed / duplicated / reordered elements). The mutations also prove that
extraction never raises: a lazy read cannot turn into a late error on attribute access.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import signal
import sys
import threading
import time
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from ddex_otel.ern import Deal, Message, Release, Resource, extract, lazy, parse, safexml
from ddex_otel.ern.errors import DDEXError
from ddex_otel.ern.generator import generate_message
from ddex_otel.ern.lazy import is_pending
from ddex_otel.ern.versions import is_legacy

SMALL_4X = (
    "daddykev__Samples43_2_Video.xml",
    "daddykev__Samples43_5_SimpleVideoSingle.xml",
    "daddykev__Samples43_8_DjMix.xml",
    "daddykev__Samples42_Variant_Classical.xml",
    "daddykev__Samples43_7_LongformMusicalWorkVideo.xml",
)


def eager_parse(data: bytes) -> Message:
    """``parse`` as it was before laziness: every field of every object extracted now."""
    root = safexml.parse_xml(data, huge_tree=True)
    return lazy.extract_message(root, *extract.detect_version(root), lazy=False)


def _path(el: Any) -> str | None:
    return None if el is None else el.getroottree().getpath(el)


def assert_same(lazy: Any, eager: Any, where: str = "message") -> None:
    """Equal value by value, with the same types all the way down, and sources at the same place.

    (An unfilled lazy object is of a subclass of its model class; once read, of the class itself.)"""
    assert isinstance(lazy, type(eager)), where
    if dataclasses.is_dataclass(eager):
        for f in dataclasses.fields(eager):
            if f.name == "_source":
                assert _path(lazy._source) == _path(eager._source), f"{where}._source"
            else:
                assert_same(getattr(lazy, f.name), getattr(eager, f.name), f"{where}.{f.name}")
        assert type(lazy) is type(eager), where  # filled by the reads above
    elif isinstance(eager, tuple):
        assert len(lazy) == len(eager), where
        for i, (a, b) in enumerate(zip(lazy, eager, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert lazy == eager, where


def lazy_objects(message: Message) -> list[Any]:
    """What ``parse`` makes lazily for 4.x."""
    return [*message.parties, *message.resources, *message.releases, *message.deals]


def check_equal(data: bytes) -> Message:
    """``parse(data)`` equals the eager read field by field, and is lazy for 4.x until read."""
    lazy = parse(data, huge_tree=True)
    eager = eager_parse(data)
    objects = lazy_objects(lazy)
    if is_legacy(lazy.ern_version):
        assert not any(map(is_pending, objects)), "3.x messages are read eagerly"
    else:
        assert all(map(is_pending, objects)), "4.x: nothing read before the first access"
    assert_same(lazy, eager)
    assert not any(map(is_pending, objects))
    assert lazy == eager and hash(lazy.resources) == hash(eager.resources)
    assert lazy.to_dict() == eager.to_dict()
    return lazy


# ------------------------------------------------------------------------------ equality proofs


def test_every_sample_reads_the_same_lazily(sample_path: Path) -> None:
    check_equal(sample_path.read_bytes())


@pytest.mark.parametrize("version", ["4.3", "4.2", "4.1.1", "3.8.2"])
def test_generated_messages_read_the_same_lazily(version: str) -> None:
    message = check_equal(generate_message(releases=3, tracks_per_release=12, version=version, seed=7))
    assert len(message.resources) == 36


def test_namespaced_children_still_load_lazily(samples_dir: Path) -> None:
    """Namespace-stripped documents keep no ``_source``, but their objects still fill from the element."""
    text = (samples_dir / "daddykev__Samples43_3_MixedMedia.xml").read_text("utf-8")
    uri = "http://ddex.net/xml/ern/43"
    qualified = text.replace("<ern:NewReleaseMessage", f'<NewReleaseMessage xmlns="{uri}"', 1)
    qualified = qualified.replace("</ern:NewReleaseMessage>", "</NewReleaseMessage>").encode("utf-8")
    message = check_equal(qualified)
    assert message._source is None and all(o._source is None for o in lazy_objects(message))
    assert message == parse(text)


def test_party_list_after_the_items_resolves_as_an_eager_read(samples_dir: Path) -> None:
    """A PartyList placed after the lists (schema-invalid) resolves names as an eager read would: not at all."""
    root = etree.fromstring((samples_dir / "daddykev__Samples43_1_Audio.xml").read_bytes())
    party_list = next(s for s in root if s.tag == "PartyList")
    root.append(party_list)  # moved to the end
    message = check_equal(etree.tostring(root))
    contributors = [c for r in message.resources for c in r.contributors]
    assert message.parties and contributors and all(c.name is None for c in contributors)
    assert message.releases[0].label is None  # in document order it names "EMI MUSIC JAPAN INC."
    assert parse(_base(samples_dir, "daddykev__Samples43_1_Audio.xml")).releases[0].label == "EMI MUSIC JAPAN INC."


# ----------------------------------------------------------------- mutations: same, never raises

_BASES: dict[str, bytes] = {}


def _base(samples_dir: Path, name: str) -> bytes:
    if name not in _BASES:
        _BASES[name] = (samples_dir / name).read_bytes()
    return _BASES[name]


_odd_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "true", "false", "Worldwide", "UserDefined", "DisplayTitle", "²", "٣", "-1", "0",
                     "PT3M20S", "P1DT0.5S", "PT", "P0Y0M0DT3M20S"]),
    st.integers(min_value=300, max_value=5000).map(lambda n: "9" * n),
    st.integers(min_value=300, max_value=5000).map(lambda n: f"PT{'9' * n}S"),
    st.integers(min_value=300, max_value=5000).map(lambda n: f"P{'9' * n}DT0.5S"),
)
_ATTRIBUTES = ("SequenceNumber", "IsDefault", "ApplicableTerritoryCode", "LanguageAndScriptCode", "Namespace",
               "UserDefinedValue", "TitleType", "CurrencyCode")
# Elements the extraction reads (None: any element), so odd values land where they are parsed.
_TARGETS = st.one_of(st.none(), st.sampled_from([
    "Duration", "SequenceNumber", "ResourceReference", "ReleaseReference", "TitleText", "DisplayTitleText",
    "DisplayTitle", "DisplayArtistName", "PartyReference", "ContributorPartyReference", "Contributor",
    "ReleaseLabelReference", "Role", "TerritoryCode", "StartDate", "ISRC", "ICPN", "ProprietaryId", "PLineText", "Year",
    "ReleaseResourceReference", "DealReleaseReference", "FileName", "URI", "HashSumValue", "BitRate", "PriceCode",
    "Title", "ResourceContributor", "ResourceContributorRole", "FullName", "Type", "ReleaseType", "Genre",
]))
_mutation = st.one_of(
    st.tuples(st.just("text"), _TARGETS, st.integers(min_value=0), _odd_text),
    st.tuples(st.just("attr"), _TARGETS, st.integers(min_value=0), st.tuples(st.sampled_from(_ATTRIBUTES), _odd_text)),
    st.tuples(st.just("remove"), _TARGETS, st.integers(min_value=0), st.none()),
    st.tuples(st.just("duplicate"), _TARGETS, st.integers(min_value=0), st.none()),
    st.tuples(st.just("section_last"), st.none(), st.integers(min_value=0), st.none()),
)


def _xml_safe(text: str) -> str:
    return "".join(c for c in text if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd"))


def _mutate(data: bytes, mutations: list[tuple[str, str | None, int, Any]]) -> bytes:
    root = etree.fromstring(data)
    for kind, tag, index, arg in mutations:
        if kind == "section_last":
            sections = list(root)
            if sections:
                root.append(sections[index % len(sections)])
            continue
        elements = [e for e in root.iter() if isinstance(e.tag, str) and e is not root]
        elements = [e for e in elements if e.tag == tag] or elements
        el = elements[index % len(elements)]
        if kind == "text":
            el.text = _xml_safe(arg)
        elif kind == "attr":
            el.set(arg[0], _xml_safe(arg[1]))
        elif kind == "remove":
            el.getparent().remove(el)
        elif kind == "duplicate":
            el.addnext(copy.deepcopy(el))
    return etree.tostring(root)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(name=st.sampled_from(SMALL_4X + ("daddykev__Samples43_1_Audio.xml", "AudiusProject__01_delivery.xml",
                                        "miqwit__001_audioalbum_complete.xml")),
       mutations=st.lists(_mutation, min_size=1, max_size=6))
def test_mutated_samples_read_the_same_lazily_and_never_raise_late(samples_dir: Path, name: str,
                                                                   mutations: list[tuple[str, str | None, int, Any]]) -> None:
    data = _mutate(_base(samples_dir, name), mutations)
    try:
        eager = eager_parse(data)  # a full extraction: only parse/detect errors (DDEXError) may come out
    except DDEXError:
        with pytest.raises(DDEXError):
            parse(data, huge_tree=True)
        return
    assert isinstance(eager, Message)
    check_equal(data)  # every field of every lazy object read: nothing raises on access


# ---------------------------------------------------------------------------- invisible to users


@pytest.fixture()
def audio(samples_dir: Path) -> bytes:
    return (samples_dir / "daddykev__Samples43_1_Audio.xml").read_bytes()


def test_what_telemetry_reads_fills_nothing(audio: bytes) -> None:
    """Counts, version, type, header and ``_source`` (what telemetry and lossless read) leave every object unread."""
    message = parse(audio)
    assert (len(message.releases), len(message.resources), len(message.deals), len(message.parties)) == (22, 22, 3, 2)
    assert message.ern_version == "4.3" and message.message_type == "NewReleaseMessage"
    assert message.header.message_id == "Test1.1" and message.header.sender.party_ids
    assert not is_pending(message.header) and message.header._source is not None
    assert all(o._source is not None for o in lazy_objects(message))
    assert message.deals[0].release_refs  # set when made: no fill either
    assert all(map(is_pending, lazy_objects(message)))


def test_a_release_fills_the_parties_it_resolves_labels_with(audio: bytes) -> None:
    message = parse(audio)
    assert message.releases[0].label is not None
    assert not any(map(is_pending, message.parties))  # the party index was built from them
    assert all(map(is_pending, message.resources))


def test_one_field_fills_only_its_object(audio: bytes) -> None:
    message = parse(audio)
    assert message.resources[3].title is not None
    assert [is_pending(r) for r in message.resources[2:5]] == [True, False, True]


def test_dataclass_protocols_fill_transparently(audio: bytes) -> None:
    eager = eager_parse(audio)
    for name, use in [
        ("repr", repr),
        ("hash", hash),
        ("to_dict", lambda o: o.to_dict()),
        ("asdict", lambda o: {k: v for k, v in dataclasses.asdict(o).items() if not k.startswith("_")}),
        ("astuple", lambda o: dataclasses.astuple(o)[:-2]),  # _source, _parsed last
        ("replace", lambda o: dataclasses.replace(o)),
        ("copy", copy.copy),
        ("deepcopy", copy.deepcopy),
    ]:
        lazy = parse(audio)
        for i, (a, b) in enumerate(zip(lazy_objects(lazy), lazy_objects(eager), strict=True)):
            assert use(a) == use(b), f"{name} of object {i}"
            assert not is_pending(a)


def test_replace_and_copy_keep_the_source(audio: bytes) -> None:
    resource = parse(audio).resources[0]
    source = resource._source
    edited = dataclasses.replace(resource, title="Edited")
    assert edited._source is source and edited.title == "Edited" and edited.reference == resource.reference
    assert copy.copy(parse(audio).resources[0])._source is not None


def test_pickling_behaves_as_an_eager_message(audio: bytes) -> None:
    """A parsed object keeps its lxml element, which does not pickle: the same error lazily or not;
    a source-less copy (as ``stream`` makes) pickles and equals the original."""
    for message in (parse(audio), eager_parse(audio)):
        with pytest.raises(TypeError, match="pickle"):
            pickle.dumps(message.resources[0])
    lazy = parse(audio).resources[0]
    detached = dataclasses.replace(lazy, _source=None)
    assert pickle.loads(pickle.dumps(detached)) == lazy


def test_hand_made_objects_never_load() -> None:
    """Objects made by their constructor have no loader: an unknown attribute is a plain AttributeError."""
    for obj in (Resource(kind="SoundRecording", reference="A1"), Release(kind="Release", reference="R1"), Deal()):
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            obj.nope  # noqa: B018
        with pytest.raises(AttributeError):
            obj._load  # noqa: B018
        assert not is_pending(obj)


def test_unknown_attribute_of_a_pending_object_does_not_fill(audio: bytes) -> None:
    resource = parse(audio).resources[0]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        resource.nope  # noqa: B018
    assert is_pending(resource)


def test_concurrent_first_reads_agree(audio: bytes) -> None:
    """Threads racing on the first reads of the same objects all see the eager values."""
    eager = eager_parse(audio)
    expected = [o.to_dict() for o in lazy_objects(eager)]

    def read(order: int, objects: list[Any], barrier: threading.Barrier,
             results: list[list[dict[str, Any]] | BaseException]) -> None:
        try:
            barrier.wait()
            mine = objects if order % 2 else list(reversed(objects))
            got = {id(o): o.to_dict() for o in mine}
            results.append([got[id(o)] for o in objects])
        except BaseException as exc:  # noqa: BLE001 - reported below, on the main thread
            results.append(exc)

    for _ in range(5):
        message = parse(audio)
        objects = lazy_objects(message)
        barrier = threading.Barrier(4, timeout=10)
        results: list[list[dict[str, Any]] | BaseException] = []
        threads = [threading.Thread(target=read, args=(n, objects, barrier, results)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(results) == 4 and all(r == expected for r in results), results[:1]
        assert message == eager


def test_a_read_during_an_in_place_fill_waits_for_it(audio: bytes) -> None:
    """The fill writes the fields of the very object being read (``extract.fast_constructor``'s
    ``_into``, the object meanwhile of a class with plain assignment): another thread reading it at
    that moment waits for the fill (``lazy.fill`` holds ``extract.FILLING``) and sees the value,
    never a missing field. The read is started from inside the fill, opcode by opcode (a tracer)."""
    resource = parse(audio).resources[0]
    expected = eager_parse(audio).resources[0].title
    got: list[Any] = []
    readers: list[threading.Thread] = []

    def read() -> None:
        try:
            got.append(resource.title)
        except AttributeError as exc:
            got.append(exc)

    def opcodes(frame: Any, event: str, _arg: Any) -> Any:
        if event == "opcode" and not readers and "being built" in type(resource).__qualname__:
            readers.append(threading.Thread(target=read))
            readers[0].start()
            readers[0].join(timeout=0.2)  # it finishes now only if it does not wait for the fill
        return opcodes

    def calls(frame: Any, event: str, _arg: Any) -> Any:
        if event == "call" and frame.f_code.co_name == "make" and frame.f_locals.get("_into") is resource:
            frame.f_trace_opcodes = True
            return opcodes
        return None

    sys.settrace(calls)
    try:
        resource.kind  # noqa: B018 - the first read: fills it
    finally:
        sys.settrace(None)
    assert readers, "the tracer never saw the object mid-fill"
    readers[0].join(timeout=10)
    assert got == [expected]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_fills_can_fill(audio: bytes) -> None:
    """A child forked while another thread holds ``extract.FILLING`` gets a new lock (that thread
    does not exist in the child, so the inherited lock would never be released)."""
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        with extract.FILLING:
            held.set()
            done.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        pid = os.fork()
        if pid == 0:  # the child: fill an object, report by exit status
            code = 1
            try:
                code = 0 if parse(audio).resources[0].title else 2
            finally:
                os._exit(code)
        deadline = time.monotonic() + 20
        while (status := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if status[0] == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on its first fill")
        assert os.waitstatus_to_exitcode(status[1]) == 0
    finally:
        done.set()
        holder.join()


_HUGE = "9" * 400
_HAZARDS = [  # values that made extraction raise before laziness (OverflowError / ValueError out of parse)
    ("text", "Duration", f"PT{_HUGE}S"),
    ("text", "Duration", f"P{_HUGE}D"),
    ("text", "Duration", f"PT{'9' * 5000}S"),
    ("attr", "Contributor", ("SequenceNumber", "²")),
    ("attr", "Contributor", ("SequenceNumber", "9" * 5000)),
    ("text", "SequenceNumber", "9" * 5000),
]


@pytest.mark.parametrize(("kind", "tag", "value"), _HAZARDS, ids=[f"{k}-{t}-{i}" for i, (k, t, _) in enumerate(_HAZARDS)])
def test_extraction_never_raises_on_out_of_range_numbers(samples_dir: Path, kind: str, tag: str, value: Any) -> None:
    """Numbers too big for a float or int (or digits int() refuses) read as None instead of raising."""
    changed = 0
    for name in ("daddykev__Samples43_1_Audio.xml", "daddykev__Samples43_2_Video.xml", "daddykev__Samples42_1_Audio.xml"):
        root = etree.fromstring(_base(samples_dir, name))
        targets = list(root.iter(tag))
        for el in targets:
            el.set(*value) if kind == "attr" else setattr(el, "text", value)
        changed += len(targets)
        message = check_equal(etree.tostring(root))
        if tag == "Duration":
            assert all(r.duration is None for r in message.resources if r._source.find("Duration") is not None)
        if tag == "Contributor":
            assert all(c.sequence is None for r in message.resources for c in r.contributors)
    assert changed, f"no sample has a {tag}"


def test_a_read_object_becomes_its_model_class_proper(audio: bytes) -> None:
    """Only unfilled objects are of the reading subclass: filled ones read attributes at full speed."""
    from ddex_otel.ern.model import Resource

    resource = parse(audio).resources[0]
    assert isinstance(resource, Resource) and type(resource) is not Resource and is_pending(resource)
    assert resource.reference
    assert type(resource) is Resource and not is_pending(resource)
    assert not hasattr(Resource, "__getattr__")  # would slow every read of every model object


# ------------------------------------------------------------------------------ field types


def _fits(value: Any, hint: Any) -> bool:
    """``value`` matches the model's annotation ``hint`` (unions, tuples of a type, plain classes)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return isinstance(value, tuple) and all(_fits(v, item) for v in value)
    if hint is Any or origin is not None:  # (other generics: the container alone is not checked)
        return True
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float))
    return isinstance(value, hint) if isinstance(hint, type) else True


def _check_fields(obj: Any, seen: set[int]) -> None:
    """Every field of ``obj`` and of the model objects in it has a value of its annotated type."""
    if id(obj) in seen or not dataclasses.is_dataclass(obj):
        return
    seen.add(id(obj))
    hints = typing.get_type_hints(type(obj))
    for field in dataclasses.fields(obj):
        if field.name.startswith("_"):
            continue
        value = getattr(obj, field.name)
        assert _fits(value, hints[field.name]), f"{type(obj).__name__}.{field.name} = {value!r}"
        for inner in value if isinstance(value, tuple) else (value,):
            _check_fields(inner, seen)


def test_every_field_read_has_its_annotated_type(sample_path: Path) -> None:
    """Extraction passes the model's fields by position (``extract.fast_constructor``): a field put in
    another's place would show here as a value of the wrong type."""
    message = parse(sample_path.read_bytes())
    seen: set[int] = set()
    for obj in (*message.parties, *message.resources, *message.releases, *message.deals):
        _check_fields(obj, seen)
    assert seen or not (message.resources or message.releases), "nothing was checked"
