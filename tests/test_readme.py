"""The README and the docs say only what is true: their Python runs, their links resolve, their
commands, options and variables exist.

Every ```python block of README.md and docs/*.md is an example a user copies on its own, so each
runs alone, as written: in a fresh interpreter, in a fresh temporary directory, offline (no OTEL_*
setting, so telemetry goes to files there; nothing leaves the machine), with ``DDEX_SAMPLES_DIR``
passed as the Makefile passes it. What a block needs from outside comes the way a user has it:

* a file the page shows (a fenced block whose first line is ``# NAME.EXT``, e.g. ``# alerts.yml``)
  is written into that directory for every block of the page;
* a service is real and on loopback, given through the environment variable the block reads
  (``OTEL_EXPORTER_OTLP_ENDPOINT``: an OTLP/gRPC receiver; ``HONEYCOMB_ENDPOINT``: an OTLP/HTTP one;
  ``SMTP_HOST``: aiosmtpd with STARTTLS and a login, whose CA is the page's ``private-ca.pem``;
  ``SLACK_WEBHOOK_URL`` / ``ALERT_WEBHOOK_URL``: an HTTP endpoint; ``DDEX_CELERY_BROKER_URL``: a
  Celery fleet, integration tier). A variable is given only to a block that names it (in its code or
  in a file it names), and a block that names it in its code must have delivered something there.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from loopback import GrpcOtlpReceiver, HttpReceiver, Mailbox, starttls_smtp
from support import REPO_ROOT, clean_env, samples_root

README = REPO_ROOT / "README.md"
DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
LINKED_FILES = [README, REPO_ROOT / "SECURITY.md", *DOCS]

FENCE = re.compile(r"^( *)```([\w-]*)\n(.*?)^\1```", re.S | re.M)  # a fence may be indented (in a list)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.M)
FILE_BLOCK = re.compile(r"\A# ([\w.-]+\.\w+)\n")  # a block that is a file: `# alerts.yml` on its first line


def fenced(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of ``text`` as (language, body), bodies without the fence's indent."""
    return [(lang, textwrap.dedent(body)) for _, lang, body in FENCE.findall(text)]


def blocks(path: Path, language: str) -> list[str]:
    """The fenced code blocks of ``path`` in ``language``, in order."""
    return [body for lang, body in fenced(path.read_text(encoding="utf-8")) if lang == language]


def prose(path: Path) -> str:
    """``path`` without its fenced code blocks (links inside code are not links)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def page_files(path: Path) -> dict[str, str]:
    """The files a page shows for the user to create: name -> content."""
    found = (FILE_BLOCK.match(body) for _, body in fenced(path.read_text(encoding="utf-8")))
    return {m.group(1): m.string for m in found if m}


@dataclass(frozen=True)
class Example:
    """One ```python block: its page, its number there (from 1) and its code."""

    page: Path
    number: int
    code: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO_ROOT)} python block {self.number}"


EXAMPLES = [Example(page, n, code) for page in [README, *DOCS] for n, code in enumerate(blocks(page, "python"), 1)]


def test_readme_has_python_examples() -> None:
    """The runnable examples below are not vacuous: the README shows the library in Python."""
    assert len([e for e in EXAMPLES if e.page == README]) >= 3


# -- what the examples reach: real services on loopback ----------------------------------------------

SMTP_USER, SMTP_PASSWORD = "ddex-alerts", "doc-example-Pa55"
HONEYCOMB_KEY, WEBHOOK_TOKEN = "doc-example-key", "doc-example-token"
SLACK_PATH, WEBHOOK_PATH = "/services/T000/B000/DOCEXAMPLE", "/ddex"
FLEET_VARIABLE = "DDEX_CELERY_BROKER_URL"


@dataclass
class Service:
    """Environment variables that lead a block to a service, and how many deliveries it has seen."""

    variables: dict[str, str]
    delivered: Callable[[Path], int]  # given the block's directory


@dataclass
class DocServices:
    services: dict[str, Service]
    files: dict[str, str]  # files a user of the service has: the SMTP server's private CA


@pytest.fixture(scope="module")
def doc_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocServices]:
    """An OTLP/gRPC receiver, an HTTP endpoint (OTLP/HTTP, Slack, webhook) and SMTP, on loopback."""
    import ssl

    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_tls)
    grpc, http, mailbox = GrpcOtlpReceiver(), HttpReceiver(), Mailbox()
    smtp = starttls_smtp(mailbox, server_tls, SMTP_USER, SMTP_PASSWORD)
    smtp.start()

    def posts(path: str, header: str, value: str) -> Callable[[Path], int]:
        return lambda _: sum(1 for p, headers, _ in http.requests if p.startswith(path)
                             and {k.lower(): v for k, v in headers.items()}.get(header) == value)

    services = {
        "OTLP/gRPC receiver": Service({"OTEL_EXPORTER_OTLP_ENDPOINT": grpc.endpoint},
                                      lambda _: len(grpc.received["traces"])),
        "OTLP/HTTP receiver (the vendor)": Service(
            {"HONEYCOMB_ENDPOINT": http.url, "HONEYCOMB_API_KEY": HONEYCOMB_KEY},
            posts("/v1/traces", "x-honeycomb-team", HONEYCOMB_KEY)),
        "SMTP server": Service({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_PASSWORD": SMTP_PASSWORD},
                               lambda _: len(mailbox.messages)),
        "Slack webhook": Service({"SLACK_WEBHOOK_URL": http.url + SLACK_PATH},
                                 posts(SLACK_PATH, "content-type", "application/json")),
        "alert webhook": Service({"ALERT_WEBHOOK_URL": http.url + WEBHOOK_PATH, "ALERT_WEBHOOK_TOKEN": WEBHOOK_TOKEN},
                                 posts(WEBHOOK_PATH, "authorization", f"Bearer {WEBHOOK_TOKEN}")),
    }
    try:
        yield DocServices(services, {"private-ca.pem": ca.cert_pem.bytes().decode()})
    finally:
        smtp.stop()
        http.close()
        grpc.close()


@pytest.fixture(scope="module")
def doc_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Redis and one Celery worker (with its agent, the gateway and Jaeger): `ddex-otel fleet up`."""
    from ddex_otel.stack import StackError
    from ddex_otel.stack.build import ensure_binaries
    from ddex_otel.stack.fleet import Fleet

    try:
        fleet = Fleet(tmp_path_factory.mktemp("fleet"), workers=1, bin_dir=ensure_binaries(), prometheus=False)
        fleet.start()
    except StackError as exc:
        pytest.fail(f"scale-out fleet did not start: {exc}\n{exc.log_tail()}", pytrace=False)
    try:  # the block converts the samples into ./out on the workers (shared storage: the same machine)
        yield Service({FLEET_VARIABLE: fleet.broker_url}, lambda cwd: len(list((cwd / "out").glob("*.xml"))))
    finally:
        fleet.stop()


def named(variable: str, text: str) -> bool:
    return re.search(rf"\b{variable}\b", text) is not None


@pytest.mark.parametrize("example", [
    pytest.param(e, id=e.name, marks=[pytest.mark.integration] if named(FLEET_VARIABLE, e.code) else [])
    for e in EXAMPLES
])
def test_python_block_runs_as_written(example: Example, tmp_path: Path, doc_services: DocServices,
                                      request: pytest.FixtureRequest) -> None:
    """Copied into a file and run alone, each Python example exits 0, raises nothing, and reaches the
    services it names."""
    services = dict(doc_services.services)
    if named(FLEET_VARIABLE, example.code):
        services["Celery fleet"] = request.getfixturevalue("doc_fleet")
    files = page_files(example.page)
    for name, content in {**files, **doc_services.files}.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    reads = example.code + "".join(content for name, content in files.items() if name in example.code)
    used = {name: s for name, s in services.items() if any(named(v, example.code) for v in s.variables)}
    given = {v: value for s in services.values() for v, value in s.variables.items() if named(v, reads)}
    before = {name: s.delivered(tmp_path) for name, s in used.items()}

    script = tmp_path / f"example_{example.number}.py"
    script.write_text(example.code, encoding="utf-8")
    env = clean_env(DDEX_SAMPLES_DIR=str(samples_root()), **given)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, f"{example.name} failed:\n{example.code}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, f"{example.name}:\n{proc.stderr}"
    silent = [name for name, s in used.items() if s.delivered(tmp_path) <= before[name]]
    assert not silent, f"{example.name} delivered nothing to {silent}:\n{proc.stdout}\n{proc.stderr}"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def relative_links(path: Path) -> list[str]:
    return [t for t in LINK.findall(prose(path)) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("path", LINKED_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_point_at_existing_files(path: Path) -> None:
    """Every relative link (and image) names a file of the repository, and its #anchor a heading there."""
    links = relative_links(path)
    assert links or path != README, "the README links its docs"
    broken = []
    for target in links:
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md":
            anchors = {github_anchor(h) for h in HEADING.findall(prose(dest))}
            if anchor not in anchors:
                broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{path.name}: {broken}"


def test_readme_links_are_relative_or_real() -> None:
    """No link names a place this project does not live."""
    for path in [*LINKED_FILES, REPO_ROOT / "pyproject.toml"]:
        assert "github.com/ddex-otel/ddex-otel" not in path.read_text(encoding="utf-8"), path


# -- commands and variables --------------------------------------------------------------------------

def command_lines(text: str, program: str) -> list[list[str]]:
    """Each ``program …`` command of the shell blocks in ``text`` as words, continuations joined."""
    commands = []
    for lang, body in fenced(text):
        if lang not in ("sh", "console", "bash"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            words = shlex.split(line.split(" # ")[0].lstrip("$ "), comments=True) if line.strip() else []
            while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):  # VAR=value before the command
                words.pop(0)
            if words and words[0] == program:
                commands.append(words[1:])
    return commands


def subcommand(parser: argparse.ArgumentParser, words: list[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The deepest subparser ``words`` name, and the words after it."""
    while words:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or words[0] not in actions[0].choices:
            break
        parser, words = actions[0].choices[words[0]], words[1:]
    return parser, words


def test_readme_ddex_otel_commands_and_options_exist() -> None:
    """Every `ddex-otel …` line in the README names a real subcommand and only options it has."""
    from ddex_otel.cli import build_parser

    root = build_parser()
    commands = command_lines(README.read_text(encoding="utf-8"), "ddex-otel")
    assert len(commands) >= 10
    wrong = []
    for words in commands:
        parser, rest = subcommand(root, words)
        if parser is root:
            wrong.append(f"ddex-otel {' '.join(words)}: no such subcommand")
            continue
        known = {s for a in parser._actions for s in a.option_strings}
        rest = rest[: rest.index("--")] if "--" in rest else rest  # `run -- python app.py`: the app's own
        for word in rest:
            option = re.match(r"^\[?(--?[a-z][a-z0-9-]*)", word)
            if option and option.group(1) not in known:
                wrong.append(f"ddex-otel {' '.join(words)}: {option.group(1)} is not an option")
    assert not wrong, wrong


def test_readme_make_targets_exist() -> None:
    """Every `make TARGET` the README names is a target of the Makefile."""
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO_ROOT / "Makefile").read_text(), re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)`", README.read_text(encoding="utf-8")))
    named |= {w[0] for w in command_lines(README.read_text(encoding="utf-8"), "make") if w}
    assert named and named <= targets, named - targets


def test_readme_environment_variables_are_read_by_the_code() -> None:
    """Every DDEX_* / OTEL_PYTHON_DDEX_* variable the README names is read somewhere: the package, the
    compose file, or (the reference material's locations) the tests and benchmarks; `…_*` is a prefix."""
    code = [*(REPO_ROOT / "src").rglob("*.py"), *(REPO_ROOT / "tests").rglob("*.py"),
            *(REPO_ROOT / "benchmarks").glob("*.py"), REPO_ROOT / "docker-compose.yml"]
    source = "\n".join(p.read_text(encoding="utf-8") for p in code if p != Path(__file__).resolve())
    names = set(re.findall(r"\b((?:OTEL_PYTHON_)?DDEX_[A-Z0-9_]*[A-Z0-9]_?\*?)", README.read_text(encoding="utf-8")))
    assert len(names) >= 8
    missing = sorted(n for n in names if n.rstrip("*") not in source)
    assert not missing, missing
