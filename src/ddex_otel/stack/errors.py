"""The one exception the stack raises: a clear one-line message, plus the log to read."""

from __future__ import annotations

from pathlib import Path


class StackError(RuntimeError):
    """Starting, checking or stopping the local stack failed."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(f"{message}; read {log}" if log else message)
        self.log = log

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the component log named in the message ('' if none)."""
        if not self.log or not self.log.is_file():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
