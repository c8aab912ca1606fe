"""``parse``'s "extract" stage: the Message of a parsed root, its objects made with their element
and filled on first read.

Reading every field of every object is most of what ``parse`` would cost (several times libxml2's
own parse); most callers read a few fields of a few objects. So ``parse`` makes each Party, Resource,
Release and Deal with only its element here, and the first read of any field runs the ordinary
extraction of that one element (``extract.extract_party`` / ``extract_resource_4x`` / ``extract_release_4x`` /
``extract_deal``: exactly what an eager read runs), writing every field straight into the object (see
LAZY in ``model``). The header stays eager: telemetry reads it for every message, and it is one
small object. ERN 4.x only: a 3.x message gathers its parties while reading
every resource and release, so it is read eagerly.

What an eager read would have seen is pinned at creation: Resources and Releases resolve party
names (labels, contributors) against the parties of the PartyLists met *before* their section, as
an eager read does (``Parties``; its index is built from those parties on first use), and Deals
get their ReleaseDeal's references.

``extract_message`` walks the root's sections once and assembles the Message (``lazy=False`` and
3.x: ``extract.extract_all``, every object read now); it is a module-level function called through
this module's globals, so telemetry can wrap it from outside (see ``parser``'s stage contract).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeAlias

from lxml import etree

from ddex_otel.ern import extract
from ddex_otel.ern.extract import (
    Context,
    building_class,
    extract_all,
    extract_deal,
    extract_header,
    extract_party,
    extract_purged_release,
    extract_release_4x,
    extract_resource_4x,
    new_message,
    release_deal_parts,
    set_source,
    unqualify_children,
)
from ddex_otel.ern.model import Deal, LazyModel, Message, MessageHeader, Party, Release, Resource
from ddex_otel.ern.versions import is_legacy

Element: TypeAlias = etree._Element

_new: Callable[[type], Any] = object.__new__
_set_load = LazyModel.__dict__["_load"].__set__
_get_load = LazyModel.__dict__["_load"].__get__
_set_class = object.__setattr__  # (obj, "__class__", cls): past the frozen dataclass's __setattr__


class _Pending:
    """What an unfilled lazy object does differently (mixed into one subclass per model class).

    The first read of any field (each is a property here, see ``_PendingType``; or ``==``, ``hash``,
    ``repr``, copy and pickle, which read them all) fills the object with the ordinary extraction,
    then makes it an instance of its model class proper (same slots, so ``__class__`` can be set),
    where reads are as fast as on any model object.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        fill(self)
        return self == other  # the model class's own __eq__ now

    def __hash__(self) -> int:
        fill(self)
        return hash(self)

    def __repr__(self) -> str:
        fill(self)
        return repr(self)

    def __reduce_ex__(self, protocol: Any) -> Any:  # copy, deepcopy and pickle: as the model class
        fill(self)
        return self.__reduce_ex__(protocol)


def _filling_read(slot: Any) -> property:
    """A pending class's property for one field: fill the object, then read the model class's slot.

    (A property is found before the unset slot, so the first read costs no AttributeError and
    ``__getattr__`` fallback.)
    """
    read_slot = slot.__get__

    def read(self: Any) -> Any:
        fill(self)
        return read_slot(self)

    return property(read, doc=slot.__doc__)


class _PendingType(type):
    """Metaclass of the pending classes: each stands for its model class where a type is looked at.

    It bears the model class's name, compares equal to it and hashes as it does, so
    ``type(obj) == Release``, ``type(obj).__name__`` and a dict keyed by model classes
    (``{Release: …}[type(item)]``) see an unread object as its model class; only ``type(obj) is
    Release`` tells them apart (and isinstance holds either way). Each public field the object is
    not made with (``_preset``: set at creation) gets a filling property (``_filling_read``).
    """

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> _PendingType:
        model = bases[-1]  # (_Pending, the model class)
        preset = namespace.get("_preset", ())
        readers = {f.name: _filling_read(model.__dict__[f.name]) for f in dataclasses.fields(model)
                   if not f.name.startswith("_") and f.name not in preset}
        return super().__new__(mcs, model.__name__, bases,
                               {**namespace, **readers, "__qualname__": model.__qualname__})

    def __eq__(cls, other: object) -> bool:
        return other is cls or other is cls.__bases__[-1]

    def __hash__(cls) -> int:
        return hash(cls.__bases__[-1])


class _PendingParty(_Pending, Party, metaclass=_PendingType):
    __slots__ = ()


class _PendingResource(_Pending, Resource, metaclass=_PendingType):
    __slots__ = ()


class _PendingRelease(_Pending, Release, metaclass=_PendingType):
    __slots__ = ()


class _PendingDeal(_Pending, Deal, metaclass=_PendingType):
    __slots__ = ()
    _preset = ("release_refs",)  # set when made (``release_deals``): reading it fills nothing


def fill(obj: Any) -> None:
    """Read a lazy object's fields now (once; a no-op on a filled one) and make it its model class.

    Under ``extract.FILLING``: the extraction writes the fields in place (see ``fast_constructor``), and a
    thread reading the same object meanwhile waits for it rather than see it half-filled.
    """
    with extract.FILLING:
        try:
            pending = _get_load(obj)
        except AttributeError:  # made otherwise (a copy of a pending object): nothing to read
            pending = None
        if pending is not None:
            reader, element, context = pending
            reader(obj, element, context)  # sets every field (and the model class), then ``_load`` to None
        cls = type(obj)
        if type(cls) is _PendingType:  # a copy of a pending object: nothing read, made its model class here
            _set_class(obj, "__class__", cls.__bases__[-1])


class Parties:
    """The PartyList parties met so far (lazy Party objects) and, on first use, their name index."""

    __slots__ = ("parties", "_context")

    def __init__(self, parties: tuple[Party, ...] = ()) -> None:
        self.parties = parties
        self._context: Context | None = None

    @classmethod
    def indexed(cls, party_names: dict[str, str | None]) -> Parties:
        """Parties known only by their name index (``stream``: the names met so far, a snapshot)."""
        seen = cls()
        context = Context(legacy=False)
        context.party_names = party_names
        seen._context = context
        return seen

    def context(self) -> Context:
        """An extraction Context indexing these parties, as an eager read (``extract.extract_all``) builds it."""
        context = self._context
        if context is None:
            context = Context(legacy=False)
            for party in self.parties:
                context.add_party(party)  # fills the party (reference, name)
            self._context = context
        return context


# fill(obj, element, context): the extraction of ``element`` writes every field straight into ``obj``
# (``into``; its ``_source`` stays), then ``_load`` is cleared so later reads never come back here.


def _fill_party(obj: Party, element: Element, _context: None) -> None:
    extract_party(element, into=obj)
    _set_load(obj, None)


def _fill_resource(obj: Resource, element: Element, seen: Parties) -> None:
    extract_resource_4x(element, seen.context(), into=obj)
    _set_load(obj, None)


def _fill_release(obj: Release, element: Element, seen: Parties) -> None:
    extract_release_4x(element, seen.context(), into=obj)
    _set_load(obj, None)


def _fill_deal(obj: Deal, element: Element, release_refs: tuple[str, ...]) -> None:
    extract_deal(element, release_refs, into=obj)
    _set_load(obj, None)


def _fill_streamed_release(obj: Release, element: Element, pending: tuple[Parties, list[str] | None]) -> None:
    seen, group_refs = pending  # group_refs: the track list ``stream`` consumed piecewise
    extract_release_4x(element, seen.context(), group_refs, into=obj)
    _set_load(obj, None)


def _maker(pending: type) -> Callable[[Element | None, bool, tuple[Any, Any, Any]], Any]:
    """What makes an unfilled object of ``pending`` with its ``_source``, ``_parsed`` and ``_load``:
    plain slot stores on the model class's ``extract.building_class`` (the frozen ``__setattr__``
    refuses them, and a slot descriptor's ``__set__`` is a slower call), then made ``pending``
    (same slots, so ``__class__`` can be set). Once per party, resource, release and deal."""
    building = building_class(pending.__bases__[-1])

    def make(source: Element | None, parsed: bool, load: tuple[Any, Any, Any]) -> Any:
        obj = _new(building)
        obj._source = source
        obj._parsed = parsed  # exactly what its element says (see PARSED in ``model``)
        obj._load = load
        obj.__class__ = pending
        return obj

    return make


_make_party = _maker(_PendingParty)
_make_resource = _maker(_PendingResource)
_make_release = _maker(_PendingRelease)
_make_deal = _maker(_PendingDeal)
_set_deal_refs = Deal.__dict__["release_refs"].__set__


def parties(section: Element, keep: bool) -> list[Party]:
    """The Party children of a 4.x PartyList as lazy Parties."""
    out: list[Party] = []
    for el in section:
        if el.tag == "Party":
            out.append(_make_party(el if keep else None, keep, (_fill_party, el, None)))
    return out


def _lazy_children(section: Element, make: Any, fill: Any, seen: Parties, keep: bool) -> list[Any]:
    """The element children of a 4.x ResourceList/ReleaseList as lazy objects (``make``: ``_maker``'s)."""
    out: list[Any] = []
    append = out.append
    for el in section:
        if isinstance(el.tag, str):
            append(make(el if keep else None, keep, (fill, el, seen)))
    return out


def resources(section: Element, seen: Parties, keep: bool) -> list[Resource]:
    """The children of a 4.x ResourceList as lazy Resources (``seen``: the parties met before it)."""
    return _lazy_children(section, _make_resource, _fill_resource, seen, keep)


def releases(section: Element, seen: Parties, keep: bool) -> list[Release]:
    """The children of a 4.x ReleaseList as lazy Releases (``seen``: the parties met before it)."""
    return _lazy_children(section, _make_release, _fill_release, seen, keep)


def release_deals(release_deal: Element, keep: bool, release_refs: list[str] | None = None) -> list[Deal]:
    """The Deals of one ReleaseDeal as lazy Deals, each with the ReleaseDeal's references set
    (``release_refs``: its DealReleaseReferences when ``stream`` consumed them piecewise).

    Same result as ``extract.extract_release_deal`` once filled.
    """
    refs_tuple, deal_elements = release_deal_parts(release_deal)
    if release_refs is not None:
        refs_tuple = tuple(release_refs)
    out: list[Deal] = []
    for el in deal_elements:
        obj = _make_deal(el if keep else None, keep, (_fill_deal, el, refs_tuple))
        _set_deal_refs(obj, refs_tuple)
        out.append(obj)
    return out


# ``stream`` (ERN 4.x): each Resource, Release and Deal (``release_deals`` with ``keep`` False) holds
# its own element (which ``stream`` unlinks from the streamed tree once it is a finished sibling),
# with no ``_source`` and ``_parsed`` False, as an eager streamed item. Parties stay eager there:
# their names index every later item, and holding each Party's element until then would grow with
# the PartyList.


def streamed_resource(element: Element, seen: Parties) -> Resource:
    """A 4.x ResourceList child as a lazy Resource (``seen``: the parties met before it)."""
    return _make_resource(None, False, (_fill_resource, element, seen))


def streamed_release(element: Element, seen: Parties, group_refs: list[str] | None) -> Release:
    """A 4.x ReleaseList child as a lazy Release (``group_refs``: its track list, when consumed piecewise)."""
    return _make_release(None, False, (_fill_streamed_release, element, (seen, group_refs)))


def is_pending(obj: object) -> bool:
    """True while a lazy object's fields are still unread (fills nothing: telemetry asks it before reading)."""
    try:
        return _get_load(obj) is not None
    except (AttributeError, TypeError):  # not filled lazily, or not a lazy model class at all
        return False


# ------------------------------------------------------------------------------- the extract stage


def extract_message(root: Element, ern_version: str, message_type: str, *, lazy: bool = True) -> Message:
    """Walk the root's children once and build the Message (``parse``'s "extract" stage).

    Every object keeps the element it was read from (``_source``, see ``model``), so ``build`` at
    this version can re-emit what the model does not hold. ``lazy`` (4.x): parties, resources,
    releases and deals are filled on first read (see the module docstring); ``lazy=False`` and 3.x
    read everything now (``extract.extract_all``: the same Message).
    """
    if lazy and not is_legacy(ern_version):
        return _lazy_message(root, ern_version, message_type)
    return extract_all(root, ern_version, message_type)


def _lazy_message(root: Element, ern_version: str, message_type: str) -> Message:
    """``extract_message`` for 4.x: the same Message, its objects made lazily."""
    keep = not unqualify_children(root)
    header: MessageHeader | None = None
    party_objs: list[Party] = []
    seen = Parties()  # the parties an eager read would know at this point
    resource_objs: list[Resource] = []
    release_objs: list[Release] = []
    deal_objs: list[Deal] = []
    purged: list[Release] = []
    for section in root:
        tag = section.tag
        if tag == "ResourceList":
            resource_objs += resources(section, seen, keep)
        elif tag == "ReleaseList":
            release_objs += releases(section, seen, keep)
        elif tag == "PartyList":
            party_objs += parties(section, keep)
            seen = Parties(tuple(party_objs))
        elif tag == "DealList":
            for el in section:
                if el.tag == "ReleaseDeal":
                    deal_objs += release_deals(el, keep)
        elif tag == "MessageHeader":  # read now (see the module docstring)
            header = extract_header(section)
            if keep:
                set_source(header, section)
        elif tag == "PurgedRelease":
            purged.append(extract_purged_release(section))
            if keep:
                set_source(purged[-1], section)
    return new_message(ern_version, message_type, header, party_objs, release_objs, resource_objs, deal_objs, purged,
                       root, keep)
