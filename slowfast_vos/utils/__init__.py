"""Small helpers shared by the package and its tools."""
from .io import atomic_write, write_json_atomic

__all__ = ["atomic_write", "write_json_atomic"]
