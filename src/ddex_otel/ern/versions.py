"""ERN versions: namespace ↔ dotted version, and which family (3.x or 4.x) a version belongs to.

The parser needs namespace → version; the builder needs version → namespace and the family,
because 3.x and 4.x messages are shaped differently (``*DetailsByTerritory`` vs flat elements).
"""

from __future__ import annotations

from ddex_otel.ern.errors import NotDDEXError, UnsupportedVersionError

#: Every ERN namespace is this prefix plus the version's digits: ``…/ern/382`` is 3.8.2.
ERN_NAMESPACE_PREFIX = "http://ddex.net/xml/ern/"

#: Versions the engine reads and writes.
SUPPORTED_VERSIONS: tuple[str, ...] = ("3.8", "3.8.1", "3.8.2", "4.1", "4.1.1", "4.2", "4.3", "4.3.1")

#: Older 3.x versions read on a best-effort basis: same shape as 3.8, never written.
LEGACY_READ_VERSIONS: tuple[str, ...] = ("3.4.1", "3.7", "3.7.1")

#: Everything ``parse``/``stream`` accept, oldest first.
READABLE_VERSIONS: tuple[str, ...] = LEGACY_READ_VERSIONS + SUPPORTED_VERSIONS

_BY_CODE: dict[str, str] = {v.replace(".", ""): v for v in READABLE_VERSIONS}


def version_code(version: str) -> str:
    """``"4.3"`` → ``"43"``, ``"3.8.2"`` → ``"382"``: the digits the namespace ends with."""
    return normalize_version(version).replace(".", "")


def normalize_version(version: str) -> str:
    """Accept ``"4.3"``, ``"43"``, ``"ern/43"`` or a full namespace; return the dotted form.

    Raises UnsupportedVersionError for anything that is not a readable version, so callers
    (the builder's ``version=`` argument, the CLI) get one consistent error.
    """
    text = str(version).strip()
    if text.startswith(ERN_NAMESPACE_PREFIX):
        text = text[len(ERN_NAMESPACE_PREFIX):]
    text = text.removeprefix("/").removeprefix("ern/").strip("/")
    if text in READABLE_VERSIONS:
        return text
    dotted = _BY_CODE.get(text)
    if dotted is None:
        raise UnsupportedVersionError(str(version), READABLE_VERSIONS)
    return dotted


def namespace_for(version: str) -> str:
    """The ERN namespace URI of ``version`` (``"4.3"`` → ``http://ddex.net/xml/ern/43``)."""
    return ERN_NAMESPACE_PREFIX + version_code(version)


def version_from_namespace(namespace: str | None) -> str:
    """The dotted version named by an ERN namespace URI.

    Raises NotDDEXError when the URI is not an ERN namespace at all, and
    UnsupportedVersionError when it is one this engine does not read.
    """
    if not namespace or not namespace.startswith(ERN_NAMESPACE_PREFIX):
        raise NotDDEXError(
            f"not a DDEX ERN message: root namespace is {namespace!r}, "
            f"expected {ERN_NAMESPACE_PREFIX}<version>"
        )
    code = namespace[len(ERN_NAMESPACE_PREFIX):].strip("/")
    dotted = _BY_CODE.get(code)
    if dotted is None:
        raise UnsupportedVersionError(code, READABLE_VERSIONS)
    return dotted


def major(version: str) -> int:
    """The family of ``version``: 3 or 4 (3.x nests data in ``*DetailsByTerritory``, 4.x does not)."""
    return int(normalize_version(version).split(".", 1)[0])


def is_legacy(version: str) -> bool:
    """True for the 3.x family (``ReleaseDetailsByTerritory``, ``Usage/UseType``, no PartyList)."""
    return major(version) == 3
