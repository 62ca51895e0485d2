"""The ``siting`` command line (Typer + Rich): a thin layer over the pipeline and the studies."""

from siting.cli.app import app, main

__all__ = ["app", "main"]
