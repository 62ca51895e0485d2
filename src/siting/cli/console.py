"""The command line's consoles (standard output and errors) and how it prints a note."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def print_note(note: str, indent: str = "") -> None:
    """A note of the data or the walking stage; a warning (the budget converts nothing) stands out."""
    if note.startswith("warning: "):
        console.print(f"{indent}[bold yellow]warning:[/bold yellow] {escape(note[len('warning: '):])}",
                      highlight=False)
    else:
        console.print(f"{indent}[yellow]note:[/yellow] {escape(note)}", highlight=False)


__all__ = ["console", "err_console", "print_note"]
