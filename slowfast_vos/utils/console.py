"""A clean console: the third-party deprecation notices the project's tools would print, filtered by message and
module (never whole categories, never the project's own warnings).

Entry points (``tools/*.py``, the evaluation CLI) call :func:`quiet_third_party_noise` once at start-up;
``import slowfast_vos`` applies the warning filters while it imports Detectron2 only (the notices fvcore triggers
at import), and restores the caller's filters afterwards.
"""
from __future__ import annotations

import logging
import re
import warnings

__all__ = ["THIRD_PARTY_LOG_RECORDS", "THIRD_PARTY_WARNINGS", "ignore_third_party_warnings", "quiet_third_party_noise"]

# (category, message regex, regex of the module the warning is attributed to).
THIRD_PARTY_WARNINGS = (
    # fvcore and Detectron2 decorate functions with torch.jit.script at import.
    (FutureWarning, r"`torch\.jit\.script` is deprecated", r"torch\.jit\._script$"),
    # Detectron2's anchor generator calls torch.meshgrid without indexing=.
    (UserWarning, r"torch\.meshgrid: in an upcoming release", r"torch\.functional$"),
    # Detectron2's AMPTrainer uses the torch.cuda.amp spellings.
    (FutureWarning, r"`torch\.cuda\.amp\.\w+\(args\.\.\.\)` is deprecated", r"detectron2\."),
    # detectron2.model_zoo imports pkg_resources.
    (UserWarning, r"pkg_resources is deprecated as an API", r"detectron2\."),
)
# (logger name, message regex): notices torch sends through logging rather than warnings.
THIRD_PARTY_LOG_RECORDS = (
    # Detectron2 asks torch.fx whether it is tracing on every forward pass.
    ("torch.fx._symbolic_trace", r"is_fx_tracing will return true"),
)


class _DropMessages(logging.Filter):
    """Drops a logger's records whose message matches a pattern."""

    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


def ignore_third_party_warnings() -> None:
    """Add a warnings filter for each of THIRD_PARTY_WARNINGS (message and module must both match)."""
    for category, message, module in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def quiet_third_party_noise() -> None:
    """Filter THIRD_PARTY_WARNINGS and THIRD_PARTY_LOG_RECORDS for the rest of the process (idempotent)."""
    ignore_third_party_warnings()
    for name, pattern in THIRD_PARTY_LOG_RECORDS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) and f.pattern.pattern == pattern for f in logger.filters):
            logger.addFilter(_DropMessages(pattern))
