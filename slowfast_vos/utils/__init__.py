"""Small helpers shared by the package and its tools."""
from vos_eval.io import UnsafePathError, atomic_write, atomic_write_all, join_under, write_json_atomic

from .tables import markdown_table

__all__ = ["UnsafePathError", "atomic_write", "atomic_write_all", "join_under", "markdown_table",
           "write_json_atomic"]
