"""Markdown tables for the tools' reports, through tabulate."""
from __future__ import annotations

from typing import Any, Sequence

from tabulate import tabulate

__all__ = ["markdown_table"]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown (pipe) table of already formatted cells, each written as given (no padding or number parsing)."""
    return tabulate(rows, headers=list(headers), tablefmt="pipe", disable_numparse=True, stralign=None, numalign=None)
