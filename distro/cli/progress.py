"""Progress bars for long work: on a terminal only, never with --json or into a pipe.

A script reading distro's output gets the same output it always did (the final summary, or the
JSON); a person at a terminal sees a Rich progress bar while the work runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Engine

from distro.audience.importer import ImportProgress, ProgressCallback
from distro.cli import output
from distro.sending.progress import SendProgress, send_progress


def wanted(as_json: bool) -> bool:
    """Whether to draw bars: stdout is a terminal and the output is not JSON."""
    return not as_json and output.console.is_terminal and not output.console.is_dumb_terminal


def _bar(*detail: TextColumn) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *detail,
        TimeElapsedColumn(),
        console=output.console,
        transient=False,
    )


@contextmanager
def import_bar(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A callback for ``import_contacts`` that moves a bar of lines read, or None."""
    if not enabled:
        yield None
        return
    with _bar(TextColumn("lines · {task.fields[rows]} valid rows")) as bar:
        task = bar.add_task("Importing", total=None, rows=0)

        def advance(progress: ImportProgress) -> None:
            bar.update(
                task, completed=progress.line, total=progress.total_lines, rows=progress.rows
            )

        yield advance


def watch(
    engine: Engine, send_id: int, *, enabled: bool, interval: float, timeout: float | None
) -> SendProgress:
    """Follow a send until it ends (or ``timeout`` seconds pass); a bar while it runs if
    ``enabled``. Returns where it stands at the end."""
    deadline = None if timeout is None else time.monotonic() + timeout
    current = send_progress(engine, send_id)
    if not enabled:
        while not current.finished and not _past(deadline):
            time.sleep(interval)
            current = send_progress(engine, send_id)
        return current
    detail = TextColumn(
        "{task.fields[status]} · {task.fields[sent]} sent · {task.fields[delivered]} "
        "delivered · {task.fields[failed]} failed · {task.fields[uncertain]} uncertain"
    )
    with _bar(detail) as bar:
        task = bar.add_task(
            f"Send {send_id}",
            total=None,
            status=current.status,
            sent=current.sent,
            delivered=current.delivered,
            failed=current.failed,
            uncertain=current.uncertain,
        )
        while True:
            _show(bar, task, current)
            if current.finished or _past(deadline):
                return current
            time.sleep(interval)
            current = send_progress(engine, send_id)


def _show(bar: Progress, task: TaskID, progress: SendProgress) -> None:
    bar.update(
        task,
        completed=progress.settled,
        total=progress.recipients or None,  # None until the send fires: an idle bar
        status=progress.status,
        sent=progress.sent,
        delivered=progress.delivered,
        failed=progress.failed,
        uncertain=progress.uncertain,
    )


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline
