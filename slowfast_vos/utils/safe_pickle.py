"""Read Detectron2 / model-zoo ``.pkl`` weights without running code from them.

A plain ``pickle.load`` calls whatever a file names (``os.system`` included), so a weights file from elsewhere
could run code. These files hold only dicts, lists, tuples, strings, numbers and numpy arrays, so the unpickler
here resolves only the few globals those need (numpy's array / dtype / scalar rebuilders, ``OrderedDict``, the
bytes decoder of protocol-2 pickles) and refuses every other one, naming the file.
"""
from __future__ import annotations

import pickle
from typing import Any, BinaryIO, Callable, Dict, Tuple

__all__ = ["UntrustedFileError", "restricted_load"]


class UntrustedFileError(pickle.UnpicklingError):
    """A pickle names something a weights file never holds (a function or class that could run code)."""


def _numpy(module: str, name: str) -> Callable[[], Any]:
    """Resolve numpy's ``module.name`` lazily, under numpy 2's private path for numpy 1's ``numpy.core``."""
    def resolve() -> Any:
        import importlib
        return getattr(importlib.import_module(module), name)
    return resolve


def _ordered_dict() -> Any:
    import collections
    return collections.OrderedDict


def _codecs_encode() -> Any:
    import codecs
    return codecs.encode


# (module, name) a Detectron2 / Caffe2 / Detectron1 model-zoo pickle may name -> how to get it. numpy 1 and
# Python 2 pickles say numpy.core, numpy 2 ones numpy._core; both resolve to numpy 2's objects.
_ALLOWED: Dict[Tuple[str, str], Callable[[], Any]] = {
    ("numpy", "ndarray"): _numpy("numpy", "ndarray"),
    ("numpy", "dtype"): _numpy("numpy", "dtype"),
    ("collections", "OrderedDict"): _ordered_dict,
    ("_codecs", "encode"): _codecs_encode,  # how protocol <= 2 pickles of Python 3 store bytes
}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_core}.multiarray", "_reconstruct")] = _numpy("numpy._core.multiarray", "_reconstruct")
    _ALLOWED[(f"{_core}.multiarray", "scalar")] = _numpy("numpy._core.multiarray", "scalar")
    _ALLOWED[(f"{_core}.numeric", "_frombuffer")] = _numpy("numpy._core.numeric", "_frombuffer")


class _RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` knows only the globals of :data:`_ALLOWED`."""

    def __init__(self, file: BinaryIO, source: str):
        super().__init__(file, encoding="latin1")  # Python 2 pickles (Caffe2 / Detectron1 zoo) hold latin-1 str
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        resolve = _ALLOWED.get((module, name))
        if resolve is None:
            raise UntrustedFileError(
                f"{self.source}: refusing to load this pickle: it names {module}.{name}, which a weights file never "
                "holds (only dicts, lists, strings, numbers and numpy arrays) and which could run code"
            )
        found = resolve()
        if name in ("scalar", "_reconstruct", "_frombuffer"):
            return _checked(self.source, found)
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise UntrustedFileError(f"{self.source}: refusing to load this pickle: it holds a persistent reference "
                                 f"({pid!r}), which a Detectron2 .pkl never does")


# Most elements of a numpy array, and most bytes of one numpy value, a weights pickle may ask for: far above any
# model-zoo tensor, so a crafted request for terabytes is refused before numpy allocates it (a smaller request that
# still does not fit in memory is a MemoryError, which restricted_load turns into an error naming the file).
MAX_ARRAY_ELEMENTS = 1 << 32
MAX_ITEM_BYTES = 1 << 20


def _checked(source: str, rebuild: Callable[..., Any]) -> Callable[..., Any]:
    """numpy's ``rebuild`` (scalar / _reconstruct / _frombuffer) refusing a shape beyond MAX_ARRAY_ELEMENTS and a
    dtype beyond MAX_ITEM_BYTES."""
    def call(*args: Any) -> Any:
        import numpy as np
        for arg in args:
            if isinstance(arg, np.dtype) and arg.itemsize > MAX_ITEM_BYTES:
                raise UntrustedFileError(f"{source}: refusing to load this pickle: it asks for a numpy value of "
                                         f"{arg.itemsize} bytes")
            if isinstance(arg, tuple) and arg and all(isinstance(n, int) for n in arg):
                count = 1
                for n in arg:
                    count *= max(n, 0)
                if count > MAX_ARRAY_ELEMENTS:
                    raise UntrustedFileError(f"{source}: refusing to load this pickle: it asks for a numpy array "
                                             f"of shape {arg}")
        return rebuild(*args)
    return call


def restricted_load(file: BinaryIO, source: str) -> Any:
    """Unpickle ``file`` allowing only model-zoo contents; ``source`` (the file's name) goes into every error: odd
    contents (arguments of the wrong types for numpy, an allocation too large) are a pickle.UnpicklingError naming
    it, not a bare TypeError or MemoryError."""
    try:
        return _RestrictedUnpickler(file, source).load()
    except (MemoryError, TypeError, AttributeError, KeyError, OverflowError, RecursionError) as e:
        raise pickle.UnpicklingError(f"{source}: not a weights pickle ({type(e).__name__}: {str(e)[:200]})") from None
