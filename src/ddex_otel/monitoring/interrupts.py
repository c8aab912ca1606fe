"""Ctrl-C for a batch: stop taking files, finish what is in flight, leave within a bound.

A terminal's Ctrl-C (and ``timeout -s INT``, many supervisors) signals the whole process group,
often more than once. Raising ``KeyboardInterrupt`` wherever the main thread happens to be can
break the wind-down itself (a pool shutdown half done, a summary never printed, worker processes
left for the interpreter's exit hooks to wait on without a timeout). ``CtrlC`` turns presses into
events instead: the first asks the batch to stop, any later one to hurry (stop waiting for files
in flight and end the worker processes now). The batch polls the events; nothing is raised.

Worker processes are born with SIGINT blocked (``sigint_blocked`` around the pool's process
starts) and ignore it from their initializer on, so a press can never interrupt a worker halfway
through taking a task off the pool's queue; the parent tells them when to stop.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class CtrlC:
    """A SIGINT handler that records presses: ``stop`` after the first, ``hurry`` after a later one.

    With ``raise_on_stop`` the first press also raises ``KeyboardInterrupt`` (work running in this
    very process, which only an exception can stop); later presses never raise.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.hurry = threading.Event()
        self.presses = 0
        self.raise_on_stop = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.presses += 1
        if self.stop.is_set():
            self.hurry.set()
            return
        self.stop.set()
        if self.raise_on_stop:
            raise KeyboardInterrupt


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def handling_ctrl_c() -> Iterator[CtrlC | None]:
    """Install a ``CtrlC`` for the block (the one installed already, if any, is reused).

    Yields None, leaving SIGINT alone, outside the main thread or when the application set its
    own SIGINT handler: the caller then relies on ``KeyboardInterrupt`` as before.
    """
    if not _in_main_thread():
        yield None
        return
    current = signal.getsignal(signal.SIGINT)
    if isinstance(current, CtrlC):
        yield current
        return
    if current is not signal.default_int_handler:
        yield None
        return
    handler = CtrlC()
    signal.signal(signal.SIGINT, handler)
    try:
        yield handler
    finally:
        signal.signal(signal.SIGINT, current)


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread for the block: processes started here inherit the blocked mask.

    A press meanwhile stays pending and is delivered when the block ends.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ignore_sigint_in_worker() -> None:
    """In a pool worker: ignore SIGINT, then unblock it (a press already pending is dropped)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
