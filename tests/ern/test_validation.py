"""Validation: every problem reported at once, levels, identifiers, and that check never raises."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddex_otel.ern import identifiers, parse, validate
from ddex_otel.ern.model import (
    Deal,
    Identifiers,
    Line,
    Message,
    MessageHeader,
    Party,
    ProprietaryId,
    Release,
    Resource,
)
from ddex_otel.ern.validation import ValidationReport, check

# Official samples whose MessageId element is empty (<MessageId/>): the one structural error they have.
EMPTY_MESSAGE_ID = {"daddykev__Samples42_8_DjMix.xml", "daddykev__Samples43_8_DjMix.xml", "miqwit__001_audioalbum_complete.xml"}

SENDER = "PADPIDA2013042401U"


def good_message(**changes: object) -> Message:
    """A small message that passes every check (and the 4.3 target checks)."""
    message = Message(
        ern_version="4.3",
        message_type="NewReleaseMessage",
        header=MessageHeader(
            message_id="MSG-1",
            thread_id="TH-1",
            sender=Party(party_ids=(SENDER,), name="Label"),
            recipients=(Party(party_ids=("PADPIDA2009101501Y",), name="DSP"),),
            created="2024-05-01T10:00:00Z",
            control_type="TestMessage",
        ),
        resources=(
            Resource(kind="SoundRecording", reference="A1", resource_type="MusicalWorkSoundRecording",
                     ids=Identifiers(isrc="USRC12345678"), title="Song", display_artist="Artist", duration=200.0),
            Resource(kind="Image", reference="A2", resource_type="FrontCoverImage",
                     ids=Identifiers(proprietary=(ProprietaryId(SENDER, "IMG-1"),))),
        ),
        releases=(
            Release(kind="Release", reference="R0", release_type="Single",
                    ids=Identifiers(icpn=identifiers.make_icpn("00000000001"), grid=identifiers.make_grid("A12425GABC1234002")),
                    title="Single", display_artist="Artist", label="Label", genre="Pop", release_date="2024-05-01",
                    p_line=Line("2024", "(P) 2024 Label"), resource_refs=("A1", "A2")),
        ),
        deals=(Deal(release_refs=("R0",), territories=("Worldwide",), commercial_model_types=("PayAsYouGoModel",),
                    use_types=("PermanentDownload",), start_date="2024-05-01"),),
    )
    return dataclasses.replace(message, **changes)


def codes(report: ValidationReport, severity: str | None = None) -> set[str]:
    return {f.code for f in report.findings if severity is None or f.severity == severity}


def paths(report: ValidationReport) -> set[str]:
    return {f.path for f in report.findings}


# ------------------------------------------------------------------------------------- levels


def test_good_message_has_no_findings_at_any_level() -> None:
    for level in ("strict", "warn", "off"):
        assert check(good_message(), level).findings == ()
    assert check(good_message(), "strict", target_version="4.3").findings == ()
    assert check(good_message(), "strict", target_version="3.8.2").findings == ()


def test_off_reports_nothing_even_for_a_broken_message() -> None:
    broken = good_message(header=MessageHeader(), releases=(Release(kind="Release", reference=""),))
    assert check(broken, "off").findings == ()
    assert check(broken, "warn").errors  # the same message is not ok when checked


def test_unknown_level_is_a_finding_not_an_exception() -> None:
    report = check(good_message(), "loud")
    assert not report.ok and codes(report) == {"bad-level"}


def test_identifier_problems_are_warnings_under_warn_and_errors_under_strict() -> None:
    bad = good_message(releases=(dataclasses.replace(good_message().releases[0],
                                                     ids=Identifiers(icpn="00094631432058")),))
    warn, strict = check(bad, "warn"), check(bad, "strict")
    assert warn.ok and codes(warn, "warning") == {"bad-icpn"}
    assert not strict.ok and codes(strict, "error") == {"bad-icpn"}


def test_structural_problems_are_errors_under_warn() -> None:
    report = check(good_message(header=dataclasses.replace(good_message().header, message_id=None)), "warn")
    assert [(f.severity, f.code, f.path) for f in report.findings] == [("error", "missing-field", "header.message_id")]


def test_validate_is_the_public_name_of_check() -> None:
    message = good_message(deals=(Deal(release_refs=("R9",)),))
    assert validate(message) == check(message)
    assert validate(message, "off") == ValidationReport()


# --------------------------------------------------------------------------------- all at once


def test_every_problem_is_reported_at_once() -> None:
    base = good_message()
    message = base.__class__(
        ern_version="4.3",
        message_type="NewReleaseMessage",
        header=MessageHeader(sender=Party(name="no id")),  # no id, no recipients, no created
        resources=(
            Resource(kind="SoundRecording", reference="A1", ids=Identifiers(isrc="US-RC1-23-4567")),  # no title/duration
            Resource(kind="SoundRecording", reference="A1", title="dup", duration=1.0),
            Resource(kind="Hologram", reference="", title="x"),
        ),
        releases=(
            Release(kind="Release", reference="R1", ids=Identifiers(icpn="123", grid="A1-XYZ"),
                    resource_refs=("A1", "A404"), release_date="01/02/2024"),  # no title
            Release(kind="Release", reference="R1", title="dup"),
            Release(kind="Release", reference="", title="no ref"),
        ),
        deals=(Deal(release_refs=("R404",), territories=("DE",), excluded_territories=("FR",)), Deal()),
    )
    report = check(message, "strict")
    got = {(f.code, f.path) for f in report.findings}
    expected = {
        ("missing-field", "header.message_id"),
        ("missing-field", "header.sender.party_ids"),
        ("missing-field", "header.recipients"),
        ("missing-field", "header.created"),
        ("missing-field", "resources[0](A1).title"),
        ("missing-field", "resources[0](A1).duration"),
        ("bad-isrc", "resources[0](A1).ids.isrc"),
        ("duplicate-reference", "resources[1].reference"),
        ("missing-field", "resources[2].reference"),
        ("unsupported-kind", "resources[2]().kind"),
        ("missing-field", "releases[0](R1).title"),
        ("dangling-reference", "releases[0](R1).resource_refs[1]"),
        ("bad-date", "releases[0](R1).release_date"),
        ("bad-icpn", "releases[0](R1).ids.icpn"),
        ("bad-grid", "releases[0](R1).ids.grid"),
        ("duplicate-reference", "releases[1].reference"),
        ("missing-field", "releases[2].reference"),
        ("dangling-reference", "deals[0].release_refs[0]"),
        ("conflicting-fields", "deals[0].excluded_territories"),
        ("missing-field", "deals[1].release_refs"),
    }
    assert expected <= got, expected - got
    assert all(f.severity == "error" for f in report.findings)


def test_malformed_references_dates_and_durations() -> None:
    base = good_message()
    message = good_message(
        resources=(dataclasses.replace(base.resources[0], reference="T1", duration=-3.0), base.resources[1]),
        releases=(dataclasses.replace(base.releases[0], reference="X0", resource_refs=("T1", "A2"),
                                      p_line=Line("24", "(P) Label")),),
        parties=(Party(reference="Artist", name="Artist"), Party(reference="P2")),
        deals=(Deal(release_refs=("X0",), start_date="2024-01-01", end_date="2025-01-01T00:00:00"),),
        header=dataclasses.replace(base.header, created="yesterday", control_type="LiveMsg"),
    )
    got = {(f.code, f.path) for f in check(message).errors}
    assert {
        ("bad-reference", "resources[0].reference"),
        ("bad-duration", "resources[0](T1).duration"),
        ("bad-reference", "releases[0].reference"),
        ("bad-year", "releases[0](X0).p_line.year"),
        ("bad-reference", "parties[0].reference"),
        ("missing-field", "parties[1]"),
        ("conflicting-fields", "deals[0]"),
        ("bad-datetime", "header.created"),
        ("bad-value", "header.control_type"),
    } <= got


def test_text_xml_cannot_carry_is_an_error() -> None:
    message = good_message(releases=(dataclasses.replace(good_message().releases[0], title="bell\x07"),))
    assert ("illegal-xml-character", "releases[0].title") in {(f.code, f.path) for f in check(message).errors}


def test_images_need_a_proprietary_id() -> None:
    base = good_message()
    message = good_message(resources=(base.resources[0], dataclasses.replace(base.resources[1], ids=Identifiers())))
    assert ("missing-field", "resources[1](A2).ids.proprietary") in {(f.code, f.path) for f in check(message).errors}


def test_empty_message_id_is_only_a_warning() -> None:
    report = check(good_message(header=dataclasses.replace(good_message().header, message_id="")))
    assert report.ok and codes(report) == {"empty-field"}


def test_check_never_raises_on_a_malformed_model() -> None:
    junk = Message(ern_version="4.3", message_type="NewReleaseMessage", releases=(None,), resources=(42,))  # type: ignore[arg-type]
    report = check(junk, "warn", target_version="4.3")
    assert not report.ok and "invalid-model" in codes(report)


def test_purge_messages_need_exactly_one_purged_release() -> None:
    purge = good_message(message_type="PurgeReleaseMessage", resources=(), deals=(),
                         releases=(), purged_releases=(Release(kind="PurgedRelease", reference="",
                                                               ids=Identifiers(grid="A1X")),))
    report = check(purge)
    assert report.ok and codes(report) == {"bad-grid"}
    assert "purge-release-count" in codes(check(dataclasses.replace(purge, purged_releases=())))
    assert "purge-release-count" in codes(check(dataclasses.replace(purge, releases=purge.purged_releases)))
    new_release = dataclasses.replace(purge, message_type="NewReleaseMessage")
    assert "purge-release-count" in codes(check(new_release))


# -------------------------------------------------------------------------------- target checks


def test_4x_target_needs_dpid_senders_one_main_release_labels_and_genres() -> None:
    base = good_message()
    message = good_message(
        header=dataclasses.replace(base.header, sender=Party(party_ids=("DPID_OF_THE_SENDER", SENDER))),
        releases=(
            dataclasses.replace(base.releases[0], label=None, genre=None),
            dataclasses.replace(base.releases[0], reference="R1"),
            Release(kind="TrackRelease", reference="R2", label="L", genre="G", resource_refs=("A1", "A2")),
        ),
        deals=(Deal(release_refs=("R0",), territories=("DE",)),),
    )
    assert check(message, target_version=None).ok  # none of this matters without a target
    report = check(message, target_version="4.3")
    errors = {(f.code, f.path) for f in report.errors}
    assert errors == {
        ("bad-party-id", "header.sender.party_ids[0]"),
        ("too-many-main-releases", "releases"),
        ("missing-field", "releases[0](R0).label"),
        ("missing-field", "releases[0](R0).genre"),
        ("bad-track-list", "releases[2](R2).resource_refs"),
        ("missing-field", "deals[0].start_date"),
    }
    assert ("dropped-value", "header.sender.party_ids") in {(f.code, f.path) for f in report.warnings}
    # 4.1.1 deals have no mandatory start date
    assert ("missing-field", "deals[0].start_date") not in {(f.code, f.path) for f in check(message, target_version="4.1.1").errors}


def test_3x_target_needs_deal_territories_and_use_types() -> None:
    message = good_message(deals=(Deal(release_refs=("R0",), start_date="2024-01-01"),))
    assert check(message, target_version="4.3").ok
    errors = {(f.code, f.path) for f in check(message, target_version="3.8.2").errors}
    assert errors == {("missing-field", "deals[0].territories"), ("missing-field", "deals[0].use_types")}


def test_target_warns_about_defaults_derivations_and_user_defined_values() -> None:
    base = good_message()
    message = good_message(
        resources=(dataclasses.replace(base.resources[0], display_artist=None, resource_type=None), base.resources[1]),
        releases=(dataclasses.replace(base.releases[0], release_type=None),),
        deals=(dataclasses.replace(base.deals[0], commercial_model_types=("AsPerContract",)),),
    )
    report = check(message, target_version="4.3")
    assert report.ok
    assert {(f.code, f.path) for f in report.warnings} == {
        ("derived-value", "resources[0](A1).display_artist"),
        ("default-value", "resources[0](A1).resource_type"),
        ("default-value", "releases[0](R0).release_type"),
        ("user-defined-value", "deals[0].commercial_model_types[0]"),
    }


def test_unsupported_target_version() -> None:
    assert codes(check(good_message(), target_version="3.7")) == {"unsupported-version"}


# ------------------------------------------------------------------------------ real samples


def test_samples_have_no_structural_errors_under_warn(sample_path: Path) -> None:
    path = sample_path
    report = validate(parse(path), "warn")
    assert report.ok, [str(f) for f in report.errors]
    # anything reported at warn is about identifiers (or the empty <MessageId/> of three samples);
    # strict turns exactly the identifier ones into errors
    expected = {"bad-isrc", "bad-icpn", "bad-grid"} | ({"empty-field"} if path.name in EMPTY_MESSAGE_ID else set())
    assert {f.code for f in report.warnings} <= expected
    strict = validate(parse(path), "strict")
    assert len(strict.errors) == len(report.errors) + sum(f.code != "empty-field" for f in report.warnings)


def test_official_samples_do_carry_bad_icpn_check_digits(samples_dir: Path) -> None:
    report = validate(parse(samples_dir / "daddykev__Samples43_3_MixedMedia.xml"), "warn")
    assert report.ok and "bad-icpn" in {f.code for f in report.warnings}


# --------------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize("value", ["JPTO09404900", "USRC12345678", "GBAYE0000351", "CASE00000001"])
def test_good_isrcs(value: str) -> None:
    assert identifiers.is_valid_isrc(value)


@pytest.mark.parametrize("value", ["US-RC1-23-45678", "USRC1234567", "USRC123456789", "usrc12345678",
                                   "1SRC12345678", "USRC1A345678", "USRC12-45678", ""])
def test_bad_isrcs(value: str) -> None:
    assert identifiers.isrc_problem(value) is not None


def test_hyphenated_isrc_problem_says_how_to_fix_it() -> None:
    assert "USRC12345678" in (identifiers.isrc_problem("US-RC1-23-45678") or "")


@pytest.mark.parametrize("value", ["00094631432057", "4006381333931", "036000291452", "04988006110809"])
def test_good_icpns(value: str) -> None:
    assert identifiers.is_valid_icpn(value)


@pytest.mark.parametrize("value", ["00094631432058", "4006381333932", "03600029145", "123456789012345",
                                   "05099907138655", "4006381333A31", "４００６３８１３３３９３１"])
def test_bad_icpns(value: str) -> None:
    assert not identifiers.is_valid_icpn(value)


@given(st.sampled_from([11, 12, 13]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)))
def test_made_icpns_are_valid_and_any_other_check_digit_is_not(payload: str) -> None:
    icpn = identifiers.make_icpn(payload)
    assert identifiers.is_valid_icpn(icpn)
    for digit in "0123456789":
        if digit != icpn[-1]:
            assert not identifiers.is_valid_icpn(payload + digit)


@given(st.text("0123456789", min_size=12, max_size=12), st.integers(0, 10), st.integers(1, 9))
def test_gtin_check_digit_catches_every_single_digit_error(payload: str, position: int, delta: int) -> None:
    icpn = identifiers.make_icpn(payload)
    wrong = icpn[:position] + str((int(icpn[position]) + delta) % 10) + icpn[position + 1:]
    assert not identifiers.is_valid_icpn(wrong)


def test_grid_reference_example() -> None:
    # The example GRid of the GRid handbook, with and without hyphens.
    assert identifiers.is_valid_grid("A12425GABC1234002M")
    assert identifiers.is_valid_grid("A1-2425G-ABC1234002-M")
    assert identifiers.grid_check_character("A12425GABC1234002") == "M"


@pytest.mark.parametrize("value", ["A12425GABC1234002N", "A1UCASE0000000401X", "AxxxxxxxxxxxZ",
                                   "B12425GABC1234002M", "A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6Q7R8S9T0"])
def test_bad_grids(value: str) -> None:
    assert not identifiers.is_valid_grid(value)


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@given(st.text(_ALNUM, min_size=15, max_size=15), st.integers(2, 17), st.sampled_from(_ALNUM))
def test_grid_check_character_catches_single_substitutions(body: str, position: int, replacement: str) -> None:
    grid = identifiers.make_grid("A1" + body)
    assert identifiers.is_valid_grid(grid)
    if grid[position] != replacement:
        assert not identifiers.is_valid_grid(grid[:position] + replacement + grid[position + 1:])


# ------------------------------------------------------------------------------------ the CLI


def test_cli_validate_exit_codes_and_findings(samples_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ddex_otel.cli import main

    mixed = str(samples_dir / "daddykev__Samples43_3_MixedMedia.xml")
    assert main(["validate", mixed]) == 0  # the bad ICPN is a warning under warn
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[warning] releases[0](R0).ids.icpn:") and out[-1].endswith("0 error(s), 1 warning(s) (model, level warn)")
    assert main(["validate", mixed, "--level", "strict"]) == 1
    assert capsys.readouterr().out.splitlines()[0].startswith("[error] releases[0](R0).ids.icpn:")


def test_cli_validate_with_schema_and_target(samples_dir: Path, xsd_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from ddex_otel.cli import main

    audius = samples_dir / "AudiusProject__01_delivery.xml"
    assert main(["validate", str(audius), "--schema-dir", str(xsd_dir), "--target", "4.3"]) == 0
    assert "(model and schema, level warn)" in capsys.readouterr().out
    broken = tmp_path / "broken.xml"
    broken.write_bytes(audius.read_bytes().replace(b"<Duration>PT3M45S</Duration>", b"<Duration>3:45</Duration>"))
    assert main(["validate", str(broken), "--schema-dir", str(xsd_dir)]) == 1
    out = capsys.readouterr().out
    # the parser reads the bad duration as missing (a model error); the XSD names the line
    assert "[error] resources[0](A1).duration:" in out and "[error] schema: line 35:" in out
    assert "2 error(s)" in out
