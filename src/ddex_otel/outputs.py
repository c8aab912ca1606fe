"""Output files written whole or not at all, and checked before the work that fills them.

    with atomic_write("out.xml") as out:     # a temporary file beside out.xml …
        out.write(data)                      # … renamed over out.xml only when the block succeeds

The temporary file lives in the target's directory (so the rename is atomic: same file system)
and is removed when the block raises anything, ``KeyboardInterrupt`` included: an interrupted
or failed write leaves the previous file, or none, never a truncated one. The written file gets
the permissions a plain ``open(path, "w")`` would have given it (the process umask, or the
mode of the file it replaces); a file ``open`` could not write (read-only) is refused the same
way. A symbolic link is followed (its target is replaced, the link kept); anything that is not
a regular file (``/dev/null``, a FIFO) is written in place: there is nothing to replace, and
replacing a device node would be a disaster.

``check_writable(path)`` tries what the write will do (a temporary file in the same directory)
so a command can refuse a bad output path up front, before a long run, with one clear line.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_TEMP_SUFFIX = ".partial"


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (threads may be running)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _final_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _special(target: Path) -> bool:
    """An existing file that is neither a regular file nor a directory (a device, a FIFO …)."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _temp_beside(target: Path) -> tuple[int, str]:
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
    if target.exists():  # the permission a plain open() would check: a read-only file stays as it is
        os.close(os.open(target, os.O_WRONLY))
    try:
        return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=_TEMP_SUFFIX)
    except OSError as exc:  # name the file asked for, not the temporary one
        raise type(exc)(exc.errno, exc.strerror, str(target)) from None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None,
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Yield a file object on a temporary file beside ``path``; rename it to ``path`` on success.

    ``mode`` is ``"wb"`` or ``"w"`` (text, with ``encoding`` / ``newline`` as ``open``).
    Raises ``OSError`` (``IsADirectoryError`` when ``path`` is a directory) like ``open`` would.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', not {mode!r}")
    if _special(Path(path)):
        with open(path, mode, encoding=encoding, newline=newline) as out:
            yield out
        return
    target = Path(os.path.realpath(path))
    fd, temp = _temp_beside(target)
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as out:
            yield out
        os.chmod(temp, _final_mode(target))
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def leftover_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files ``atomic_write`` left beside ``path``: a writer ended before its rename."""
    target = Path(os.path.realpath(path))
    pattern = glob.escape(str(target.parent / f".{target.name}.")) + "*" + glob.escape(_TEMP_SUFFIX)
    return [Path(p) for p in glob.glob(pattern)]


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """``Path.write_bytes``, atomically."""
    with atomic_write(path, "wb") as out:
        out.write(data)


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """``Path.write_text``, atomically."""
    with atomic_write(path, "w", encoding=encoding) as out:
        out.write(text)


def output_problem(flag: str, path: str | os.PathLike[str], exc: OSError) -> str:
    """``FLAG: PATH: reason``: the line a command prints when the output ``flag`` names cannot be written."""
    return f"{flag}: {path}: {exc.strerror or exc}"


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise the ``OSError`` that writing ``path`` would raise (no directory, not writable, a
    directory itself …), by creating and removing a temporary file where the write would."""
    if _special(Path(path)):
        return  # a device or FIFO: nothing to probe without writing to it
    fd, temp = _temp_beside(Path(os.path.realpath(path)))
    os.close(fd)
    os.unlink(temp)


def check_writable_dir(path: str | os.PathLike[str]) -> None:
    """Make directory ``path`` (and its parents) if needed and check a file can be written in it."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".ddex-otel-probe.", suffix=_TEMP_SUFFIX)
    os.close(fd)
    os.unlink(temp)

