"""The detectron2 installer's offline logic: repacking a wheel as pure Python and refusing a wrong checksum."""
import base64
import hashlib
import sys
from pathlib import Path
import zipfile

import pytest
from helpers import load_tool


@pytest.fixture(scope="module")
def installer():
    return load_tool("install_detectron2")


def _record_hash(text: str) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _fake_cp310_wheel(folder: Path) -> Path:
    """A minimal wheel shaped like sal-detectron2's: platform tag and a compiled _C next to Python modules."""
    path = folder / "sal_detectron2-0.7.2-cp310-none-any.whl"
    dist = "sal_detectron2-0.7.2.dist-info"
    files = {
        "detectron2/__init__.py": "__version__ = '0.7.2'\n",
        "detectron2/_C.cpython-310-x86_64-linux-gnu.so": "\x7fELF not really\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: sal-detectron2\nVersion: 0.7.2\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: setuptools\nRoot-Is-Purelib: false\n"
        "Tag: cp310-cp310-linux_x86_64\n\n",
        f"{dist}/top_level.txt": "detectron2\n",
    }
    record = "".join(f"{name},{_record_hash(text)},{len(text.encode())}\n" for name, text in files.items())
    record += f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr(f"{dist}/RECORD", record)
    return path


def test_repack_removes_compiled_extension_and_retags(installer, tmp_path):
    wheel = _fake_cp310_wheel(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    repacked = installer.repack_pure_python(wheel, work)
    assert repacked.name == "sal_detectron2-0.7.2-py3-none-any.whl"
    with zipfile.ZipFile(repacked) as zf:
        names = zf.namelist()
        wheel_meta = zf.read("sal_detectron2-0.7.2.dist-info/WHEEL").decode()
        record = zf.read("sal_detectron2-0.7.2.dist-info/RECORD").decode()
    assert "detectron2/__init__.py" in names
    assert not any(n.startswith("detectron2/_C") for n in names)
    assert "Tag: py3-none-any" in wheel_meta and "cp310" not in wheel_meta
    assert "Root-Is-Purelib: true" in wheel_meta
    assert "detectron2/_C" not in record


def test_checksum_mismatch_is_refused_with_a_clear_message(installer, tmp_path):
    (tmp_path / installer.REGISTRY_WHEEL).write_bytes(b"not the verified wheel")
    with pytest.raises(installer.InstallError, match="sha256 mismatch"):
        installer.install_from_registry(tmp_path)


@pytest.mark.slow
def test_failed_step_names_the_step_and_a_hint(installer):
    with pytest.raises(installer.InstallError) as err:
        installer.run_step("a step that fails", [sys.executable, "-c", "raise SystemExit(3)"], "try something")
    message = str(err.value)
    assert "a step that fails" in message and "what to try: try something" in message
