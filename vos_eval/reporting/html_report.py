"""A static HTML report comparing methods on one DAVIS set: tables, J&F over time, the frames where they differ.

The report is a folder: ``index.html`` (plain HTML and CSS, no script, opens from disk) and ``img/`` (one J&F-over-time
PNG per sequence, one JPEG strip per picked frame: ground truth, then each method's overlay with the ground truth as a
dashed contour, drawn by :mod:`vos_eval.visualization`). It is built in a hidden sibling folder and renamed into
place, so a half-written report never looks complete. Images are small (thumbnails, JPEG) so a report of a few
sequences stays well under a few MB.
"""
from __future__ import annotations

import html
import os
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote

import cv2
import numpy as np

from ..davis_format import FRAME_EXT, MASK_EXT, DAVISFormatError, DAVISLayout, davis_palette, read_id_png
from ..folder_builds import build_atomically
from ..frame_tags import FRAME_TAGS_FILE
from ..io import join_under
from ..provenance import portable_path
from ..scoring import GLOBAL_COLUMNS
from ..visualization import draw_gt_contours, make_contact_sheet, overlay_masks, read_frame
from .comparison import Comparison, ComparisonError, Layout, compare_methods, describe_layout, resolve_results_dir

__all__ = ["REPORT_GENERATOR", "default_frame_tags", "render_report", "write_comparison_report"]

# Marks a folder as a report of this module: only such a folder (or an empty one) is replaced by a new report.
REPORT_GENERATOR = "slowfast_vos comparison report"
REPORT_INDEX = "index.html"
IMAGE_DIR = "img"
# Frames shown per sequence, thumbnail width (pixels) and JPEG quality of the frame strips.
FRAMES_PER_SEQUENCE = 3
THUMB_WIDTH = 240
JPEG_QUALITY = 80
# "auto": the set's frame_tags.json when there is one (see default_frame_tags).
AUTO = "auto"

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.gain { background: #e3f4e3; } td.loss { background: #f8e1e1; }
figure { margin: 0.5em 0 1em; } figcaption { font-size: 0.85em; color: #444; }
section { border-top: 1px solid #ddd; margin-top: 1.5em; }
.note { font-size: 0.85em; color: #555; }
"""


def default_frame_tags(davis_root: str) -> Optional[str]:
    """The frame tags file of a DAVIS root: ``<root>/frame_tags.json``, or the parent's for the synthetic set's
    DAVIS 2016 view (``<synthetic root>/2016``); None where there is none (real DAVIS)."""
    for folder in (davis_root, os.path.dirname(os.path.abspath(davis_root))):
        path = os.path.join(folder, FRAME_TAGS_FILE)
        if os.path.isfile(path):
            return path
    return None


def _number(value: float) -> str:
    """A score as the evaluator's tables write it (3 decimals), "n/a" for NaN."""
    return "n/a" if value is None or np.isnan(value) else f"{value:.3f}"


def _cell(value: float, signed: bool = False) -> str:
    """A numeric table cell; signed differences are coloured by their sign."""
    if not signed:
        return f'<td class="num">{_number(value)}</td>'
    css = "gain" if value > 0 else "loss" if value < 0 else ""
    return f'<td class="num {css}">{value:+.3f}</td>'


def _row(cells: Sequence[str], header: bool = False) -> str:
    """One table row of already formatted cells (``<td>``/``<th>`` elements or plain text for headers)."""
    if header:
        return "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cells) + "</tr>"
    return "<tr>" + "".join(cells) + "</tr>"


def _anchor(sequence: str) -> str:
    """The id of a sequence's section."""
    return "seq-" + quote(sequence, safe="")


def _image_name(sequence: str, suffix: str) -> str:
    """File name under img/ for a sequence's image (sequence names are plain names, checked by the evaluator)."""
    return f"{sequence}-{suffix}"


def _img(name: str, alt: str, shape: Sequence[int]) -> str:
    """An <img> of a file under img/ with its size, so the page lays out before images load."""
    src = f"{IMAGE_DIR}/{quote(name)}"
    return f'<img src="{src}" alt="{html.escape(alt)}" width="{shape[1]}" height="{shape[0]}">'


def _x_axis(frames: Sequence[str]) -> np.ndarray:
    """Frame numbers where the names are numbers (DAVIS 00000.png ...), else positions."""
    if all(f.isdigit() for f in frames):
        return np.array([int(f) for f in frames])
    return np.arange(len(frames))


def plot_jf_over_time(comparison: Comparison, sequence: str, picked: Sequence[int], path: str) -> Tuple[int, int]:
    """Write a PNG of every method's per-frame J&F on one sequence, degraded frames shaded, the picked frames
    marked and, per method, the frames where it has lost an object (an x at the bottom, in its colour); returns the
    image's (height, width)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    frames = comparison.frames[sequence]
    x = _x_axis(frames)
    kinds = comparison.frame_kinds.get(sequence, {})
    figure = Figure(figsize=(6.4, 2.1), dpi=80)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    handles = []
    degraded = [xi for xi, frame in zip(x, frames) if "degraded" in kinds.get(frame, ())]
    for xi in degraded:
        ax.axvspan(xi - 0.5, xi + 0.5, color="0.85", lw=0)
    for i in picked:
        ax.axvline(x[i], color="0.45", ls=":", lw=0.9)
    lost_any = False
    for method in comparison.methods:
        line, = ax.plot(x, comparison.frame_jf(method, sequence), marker=".", ms=3, lw=1.2, label=method.name)
        handles.append(line)
        lost = [xi for xi, frame in zip(x, frames) if frame in method.lost_frames.get(sequence, ())]
        if lost:
            ax.plot(lost, [0.0] * len(lost), ls="none", marker="x", ms=5, color=line.get_color())
            lost_any = True
    if lost_any:
        handles.append(Line2D([], [], ls="none", marker="x", color="0.3", label="object lost (J < 0.1)"))
    if degraded:
        handles.append(Patch(color="0.85", label="degraded frame"))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    ax.set_xlabel("frame", fontsize=8)
    ax.set_ylabel("J&F", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(handles=handles, loc="lower left", fontsize=7, ncol=len(handles), framealpha=0.8)
    figure.tight_layout(pad=0.3)
    figure.savefig(path, format="png")
    width, height = canvas.get_width_height()
    return height, width


def render_frame_strip(comparison: Comparison, sequence: str, index: int, thumb_width: int) -> np.ndarray:
    """One picked frame side by side: ground truth, then each method's masks with the ground truth dashed (BGR)."""
    layout, frame = comparison.layout, comparison.frames[sequence][index]
    palette = davis_palette()
    image = read_frame(join_under(layout.image_dir, sequence, frame + FRAME_EXT))
    gt = comparison.benchmark.read_annotation(layout, sequence, frame)
    tiles, labels = [overlay_masks(image, gt, palette)], [f"GT {frame}"]
    for method in comparison.methods:
        pred = read_id_png(join_under(method.results_dir, sequence, frame + MASK_EXT))
        tiles.append(draw_gt_contours(overlay_masks(image, pred, palette), gt, palette))
        labels.append(f"{method.name} {comparison.frame_jf(method, sequence)[index]:.2f}")
    return make_contact_sheet(tiles, labels, columns=len(tiles), thumb_width=thumb_width)


def _write_jpeg(path: str, image: np.ndarray, quality: int) -> None:
    """Encode a BGR image as a JPEG file."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"cannot encode {path}")
    with open(path, "wb") as f:
        f.write(data.tobytes())


def _overall_tables(comparison: Comparison, shown_from: str) -> List[str]:
    """The global table (the evaluator's columns) and, on a tagged set, J&F / J / F per frame kind (the tags file
    named relative to the repository or ``shown_from``)."""
    parts = ['<h2 id="overall">Overall</h2>', '<table id="overall-table">',
             _row(["Method", *GLOBAL_COLUMNS], header=True)]
    for m in comparison.methods:
        parts.append(_row([f"<td>{html.escape(m.name)}</td>"] + [_cell(m.results.global_metrics[c])
                                                                  for c in GLOBAL_COLUMNS]))
    parts.append("</table>")
    if comparison.kinds:
        tags_file = portable_path(os.path.abspath(comparison.tags_file), shown_from)
        parts += ['<h3 id="kinds">By kind of frame</h3>',
                  f'<p class="note">From {html.escape(tags_file)}: each object\'s J and F averaged '
                  "over its frames of the kind, then over objects (clean and degraded as the evaluator's "
                  "results.json); border: the first and last frames, whose temporal window reaches outside the "
                  "video; occluded: some object largely hidden.</p>",
                  '<table id="kinds-table">',
                  _row(["Frames", "count", *[f"{m.name} {c}" for m in comparison.methods
                                             for c in ("J&F", "J", "F")]], header=True)]
        for kind in comparison.kinds:
            count = comparison.methods[0].kinds[kind]["frames"]
            cells = [f"<td>{kind}</td>", f'<td class="num">{count}</td>']
            for m in comparison.methods:
                scores = m.kinds.get(kind, {})
                cells += [_cell(scores.get(c, float("nan"))) for c in ("J&F-Mean", "J-Mean", "F-Mean")]
            parts.append(_row(cells))
        parts.append("</table>")
    return parts


def _sequence_table(comparison: Comparison, order: Sequence[str]) -> List[str]:
    """Per sequence J&F, J and F of every method, sorted by the second method's gain over the first."""
    methods, diff = comparison.methods, comparison.difference()
    scores = [m.sequence_scores for m in methods]
    headers = ["Sequence", "frames", "degraded"] + [f"{m.name} {c}" for m in methods for c in ("J&F", "J", "F")]
    two = len(methods) > 1
    if two:
        headers.append(f"{methods[1].name} − {methods[0].name}")
    note = (f"Sorted by J&F of {html.escape(methods[1].name)} minus {html.escape(methods[0].name)}, largest gain "
            "first. J and F of a sequence: the evaluator's per-object means, averaged over its objects."
            if two else "J and F of a sequence: the evaluator's per-object means, averaged over its objects.")
    parts = ['<h2 id="per-sequence">Per sequence</h2>', f'<p class="note">{note}</p>',
             '<table id="sequence-table">', _row(headers, header=True)]
    for sequence in order:
        kinds = comparison.frame_kinds.get(sequence, {})
        degraded = sum("degraded" in k for k in kinds.values())
        cells = [f'<td><a href="#{_anchor(sequence)}">{html.escape(sequence)}</a></td>',
                 f'<td class="num">{len(comparison.frames[sequence])}</td>',
                 f'<td class="num">{degraded if kinds else "n/a"}</td>']
        for s in scores:
            cells += [_cell(v) for v in s[sequence]]
        if two:
            cells.append(_cell(diff[sequence], signed=True))
        parts.append(_row(cells))
    parts.append("</table>")
    return parts


def _sequence_section(comparison: Comparison, sequence: str, plot: str, plot_shape, strips) -> List[str]:
    """A sequence's J&F over time and its picked frames (``strips``: (frame index, file name, shape) each)."""
    methods = comparison.methods
    frames, kinds = comparison.frames[sequence], comparison.frame_kinds.get(sequence, {})
    parts = [f'<section id="{_anchor(sequence)}">', f"<h3>{html.escape(sequence)}</h3>",
             _img(plot, f"J&F over time of {sequence}", plot_shape)]
    if len(methods) < 2:
        return parts + ["</section>"]
    a, b = (html.escape(m.name) for m in methods[:2])
    if not strips:
        return parts + [f"<p>{a} and {b} score every frame of this sequence the same.</p>", "</section>"]
    parts.append(f"<h4>Frames where {a} and {b} differ most</h4>")
    for index, name, shape in strips:
        frame = frames[index]
        kind = ", ".join(k for k in kinds.get(frame, ()) if k != "all") or "no tags"
        scores = ", ".join(f"{html.escape(m.name)} {_number(comparison.frame_jf(m, sequence)[index])}"
                           for m in methods)
        parts += ["<figure>", _img(name, f"{sequence} frame {frame}", shape),
                  f"<figcaption>frame {html.escape(frame)} ({html.escape(kind)}): J&amp;F {scores}</figcaption>",
                  "</figure>"]
    return parts + ["</section>"]


def render_report(
    comparison: Comparison,
    folder: str,
    frames_per_sequence: int = FRAMES_PER_SEQUENCE,
    thumb_width: int = THUMB_WIDTH,
    jpeg_quality: int = JPEG_QUALITY,
    title: Optional[str] = None,
    progress: bool = False,
    shown_from: Optional[str] = None,
) -> str:
    """Write index.html and img/ of a comparison into an (empty) folder; returns the index path. The page names the
    results and data folders relative to the repository or to ``shown_from`` (the report's final folder; default
    ``folder``), never by the machine's absolute paths (vos_eval.provenance)."""
    image_dir = os.path.join(folder, IMAGE_DIR)
    os.makedirs(image_dir, exist_ok=True)
    order = comparison.sequences_by_difference()
    iterator = order
    if progress:
        from tqdm import tqdm

        iterator = tqdm(order, desc="report", unit="seq")
    sections: Dict[str, List[str]] = {}
    for sequence in iterator:
        picked = comparison.differing_frames(sequence, frames_per_sequence)
        plot = _image_name(sequence, "jf.png")
        plot_shape = plot_jf_over_time(comparison, sequence, picked, join_under(image_dir, plot))
        strips = []
        for index in picked:
            strip = render_frame_strip(comparison, sequence, index, thumb_width)
            name = _image_name(sequence, f"{comparison.frames[sequence][index]}.jpg")
            _write_jpeg(join_under(image_dir, name), strip, jpeg_quality)
            strips.append((index, name, strip.shape[:2]))
        sections[sequence] = _sequence_section(comparison, sequence, plot, plot_shape, strips)

    names = " vs ".join(m.name for m in comparison.methods)
    title = title or f"Comparison: {names}"
    layout = comparison.layout
    num_frames = sum(len(f) for f in comparison.frames.values())
    shown_from = shown_from or folder

    def shown(path: str) -> str:
        return html.escape(portable_path(os.path.abspath(path), shown_from))

    methods = "".join(f"<li><b>{html.escape(m.name)}</b>: {shown(m.results_dir)}</li>" for m in comparison.methods)
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(describe_layout(layout))} ({shown(layout.root)}), "
        f"{html.escape(comparison.task)} protocol: {len(comparison.sequences)} sequences, {num_frames} scored frames. "
        "Scores by the project's evaluator (slowfast_vos.evaluation), the numbers of its CSV tables.</p>",
        f"<ul>{methods}</ul>",
        *_overall_tables(comparison, shown_from),
        *_sequence_table(comparison, order),
        '<h2 id="sequences">Sequences</h2>',
        '<p class="note">J&amp;F of every scored frame (mean over the sequence\'s objects); grey bands: degraded '
        "frames; dotted lines: the frames shown below. Frame strips: the ground truth filled, then each method's "
        "masks filled with the ground truth as a dashed contour; the number is the frame's J&amp;F.</p>",
    ]
    for sequence in order:
        body += sections[sequence]
    page = "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta name="generator" content="{REPORT_GENERATOR}">', f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style>", "</head>", "<body>", *body, "</body>", "</html>", "",
    ])
    index = os.path.join(folder, REPORT_INDEX)
    with open(index, "w", encoding="utf-8") as f:
        f.write(page)
    return index


def _check_output(output: str) -> None:
    """Only an empty folder or an earlier report may be replaced (never, say, a results folder given by mistake)."""
    if not os.path.exists(output):
        return
    if not os.path.isdir(output):
        raise ComparisonError(f"report output {output} exists and is not a folder")
    if not os.listdir(output):
        return
    index = os.path.join(output, REPORT_INDEX)
    try:
        with open(index, encoding="utf-8") as f:
            is_report = REPORT_GENERATOR in f.read(4096)
    except OSError:
        is_report = False
    if not is_report:
        raise ComparisonError(f"report output {output} is a non-empty folder that holds no earlier report; "
                              "give a new or empty folder")


def write_comparison_report(
    davis_root: Optional[str],
    results_dirs: Sequence[str],
    names: Sequence[str],
    output: str,
    *,
    task: Optional[str] = None,
    split: str = "val",
    year: Optional[str] = None,
    resolution: str = "480p",
    layout: Optional[Layout] = None,
    dataset: Optional[str] = None,
    frame_tags: Optional[str] = AUTO,
    sequences: Optional[Sequence[str]] = None,
    frames_per_sequence: int = FRAMES_PER_SEQUENCE,
    thumb_width: int = THUMB_WIDTH,
    jpeg_quality: int = JPEG_QUALITY,
    title: Optional[str] = None,
    workers: int = 0,
    progress: bool = False,
) -> str:
    """Score the results folders on a set and write the comparison report to ``output``; returns index.html.

    The set: the DAVIS folder ``davis_root`` (``split``, ``year``, ``resolution`` as for evaluate_davis) or, with
    ``davis_root`` None, ``layout`` (a DAVISLayout, or a YTVOSLayout of a split with every annotation; a registered
    set's comes from ``slowfast_vos.reporting``). ``results_dirs``: results folders, OSVOS output folders or
    training run folders (OUTPUT_DIR; ``dataset`` picks the evaluated set where a run has several), in the order of
    ``names`` (the first two are compared frame by frame). ``frame_tags``: a frame_tags.json, None for none, or
    "auto" (the DAVIS folder's own; none for a ``layout``). The report replaces an earlier report at ``output``
    only once it is complete; any other non-empty folder is refused. Raises ComparisonError naming the folder when
    results miss sequences or frames.
    """
    if frames_per_sequence < 0 or thumb_width < 16 or not 1 <= jpeg_quality <= 100:
        raise ComparisonError(f"frames_per_sequence >= 0, thumb_width >= 16 and jpeg_quality in 1..100 expected, "
                              f"got {frames_per_sequence}, {thumb_width}, {jpeg_quality}")
    output = os.path.abspath(output)
    _check_output(output)
    if davis_root is None:
        if layout is None:
            raise ComparisonError("name the set: a DAVIS root, a layout or a registered dataset")
        auto_tags = None
    else:
        try:
            layout = DAVISLayout.find(davis_root, split, year, resolution, task)
        except DAVISFormatError as e:
            raise ComparisonError(str(e)) from e
        auto_tags = default_frame_tags(davis_root)
    folders = [resolve_results_dir(path, dataset) for path in results_dirs]
    tags = auto_tags if frame_tags == AUTO else frame_tags
    comparison = compare_methods(layout, folders, names, task, frame_tags=tags, sequences=sequences, workers=workers,
                                 progress=progress)
    build_atomically(output, True, lambda tmp: render_report(comparison, tmp, frames_per_sequence, thumb_width,
                                                             jpeg_quality, title, progress, shown_from=output))
    return os.path.join(output, REPORT_INDEX)
