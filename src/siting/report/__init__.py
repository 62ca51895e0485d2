"""Outputs of a run: tables, summary, map and the report, written atomically."""

from siting.report.atomic import atomic_output_dir
from siting.report.outputs import write_run_outputs

__all__ = ["atomic_output_dir", "write_run_outputs"]
