"""Small helpers shared by the package and its tools. The torch-free ones (atomic writes and folder builds, output
folder locks, Markdown tables) live in ``vos_eval`` and are imported from there; these names are kept for the
package's own modules."""
from vos_eval.folder_builds import build_atomically, build_lock_file, ensure_generated, link_or_copy
from vos_eval.io import UnsafePathError, atomic_write, atomic_write_all, join_under, write_json_atomic
from vos_eval.tables import markdown_table

__all__ = ["UnsafePathError", "atomic_write", "atomic_write_all", "build_atomically", "build_lock_file",
           "ensure_generated", "join_under", "link_or_copy", "markdown_table", "write_json_atomic"]
