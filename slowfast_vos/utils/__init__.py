"""Small helpers shared by the package and its tools."""
from .io import (
    UnsafePathError,
    atomic_write,
    atomic_write_all,
    build_atomically,
    build_lock_file,
    ensure_generated,
    join_under,
    link_or_copy,
    write_json_atomic,
)
from .tables import markdown_table

__all__ = ["UnsafePathError", "atomic_write", "atomic_write_all", "build_atomically", "build_lock_file",
           "ensure_generated", "join_under", "link_or_copy", "markdown_table", "write_json_atomic"]
