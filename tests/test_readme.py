"""The README and the docs say only what is true: their Python runs, their links resolve, their
commands, options and variables exist.

Each ```python block of README.md runs as written in a fresh interpreter, offline (no OTEL_*
setting, so telemetry goes to files in a temporary directory; nothing leaves the machine), with
``DDEX_SAMPLES_DIR`` passed as the Makefile passes it.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO_ROOT, clean_env, samples_root

README = REPO_ROOT / "README.md"
DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
LINKED_FILES = [README, REPO_ROOT / "SECURITY.md", *DOCS]

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.M)


def blocks(path: Path, language: str) -> list[str]:
    """The fenced code blocks of ``path`` in ``language``, in order."""
    return [body for lang, body in FENCE.findall(path.read_text(encoding="utf-8")) if lang == language]


def prose(path: Path) -> str:
    """``path`` without its fenced code blocks (links inside code are not links)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


PYTHON_BLOCKS = blocks(README, "python")


def test_readme_has_python_examples() -> None:
    """The runnable examples below are not vacuous: the README shows the library in Python."""
    assert len(PYTHON_BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs_as_written(index: int, tmp_path: Path) -> None:
    """Copied into a file and run, each Python example exits 0 and raises nothing."""
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(PYTHON_BLOCKS[index], encoding="utf-8")
    env = clean_env(DDEX_SAMPLES_DIR=str(samples_root()))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, f"README python block {index} failed:\n{PYTHON_BLOCKS[index]}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr


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
    for lang, body in FENCE.findall(text):
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
