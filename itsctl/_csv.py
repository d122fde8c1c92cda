"""Secrets a service shows only once (PINs, activation codes), into an operator's CSV file.

The file is created readable by its owner only (0600) and refused if it exists unless forced; it is
written batch by batch as the answers arrive (each batch flushed to disk), behind a progress bar; on
an error the command says how many were written, and removes the file if none was.
"""

from __future__ import annotations

import asyncio
import csv
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from itsctl._common import err_console, fail
from itsctl._http import CALL_ERRORS, ServiceError, error_message


class Batches(Protocol):
    """How far an export got: rows written, and the size of the request in flight (0 if none)."""

    written: int
    requested: int


def open_private(path: Path, *, force: bool) -> IO[str]:
    """`path` opened for writing, created with mode 0600; FileExistsError unless `force`."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file (with --force) keeps its mode otherwise
        return os.fdopen(fd, "w", newline="", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def check_out(out: Path, *, force: bool) -> None:
    """Fails (exit 2) before anything is asked of a service if OUT cannot be written as asked."""
    if out.is_dir():
        fail(f"{escape(str(out))} is a directory", code=2)
    if out.exists() and not force:
        _exists(out)


def create_out(out: Path, *, force: bool) -> IO[str]:
    """OUT created 0600 (see `open_private`), or the command fails with the reason."""
    try:
        return open_private(out, force=force)
    except FileExistsError:
        _exists(out)
    except OSError as exc:
        fail(f"cannot create {escape(str(out))}: {escape(exc.strerror or str(exc))}")


def _exists(out: Path) -> NoReturn:
    fail(f"{escape(str(out))} exists; give --force to overwrite it", code=2)


class CsvBatches:
    """A CSV writer that writes the header at once and each batch of rows to disk as it comes."""

    def __init__(self, out: IO[str], columns: Sequence[str]) -> None:
        self.out = out
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(columns)
        out.flush()

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        self.writer.writerows(rows)
        self.out.flush()
        os.fsync(self.out.fileno())


def progress_bar(label: str) -> Progress:
    """A progress bar on stderr (only on a terminal) that goes away when done."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


def run_export(
    work: Callable[[Callable[[int], None]], Awaitable[None]],
    *,
    file: IO[str],
    out: Path,
    count: int,
    what: str,
    state: Batches,
    label: str = "issuing",
) -> None:
    """Run `work(advance)` with a progress bar of `count` and close `file`; on an error, fail saying how many
    `what` (e.g. "numbers") were written to `out` (and remove `out` if none was)."""
    progress = progress_bar(label)

    async def go() -> None:
        task = progress.add_task(label, total=count)
        await work(lambda n: progress.advance(task, n))

    error: str | None = None
    try:
        with file, progress:
            asyncio.run(go())
    except (*CALL_ERRORS, RuntimeError, KeyboardInterrupt) as exc:
        if isinstance(exc, KeyboardInterrupt):
            error = "interrupted"
        else:
            error = error_message(exc) if isinstance(exc, CALL_ERRORS) else str(exc)
        if state.requested and not isinstance(exc, ServiceError):
            # No answer: the service may have carried out that request; what it showed is lost with the answer.
            error += f"\n(the request for {state.requested} more may have been carried out: no answer came)"
    if error is not None:
        if state.written == 0:
            out.unlink(missing_ok=True)
            fail(escape(f"{error}\nno {what} were written; {out} is removed"))
        fail(escape(f"{error}\n{state.written} of {count} {what} were issued and written to {out}"))
