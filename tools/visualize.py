#!/usr/bin/env python
"""Overlay VOS result masks (and optionally ground truth) on a sequence's frames: a GIF/MP4 and a contact sheet.

Works on plain DAVIS folders, so it shows the results of any method:

    python tools/visualize.py --frames DAVIS/JPEGImages/480p/bear --results out/results/bear \\
        [--gt DAVIS/Annotations/480p/bear] --output vis/ [--format gif|mp4] [--fps 8]
    python tools/visualize.py --davis-root DAVIS --results-root out/results [--sequences bear car] \\
        [--show-gt] --output vis/

Drawing: each predicted object id is blended into the frame with its DAVIS palette colour and outlined with a solid
1-pixel contour in that colour; ground truth, when given, is drawn on the same frame as a dashed contour alternating
the object's colour and white (so prediction and GT can be told apart where they overlap). Void (255) is not drawn.
Writes ``<output>/<sequence>.<gif|mp4>`` and ``<output>/<sequence>_sheet.png`` (evenly sampled frames, each
labelled with its frame name). Mask PNGs must be indexed (palette) PNGs; grayscale PNGs are read as ids, except
0/255 ones (DAVIS 2016 style), where 255 is object 1.

tools/ is not a package: load this file by path (``importlib.util.spec_from_file_location``) to call
``overlay_masks``, ``make_contact_sheet`` or ``visualize_sequence``, or run it with ``main(argv)``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from detectron2.utils.file_io import PathManager
from PIL import Image

from slowfast_vos.data import davis_palette
from slowfast_vos.utils import atomic_write
from slowfast_vos.utils.console import quiet_third_party_noise

VOID_ID = 255
FRAME_EXT = ".jpg"
MASK_EXT = ".png"
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


def read_id_mask(path: str) -> np.ndarray:
    """Read an indexed mask PNG as an (H, W) uint8 id map; grayscale 0/255 masks (DAVIS 2016) map 255 to id 1."""
    with PathManager.open(path, "rb") as f:
        image = Image.open(f)
        image.load()
    if image.mode == "P":
        return np.asarray(image, dtype=np.uint8).copy()
    if image.mode in ("L", "1"):
        mask = np.asarray(image.convert("L"), dtype=np.uint8).copy()
        if set(np.unique(mask).tolist()) <= {0, 255}:
            mask[mask == 255] = 1
        return mask
    raise ValueError(
        f"{path}: mask PNG has mode {image.mode!r} ({len(image.getbands())} channels); expected an indexed "
        "(palette, mode 'P') PNG of object ids: 0 background, 1..K objects, 255 void. Save masks with a palette "
        "(e.g. PIL Image.fromarray(ids).putpalette(...)), not as colour images."
    )


def read_frame(path: str) -> np.ndarray:
    """Decode a JPEG frame as a BGR uint8 array."""
    with PathManager.open(path, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8)
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError(f"{path}: cannot decode the frame image")
    return frame


def _require_dir(path: str, what: str) -> None:
    """Raise FileNotFoundError naming the folder if it does not exist."""
    if not PathManager.isdir(path):
        raise FileNotFoundError(f"{what} folder not found: {path}")


def list_result_frames(results_dir: str) -> list[str]:
    """The frame names (file stems) of a results folder's PNGs, sorted."""
    _require_dir(results_dir, "results")
    names = sorted(Path(n).stem for n in PathManager.ls(results_dir) if n.lower().endswith(MASK_EXT))
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
        if not PathManager.isfile(frame_path):
            raise FileNotFoundError(f"result {result_path} has no matching frame: {frame_path} does not exist")
        frame = read_frame(frame_path)
        mask = read_id_mask(result_path)
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
        if gt_path is not None and PathManager.isfile(gt_path):
            gt = read_id_mask(gt_path)
            if gt.shape != frame.shape[:2]:
                raise ValueError(
                    f"size mismatch: ground truth {gt_path} is {gt.shape[1]}x{gt.shape[0]} but frame {frame_path} "
                    f"is {frame.shape[1]}x{frame.shape[0]} (WxH)"
                )
            image = draw_gt_contours(image, gt, palette)
        rendered.append(image)

    os.makedirs(output_dir, exist_ok=True)
    video_path = os.path.join(output_dir, f"{name}.{fmt}")
    (write_gif if fmt == "gif" else write_mp4)(video_path, rendered, fps)
    picks = sample_indices(len(rendered), max_sheet_frames)
    sheet = make_contact_sheet([rendered[i] for i in picks], [frame_names[i] for i in picks], sheet_columns)
    sheet_path = os.path.join(output_dir, f"{name}_sheet.png")
    _write_png(sheet_path, sheet)
    return {"video": video_path, "sheet": sheet_path}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (one sequence by folders, or several under a DAVIS root and a results root)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    one = parser.add_argument_group("one sequence")
    one.add_argument("--frames", help="folder of the sequence's JPEG frames (00000.jpg ...)")
    one.add_argument("--results", help="folder of the sequence's result PNGs (indexed, one per frame)")
    one.add_argument("--gt", help="folder of the sequence's ground-truth PNGs (drawn as dashed contours)")
    many = parser.add_argument_group("several sequences")
    many.add_argument("--davis-root", help="DAVIS root holding JPEGImages/<resolution>/<sequence>")
    many.add_argument("--results-root", help="results root holding <sequence>/<frame>.png")
    many.add_argument("--sequences", nargs="+", help="sequences to render (default: every folder in --results-root)")
    many.add_argument("--resolution", default="480p", help="DAVIS resolution folder (480p or Full-Resolution)")
    many.add_argument("--show-gt", action="store_true", help="also draw Annotations/<resolution>/<sequence>")
    parser.add_argument("--output", required=True, help="folder for <sequence>.<format> and <sequence>_sheet.png")
    parser.add_argument("--format", choices=("gif", "mp4"), default="gif")
    parser.add_argument("--fps", type=float, default=8.0)
    parser.add_argument("--alpha", type=float, default=0.5, help="opacity of the mask colour")
    parser.add_argument("--sheet-columns", type=int, default=6)
    parser.add_argument("--max-sheet-frames", type=int, default=24)
    args = parser.parse_args(argv)
    single = args.frames is not None or args.results is not None
    multi = args.davis_root is not None or args.results_root is not None
    if single == multi:
        parser.error("give either --frames and --results, or --davis-root and --results-root")
    if single and (args.frames is None or args.results is None):
        parser.error("--frames and --results go together")
    if multi and (args.davis_root is None or args.results_root is None):
        parser.error("--davis-root and --results-root go together")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Render the sequences named on the command line; prints each output path."""
    args = _parse_args(argv)
    options = dict(fmt=args.format, fps=args.fps, sheet_columns=args.sheet_columns,
                   max_sheet_frames=args.max_sheet_frames, alpha=args.alpha)
    if args.frames is not None:
        jobs = [(args.frames, args.results, args.gt, None)]
    else:
        _require_dir(args.results_root, "results root")
        sequences = args.sequences or sorted(
            n for n in PathManager.ls(args.results_root) if PathManager.isdir(os.path.join(args.results_root, n))
        )
        if not sequences:
            raise FileNotFoundError(f"no sequence folders in {args.results_root}")
        jobs = [
            (
                os.path.join(args.davis_root, "JPEGImages", args.resolution, seq),
                os.path.join(args.results_root, seq),
                os.path.join(args.davis_root, "Annotations", args.resolution, seq) if args.show_gt else None,
                seq,
            )
            for seq in sequences
        ]
    for frames_dir, results_dir, gt_dir, name in jobs:
        paths = visualize_sequence(frames_dir, results_dir, args.output, gt_dir=gt_dir, name=name, **options)
        print(f"{paths['video']}\n{paths['sheet']}")
    return 0


if __name__ == "__main__":
    quiet_third_party_noise()
    sys.exit(main())
