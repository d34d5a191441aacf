"""slowfast_vos.utils.console: third-party deprecation notices are filtered by message and module; the project's
own warnings, and everything else, stay visible."""
import logging
import subprocess
import sys
import warnings

import pytest

from helpers import REPO
from slowfast_vos.utils.console import THIRD_PARTY_LOG_RECORDS, THIRD_PARTY_WARNINGS, quiet_third_party_noise

JIT = "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`."


def emitted(message: str, category, module: str) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party_noise()
        warnings.warn_explicit(message, category, f"{module.replace('.', '/')}.py", 1, module=module)
    return bool(caught)


def test_third_party_warnings_are_filtered_by_message_and_module_only():
    assert not emitted(JIT, FutureWarning, "torch.jit._script")
    assert not emitted("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                       UserWarning, "torch.functional")
    assert emitted(JIT, FutureWarning, "slowfast_vos.modeling.meta_arch")  # the right message, another module
    assert emitted("`torch.jit.trace` is deprecated", FutureWarning, "torch.jit._script")  # another message
    assert emitted("MODEL.SLOWFAST.BORDER 'replicate' is experimental", UserWarning, "slowfast_vos.modeling")
    assert emitted("something else", DeprecationWarning, "torch.functional")
    assert len(THIRD_PARTY_WARNINGS) >= 3


def test_third_party_log_records_are_dropped_and_others_kept(caplog):
    quiet_third_party_noise()
    quiet_third_party_noise()  # idempotent: one filter per logger
    name, _ = THIRD_PARTY_LOG_RECORDS[0]
    logger = logging.getLogger(name)
    assert len(logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=name):
        logger.warning("is_fx_tracing will return true for both fx.symbolic_trace and torch.export.")
        logger.warning("a different torch.fx warning")
    assert [r.getMessage() for r in caplog.records] == ["a different torch.fx warning"]


@pytest.mark.slow
def test_importing_the_package_prints_no_import_noise_and_restores_the_callers_filters():
    code = (
        "import warnings; warnings.simplefilter('default'); before = list(warnings.filters); "
        "import slowfast_vos; assert warnings.filters == before, 'filters changed'; "
        "from detectron2.modeling import META_ARCH_REGISTRY; assert 'SlowFastRCNN' in META_ARCH_REGISTRY; "
        "warnings.warn('the project warns', UserWarning)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "torch.jit.script" not in proc.stderr
    assert "UserWarning: the project warns" in proc.stderr


@pytest.mark.slow
def test_entry_points_print_no_third_party_notices():
    """The tools import Detectron2 (which decorates functions with torch.jit.script) only after the filters."""
    for tool in ("train_net", "osvos_net", "demo", "visualize"):
        proc = subprocess.run([sys.executable, str(REPO / "tools" / f"{tool}.py"), "--help"], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (tool, proc.stderr)
        assert "torch.jit.script" not in proc.stderr and "Warning" not in proc.stderr, (tool, proc.stderr)
