"""slowfast_vos: SlowFast temporal context for Mask R-CNN video object segmentation, as a Detectron2 extension.

Importing the package registers its meta-architecture, DAVIS datasets and evaluator in Detectron2's registries.
One exception: the process of ``python -m slowfast_vos.evaluation`` scores folders of PNGs without torch or
Detectron2, so while Python imports this package on the way to that module nothing is registered (its submodules
still import, and register, when something imports them).
"""
import sys
import warnings

from .utils.console import ignore_third_party_warnings
from .utils.lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["add_slowfast_vos_config"]

# Modules run with ``python -m`` that need none of the registrations.
LIGHT_MAIN_MODULES = ("slowfast_vos.evaluation",)
# Interpreter options that take the next command-line item as their value.
_OPTIONS_WITH_VALUE = ("-X", "-W", "--check-hash-based-pycs")


def _main_module_argument(argv: list) -> "str | None":
    """The module of ``python [options] -m MODULE ...`` in an interpreter command line, else None."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg.startswith("-m"):
            return arg[2:]
        if arg in _OPTIONS_WITH_VALUE:
            i += 2
            continue
        if arg == "-c" or arg == "-" or not arg.startswith("-"):
            return None  # a command, stdin or a script: no -m
        i += 1
    return None


def _importing_for_light_main() -> bool:
    """Whether Python is importing this package to run one of LIGHT_MAIN_MODULES as ``__main__``.

    While ``python -m X`` imports X's parent packages, ``sys.argv[0]`` is "-m" (it becomes X's path before X runs);
    ``sys.orig_argv`` names X. Both must agree, so any other way of importing the package registers.
    """
    return sys.argv[:1] == ["-m"] and _main_module_argument(getattr(sys, "orig_argv", [])) in LIGHT_MAIN_MODULES


if _importing_for_light_main():
    __getattr__, __dir__ = lazy_exports(__name__, {"add_slowfast_vos_config": ".config"})
else:
    with warnings.catch_warnings():
        ignore_third_party_warnings()  # what fvcore prints when Detectron2 is imported (the caller's filters return)
        from . import evaluation, modeling  # noqa: F401  (registers SlowFastRCNN)
        from .data import datasets  # noqa: F401  (registers the built-in DAVIS splits)
        from .evaluation import davis_evaluator  # noqa: F401
        from .config import add_slowfast_vos_config
