"""Progress bars for long steps; quiet when output is not a terminal (CI logs stay readable)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[[int, int | None], None]]:
    """Yields ``update(done, total)``; draws a bar on a terminal, does nothing elsewhere."""
    if not console.is_terminal:

        def ignore(done: int, new_total: int | None = None) -> None:
            return None

        yield ignore
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total)

        def update(done: int, new_total: int | None = None) -> None:
            progress.update(task, completed=done, total=new_total if new_total is not None else total)

        yield update
