"""Overlays of VOS result masks (and optionally ground truth) on a sequence's frames: a GIF/MP4 and a contact sheet.

Works on plain DAVIS folders, so it shows the results of any method (``tools/visualize.py`` is its command line).
Drawing: each predicted object id is blended into the frame with its DAVIS palette colour and outlined with a solid
1-pixel contour in that colour; ground truth, when given, is drawn on the same frame as a dashed contour alternating
the object's colour and white (so prediction and GT can be told apart where they overlap). Void (255) is not drawn.
Masks are read with the DAVIS id-PNG policy of :mod:`vos_eval.davis_format` (no year: indexed or grey
ids; a 0/255 mask, DAVIS 2016 style, is object 1; colour PNGs are refused).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .davis_format import FRAME_EXT, MASK_EXT, VOID_ID, DAVISLayout, davis_palette, natural_sorted, read_id_png

from .io import atomic_write, join_under

__all__ = [
    "draw_gt_contours",
    "make_contact_sheet",
    "mp4_backend",
    "overlay_masks",
    "sample_indices",
    "visualize_results",
    "visualize_sequence",
]

# Pixels per dash of the ground-truth contour.
GT_DASH = 3
GT_DASH_COLOR_BGR = (255, 255, 255)


def object_ids(mask: np.ndarray) -> list[int]:
    """The object ids present in an id mask (background 0 and void 255 excluded), ascending."""
    return [int(i) for i in np.unique(mask) if i not in (0, VOID_ID)]


def _bgr(palette: np.ndarray, object_id: int) -> tuple[int, int, int]:
    """An id's palette colour as a BGR tuple for OpenCV drawing."""
    r, g, b = (int(c) for c in palette[object_id])
    return b, g, r


def _contours(binary: np.ndarray) -> list[np.ndarray]:
    """The outer and hole boundaries of a binary mask, every boundary pixel listed (no approximation)."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return list(contours)


def overlay_masks(frame_bgr: np.ndarray, mask: np.ndarray, palette: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend each object of an id mask into a BGR frame with its palette colour and outline it; returns a copy.

    Object pixels become ``(1 - alpha) * frame + alpha * colour`` (rounded), their boundary pixels the plain colour;
    pixels outside every object are left untouched (the contours lie on the objects' own boundary pixels).
    """
    if frame_bgr.shape[:2] != mask.shape:
        raise ValueError(f"frame size {frame_bgr.shape[:2]} differs from mask size {mask.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    out = frame_bgr.copy()
    for object_id in object_ids(mask):
        binary = mask == object_id
        color = np.array(_bgr(palette, object_id), dtype=np.float64)
        blended = (1.0 - alpha) * frame_bgr[binary].astype(np.float64) + alpha * color
        out[binary] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        cv2.drawContours(out, _contours(binary), -1, _bgr(palette, object_id), thickness=1)
    return out


def draw_gt_contours(frame_bgr: np.ndarray, gt: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Draw each ground-truth object's boundary as a dashed line (its colour alternating with white); returns a copy."""
    if frame_bgr.shape[:2] != gt.shape:
        raise ValueError(f"frame size {frame_bgr.shape[:2]} differs from ground-truth size {gt.shape}")
    out = frame_bgr.copy()
    for object_id in object_ids(gt):
        color = _bgr(palette, object_id)
        for contour in _contours(gt == object_id):
            points = contour.reshape(-1, 2)
            dash = (np.arange(len(points)) // GT_DASH) % 2 == 0
            out[points[dash, 1], points[dash, 0]] = color
            out[points[~dash, 1], points[~dash, 0]] = GT_DASH_COLOR_BGR
    return out


def _label(image: np.ndarray, text: str) -> None:
    """Write text in the top-left corner, white on a black outline so it reads on any frame (in place)."""
    scale = max(0.3, image.shape[1] / 400.0)
    (_, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 3)
    org = (3, 3 + text_h)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def sample_indices(num_frames: int, max_frames: int) -> list[int]:
    """At most max_frames distinct frame indices spread evenly over the sequence, first and last included."""
    if num_frames <= 0 or max_frames <= 0:
        return []
    count = min(num_frames, max_frames)
    if count == 1:
        return [0]
    return [int(i) for i in np.rint(np.linspace(0, num_frames - 1, count))]


def make_contact_sheet(
    images: Sequence[np.ndarray], labels: Sequence[str], columns: int = 6, thumb_width: int = 240
) -> np.ndarray:
    """Tile equally sized BGR images (each shrunk to thumb_width, labelled) into a grid with `columns` columns.

    The sheet is ``rows * thumb_h`` by ``min(columns, len(images)) * thumb_width`` pixels; unused cells stay black.
    """
    if not images:
        raise ValueError("make_contact_sheet needs at least one image")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if columns < 1 or thumb_width < 1:
        raise ValueError(f"columns and thumb_width must be >= 1, got {columns} and {thumb_width}")
    height, width = images[0].shape[:2]
    if any(image.shape[:2] != (height, width) for image in images):
        raise ValueError("make_contact_sheet needs images of one size")
    thumb_w = min(thumb_width, width)
    thumb_h = max(1, int(round(height * thumb_w / width)))
    cols = min(columns, len(images))
    rows = -(-len(images) // cols)
    sheet = np.zeros((rows * thumb_h, cols * thumb_w, 3), dtype=np.uint8)
    for k, (image, label) in enumerate(zip(images, labels)):
        thumb = cv2.resize(image, (thumb_w, thumb_h), interpolation=cv2.INTER_AREA)
        _label(thumb, label)
        row, col = divmod(k, cols)
        sheet[row * thumb_h:(row + 1) * thumb_h, col * thumb_w:(col + 1) * thumb_w] = thumb
    return sheet


def read_frame(path: str) -> np.ndarray:
    """Decode a JPEG frame as a BGR uint8 array."""
    with open(path, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8)
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError(f"{path}: cannot decode the frame image")
    return frame


def _require_dir(path: str, what: str) -> None:
    """Raise FileNotFoundError naming the folder if it does not exist."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{what} folder not found: {path}")


def list_result_frames(results_dir: str) -> list[str]:
    """The frame names (file stems) of a results folder's PNGs, in natural order."""
    _require_dir(results_dir, "results")
    names = natural_sorted(Path(n).stem for n in os.listdir(results_dir) if n.lower().endswith(MASK_EXT))
    if not names:
        raise FileNotFoundError(f"no result PNGs in {results_dir}")
    return names


def _write_png(path: str, image_bgr: np.ndarray) -> None:
    """Encode a BGR image as PNG and write it atomically."""
    ok, data = cv2.imencode(MASK_EXT, image_bgr)
    if not ok:
        raise RuntimeError(f"cannot encode {path}")
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data.tobytes()))


def write_gif(path: str, frames_bgr: Sequence[np.ndarray], fps: float) -> None:
    """Write frames as a looping GIF with Pillow (atomically)."""
    images = [Image.fromarray(cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for f in frames_bgr]
    duration_ms = int(round(1000.0 / fps))
    atomic_write(
        path,
        lambda tmp: images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms,
                                   loop=0),
    )


def mp4_backend() -> str | None:
    """Which MP4 writer is available: "imageio-ffmpeg", "opencv" (mp4v VideoWriter) or None."""
    try:
        import imageio_ffmpeg  # noqa: F401

        return "imageio-ffmpeg"
    except ImportError:
        pass
    probe = os.path.join(tempfile.mkdtemp(prefix="vis-mp4-probe-"), "probe.mp4")
    writer = cv2.VideoWriter(probe, cv2.VideoWriter_fourcc(*"mp4v"), 8.0, (16, 16))
    opened = writer.isOpened()
    writer.release()
    if os.path.exists(probe):
        os.remove(probe)
    os.rmdir(os.path.dirname(probe))
    return "opencv" if opened else None


def pad_even(frame: np.ndarray) -> np.ndarray:
    """Pad a frame with black to even height and width, which H.264/MPEG-4 4:2:0 encoders require."""
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    if not (pad_h or pad_w):
        return frame
    return cv2.copyMakeBorder(frame, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=(0, 0, 0))


def write_mp4(path: str, frames_bgr: Sequence[np.ndarray], fps: float) -> None:
    """Write frames as an MP4 with imageio-ffmpeg (H.264) or else OpenCV's mp4v writer (atomically)."""
    backend = mp4_backend()
    if backend is None:
        raise RuntimeError(
            f"cannot write {path}: no MP4 writer available (install imageio-ffmpeg, or an OpenCV with FFmpeg); "
            "use --format gif instead"
        )
    frames = [pad_even(f) for f in frames_bgr]

    def write(tmp: str) -> None:
        if backend == "imageio-ffmpeg":
            import imageio.v2 as imageio

            with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1) as writer:
                for frame in frames:
                    writer.append_data(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            return
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot open an mp4v writer for {path}; use --format gif instead")
        for frame in frames:
            writer.write(frame)
        writer.release()

    atomic_write(path, write)


def visualize_sequence(
    frames_dir: str,
    results_dir: str,
    output_dir: str,
    gt_dir: str | None = None,
    fmt: str = "gif",
    fps: float = 8.0,
    sheet_columns: int = 6,
    max_sheet_frames: int = 24,
    alpha: float = 0.5,
    name: str | None = None,
) -> dict[str, str]:
    """Render one sequence's result masks over its frames; returns {"video": path, "sheet": path}.

    Frames are those with a result PNG (``<results_dir>/<frame>.png`` over ``<frames_dir>/<frame>.jpg``); a GT PNG
    is drawn where ``<gt_dir>/<frame>.png`` exists. Outputs are named after `name` (default: the results folder).
    """
    if fmt not in ("gif", "mp4"):
        raise ValueError(f"format must be 'gif' or 'mp4', got {fmt!r}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    _require_dir(frames_dir, "frames")
    if gt_dir is not None:
        _require_dir(gt_dir, "ground-truth")
    frame_names = list_result_frames(results_dir)
    name = name or Path(os.path.normpath(results_dir)).name
    palette = davis_palette()

    rendered: list[np.ndarray] = []
    for frame_name in frame_names:
        frame_path = os.path.join(frames_dir, frame_name + FRAME_EXT)
        result_path = os.path.join(results_dir, frame_name + MASK_EXT)
        if not os.path.isfile(frame_path):
            raise FileNotFoundError(f"result {result_path} has no matching frame: {frame_path} does not exist")
        frame = read_frame(frame_path)
        mask = read_id_png(result_path)
        if mask.shape != frame.shape[:2]:
            raise ValueError(
                f"size mismatch: result {result_path} is {mask.shape[1]}x{mask.shape[0]} but frame {frame_path} is "
                f"{frame.shape[1]}x{frame.shape[0]} (WxH)"
            )
        if rendered and frame.shape != rendered[0].shape:
            raise ValueError(
                f"frame {frame_path} is {frame.shape[1]}x{frame.shape[0]}, unlike the sequence's first frame "
                f"({rendered[0].shape[1]}x{rendered[0].shape[0]})"
            )
        image = overlay_masks(frame, mask, palette, alpha)
        gt_path = os.path.join(gt_dir, frame_name + MASK_EXT) if gt_dir is not None else None
        if gt_path is not None and os.path.isfile(gt_path):
            gt = read_id_png(gt_path)
            if gt.shape != frame.shape[:2]:
                raise ValueError(
                    f"size mismatch: ground truth {gt_path} is {gt.shape[1]}x{gt.shape[0]} but frame {frame_path} "
                    f"is {frame.shape[1]}x{frame.shape[0]} (WxH)"
                )
            image = draw_gt_contours(image, gt, palette)
        rendered.append(image)

    os.makedirs(output_dir, exist_ok=True)
    video_path = join_under(output_dir, f"{name}.{fmt}")
    (write_gif if fmt == "gif" else write_mp4)(video_path, rendered, fps)
    picks = sample_indices(len(rendered), max_sheet_frames)
    sheet = make_contact_sheet([rendered[i] for i in picks], [frame_names[i] for i in picks], sheet_columns)
    sheet_path = join_under(output_dir, f"{name}_sheet.png")
    _write_png(sheet_path, sheet)
    return {"video": video_path, "sheet": sheet_path}


def visualize_results(
    layout: DAVISLayout,
    results_root: str,
    output_dir: str,
    sequences: Sequence[str] | None = None,
    show_gt: bool = False,
    **options,
) -> list[dict[str, str]]:
    """Render ``<results_root>/<sequence>`` over the layout's frames (and annotations with ``show_gt``) for every
    sequence given, or every sequence folder of ``results_root``; ``options`` go to :func:`visualize_sequence`."""
    _require_dir(results_root, "results root")
    if sequences is None:
        sequences = natural_sorted(n for n in os.listdir(results_root) if os.path.isdir(os.path.join(results_root, n)))
    if not sequences:
        raise FileNotFoundError(f"no sequence folders in {results_root}")
    return [
        visualize_sequence(
            join_under(layout.image_dir, seq),
            join_under(results_root, seq),
            output_dir,
            gt_dir=join_under(layout.annotation_dir, seq) if show_gt else None,
            name=seq,
            **options,
        )
        for seq in sequences
    ]
