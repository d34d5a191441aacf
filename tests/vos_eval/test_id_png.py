"""vos_eval.id_png: one reader of id PNGs whose policy (binary / void / result) is explicit, errors of the caller's
class that name the file."""
import numpy as np
import pytest
from PIL import Image

from vos_eval.errors import VOSFormatError
from vos_eval.id_png import BINARY, RESULT, VOID, palette, read_id_png, write_id_png
from vos_eval.ytvos_format import YTVOSFormatError, read_mask


class _Custom(VOSFormatError):
    pass


def test_policies_read_the_same_png_as_their_table_says(tmp_path):
    ids = np.array([[0, 1, 2], [255, 2, 0]], np.uint8)
    path = str(tmp_path / "ids.png")
    write_id_png(path, ids)
    assert Image.open(path).mode == "P" and np.array_equal(read_id_png(path, VOID), ids)
    assert np.array_equal(read_id_png(path, RESULT), ids)
    assert np.array_equal(read_id_png(path, BINARY), (ids != 0).astype(np.uint8))
    binary = str(tmp_path / "binary.png")
    write_id_png(binary, (ids == 1).astype(np.uint8), binary=True)  # a 0/255 grey PNG
    assert np.array_equal(read_id_png(binary, RESULT), (ids == 1).astype(np.uint8))
    with pytest.raises(_Custom, match=r"binary\.png holds only 0 and 255.*Do this instead"):
        read_id_png(binary, VOID, error=_Custom, binary_hint="do this instead")


def test_rgb_pngs_are_converted_under_void_and_refused_as_results(tmp_path):
    ids = np.array([[0, 1], [2, 255]], np.uint8)
    path = str(tmp_path / "rgb.png")
    Image.fromarray(palette()[ids]).save(path)
    assert np.array_equal(read_id_png(path, VOID), ids)
    with pytest.raises(_Custom, match=r"rgb\.png: mask PNG has mode 'RGB'"):
        read_id_png(path, RESULT, error=_Custom)
    with pytest.raises(ValueError, match="policy must be one of"):
        read_id_png(path, "2017")


def test_youtube_vos_masks_fail_with_youtube_vos_errors_naming_the_file(tmp_path):
    bad = tmp_path / "00000.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(YTVOSFormatError, match=r"cannot read YouTube-VOS mask .*00000\.png"):
        read_mask(str(bad))
