"""A batch worker that kills its process on files named ``crash*.xml`` (for the BrokenProcessPool test).

A module of its own so the pool's worker processes can import it by name.
"""

from __future__ import annotations

import os

from ddex_otel.monitoring.batch_runner import FileResult, FileTask, process_file


def crash_on_marked_files(task: FileTask) -> FileResult:
    if os.path.basename(task.path).startswith("crash"):
        os._exit(70)  # what a segfault in a C extension looks like to the pool
    return process_file(task)
