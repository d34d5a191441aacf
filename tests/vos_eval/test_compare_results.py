"""The comparison report: numbers equal the evaluator's, structure, atomic write, clear errors, a real browser."""
import csv
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from detectron2.data import DatasetCatalog
from helpers import load_tool
from PIL import Image

from slowfast_vos.data import generate_synthetic_davis
from slowfast_vos.data.datasets.ytvos import register_ytvos
from slowfast_vos.reporting import write_comparison_report
from vos_eval.davis_format import DAVISLayout, read_id_png, write_id_png
from vos_eval.frame_tags import FRAME_TAGS_FILE, frame_kinds, load_frame_tags
from vos_eval.protocols import evaluate_davis
from vos_eval.reporting import ComparisonError, compare_methods, html_report
from vos_eval.scoring import GLOBAL_COLUMNS
from vos_eval.subsets import subset_metrics
from vos_eval.ytvos import evaluate_ytvos
from vos_eval.ytvos_format import MASK_YEAR, YTVOSLayout

NAMES = ["1-1", "3-7"]


def _write_results(layout: DAVISLayout, folder: Path, perturb) -> Path:
    """A results folder: every annotated frame's ground truth passed through ``perturb(ids, frame index)``."""
    for sequence in layout.sequences():
        for frame in layout.annotation_frames(sequence):
            gt = read_id_png(os.path.join(layout.annotation_dir, sequence, frame + ".png"), layout.year)
            gt[gt == 255] = 0
            write_id_png(str(folder / sequence / f"{frame}.png"), perturb(gt, int(frame)))
    return folder


def _erode(ids, _):
    return cv2.erode(ids, np.ones((3, 3), np.uint8))


def _shift_every_third(ids, index):
    return np.roll(ids, 3, axis=1) if index % 3 == 0 else ids


@pytest.fixture(scope="module")
def davis(tmp_path_factory):
    """A tiny synthetic DAVIS (3 val sequences of 8 frames, 48x64) and two fabricated methods on its 2016 view."""
    base = tmp_path_factory.mktemp("compare")
    root = generate_synthetic_davis(str(base / "DAVIS-synthetic"), train_sequences=1, val_sequences=3, frames=8,
                                    height=48, width=64, progress=None)
    layout = DAVISLayout(os.path.join(root, "2016"), "2016", "val")
    a = _write_results(layout, base / "a", _erode)
    b = _write_results(layout, base / "b", _shift_every_third)
    return {"root": root, "root16": layout.root, "layout": layout, "a": str(a), "b": str(b), "base": base}


class _Page(HTMLParser):
    """The tables (id -> rows of cell texts), image sources and script tags of an HTML page."""

    def __init__(self, text: str):
        super().__init__()
        self.tables, self.images, self.scripts, self.ids = {}, [], 0, set()
        self._table, self._row, self._cell = None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _read_page(index: str) -> _Page:
    return _Page(Path(index).read_text(encoding="utf-8"))


def _csv_rows(path: str):
    with open(path, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def report(davis):
    output = davis["base"] / "report"
    index = write_comparison_report(davis["root16"], [davis["a"], davis["b"]], NAMES, str(output))
    return {"index": index, "output": output, "page": _read_page(index)}


def test_report_numbers_equal_the_evaluators_csv_tables(davis, report, tmp_path):
    page = report["page"]
    tags = load_frame_tags(os.path.join(davis["root"], FRAME_TAGS_FILE))
    overall = {row[0]: row[1:] for row in page.tables["overall-table"][1:]}
    header = page.tables["sequence-table"][0]
    sequence_rows = {row[0]: dict(zip(header, row)) for row in page.tables["sequence-table"][1:]}
    kinds = {row[0]: dict(zip(page.tables["kinds-table"][0], row)) for row in page.tables["kinds-table"][1:]}
    for name, folder in zip(NAMES, (davis["a"], davis["b"])):
        tables = tmp_path / name
        results = evaluate_davis(davis["root16"], folder, "davis2016", year="2016", output_dir=str(tables))
        global_csv = _csv_rows(str(tables / "global_results-val.csv"))
        assert overall[name] == global_csv[1]
        for sequence_object, j_mean, f_mean in _csv_rows(str(tables / "per-sequence_results-val.csv"))[1:]:
            row = sequence_rows[sequence_object.rsplit("_", 1)[0]]  # DAVIS 2016: one object per sequence
            assert (row[f"{name} J"], row[f"{name} F"]) == (j_mean, f_mean)
            jf = (results.per_frame[sequence_object][0].mean() + results.per_frame[sequence_object][1].mean()) / 2
            assert row[f"{name} J&F"] == f"{jf:.3f}"
        for subset, scores in subset_metrics(results, tags).items():
            assert kinds[subset][f"{name} J&F"] == f"{scores['J&F-Mean']:.3f}"
            assert kinds[subset]["count"] == str(scores["frames"])
        # The other kinds follow subset_metrics' rule: per object over its frames of the kind, then over objects.
        for kind in ("border", "inner", "occluded"):
            j_means, f_means = [], []
            for obj, (sequence, frames) in results.frames.items():
                keep = [kind in frame_kinds(tags, sequence, frame) for frame in frames]
                if any(keep):
                    j_means.append(results.per_frame[obj][0][keep].mean())
                    f_means.append(results.per_frame[obj][1][keep].mean())
            assert kinds[kind][f"{name} J"] == f"{np.mean(j_means):.3f}"
            assert kinds[kind][f"{name} F"] == f"{np.mean(f_means):.3f}"


def test_report_has_every_table_section_and_image_and_no_script(davis, report):
    page, output = report["page"], report["output"]
    sequences = list(davis["layout"].sequences())
    assert page.scripts == 0
    assert [row[0] for row in page.tables["overall-table"][1:]] == NAMES
    assert [row[0] for row in page.tables["kinds-table"][1:]] == ["clean", "degraded", "border", "inner", "occluded"]
    rows = page.tables["sequence-table"][1:]
    assert sorted(row[0] for row in rows) == sorted(sequences)
    gains = [float(row[-1]) for row in rows]
    assert gains == sorted(gains, reverse=True)
    assert {f"seq-{s}" for s in sequences} <= page.ids
    for src in page.images:
        assert (output / src).is_file(), src
    assert sum(src.endswith("-jf.png") for src in page.images) == len(sequences)
    assert not list(output.parent.glob(".report.tmp-*"))


def test_report_shows_the_frames_where_the_first_two_methods_differ_most(davis, report):
    results = [evaluate_davis(davis["root16"], d, "davis2016", year="2016", write_csvs=False)
               for d in (davis["a"], davis["b"])]
    shown = {src for src in report["page"].images if src.endswith(".jpg")}
    for name, (sequence, frames) in results[0].frames.items():
        jf = [(r.per_frame[name][0] + r.per_frame[name][1]) / 2 for r in results]
        gap = np.abs(jf[1] - jf[0])
        top = sorted(np.argsort(-gap, kind="stable")[:html_report.FRAMES_PER_SEQUENCE])
        assert {f"img/{sequence}-{frames[i]}.jpg" for i in top if gap[i] > 0} == \
            {src for src in shown if src.startswith(f"img/{sequence}-")}
    strip = Image.open(report["output"] / sorted(shown)[0])
    assert strip.width == 3 * 64  # ground truth + two methods at the frames' width (under the thumbnail width)


def test_multi_object_sequence_scores_average_the_evaluators_objects(davis, tmp_path):
    layout = DAVISLayout(davis["root"], "2017", "val")
    a = _write_results(layout, tmp_path / "a", _erode)
    b = _write_results(layout, tmp_path / "b", _shift_every_third)
    comparison = compare_methods(layout, [str(a), str(b)], NAMES, "semi-supervised")
    results = evaluate_davis(davis["root"], str(a), "semi-supervised", output_dir=str(tmp_path / "tables"))
    for sequence, (jf, j, f) in comparison.methods[0].sequence_scores.items():
        rows = [(jm, fm) for name, jm, fm in results.per_sequence if results.frames[name][0] == sequence]
        assert j == pytest.approx(np.mean([r[0] for r in rows]))
        assert f == pytest.approx(np.mean([r[1] for r in rows]))
        assert jf == pytest.approx((j + f) / 2)


def test_frames_where_a_method_lost_an_object_are_marked_in_its_plot(davis, tmp_path):
    layout = davis["layout"]
    lose = _write_results(layout, tmp_path / "lose", lambda ids, t: ids * 0 if t in (3, 4) else ids)
    comparison = compare_methods(layout, [davis["a"], str(lose)], NAMES, "semi-supervised")
    sequence = comparison.sequences[0]
    assert comparison.methods[1].lost_frames[sequence] == {"00003", "00004"}
    assert not comparison.methods[0].lost_frames.get(sequence)
    # The marks are drawn: the plot with a lost object differs from the same plot without one.
    marked = html_report.plot_jf_over_time(comparison, sequence, [], str(tmp_path / "marked.png"))
    comparison.methods[1].lost_frames[sequence] = set()
    plain = html_report.plot_jf_over_time(comparison, sequence, [], str(tmp_path / "plain.png"))
    assert marked == plain
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "marked.png")),
                              np.asarray(Image.open(tmp_path / "plain.png")))


def test_youtube_vos_set_is_scored_by_its_evaluator_on_each_objects_frames(ytvos_root, tmp_path):
    root = str(ytvos_root)
    name = "compare_results_test_ytvos_train"
    if name not in DatasetCatalog.list():
        register_ytvos(name, root, "2019", "train", use_cache=False)
    layout = YTVOSLayout(root, "train")
    folders = []
    for method, perturb in zip(NAMES, (_erode, _shift_every_third)):
        for video, objects in layout.meta().items():
            for frame in {f for obj in objects.values() for f in obj["frames"]}:
                gt = read_id_png(os.path.join(layout.annotation_dir, video, frame + ".png"), MASK_YEAR)
                write_id_png(str(tmp_path / method / video / f"{frame}.png"), perturb(gt, int(frame)))
        folders.append(str(tmp_path / method))
    index = write_comparison_report(None, folders, NAMES, str(tmp_path / "report"), dataset=name)
    page = _read_page(index)
    for (method, *cells), folder in zip(page.tables["overall-table"][1:], folders):
        results = evaluate_ytvos(layout, folder, "semi-supervised", write_csvs=False)
        assert cells == [f"{results.global_metrics[c]:.3f}" for c in GLOBAL_COLUMNS], method
    assert "kinds-table" not in page.tables  # no frame tags on this set
    assert all((tmp_path / "report" / src).is_file() for src in page.images)
    assert any(src.endswith(".jpg") for src in page.images)


def test_a_failed_report_leaves_the_earlier_report_as_it_was(davis, tmp_path, monkeypatch):
    output = tmp_path / "report"
    write_comparison_report(davis["root16"], [davis["a"], davis["b"]], NAMES, str(output), frame_tags=None)
    before = sorted(p.relative_to(output) for p in output.rglob("*"))
    first = (output / "index.html").read_text()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(html_report, "render_frame_strip", broken)
    with pytest.raises(OSError, match="disk full"):
        write_comparison_report(davis["root16"], [davis["b"], davis["a"]], ["B", "A"], str(output))
    assert (output / "index.html").read_text() == first
    assert sorted(p.relative_to(output) for p in output.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no hidden half-written folder


def test_a_folder_that_is_not_a_report_is_never_replaced(davis, tmp_path):
    output = tmp_path / "results"
    output.mkdir()
    (output / "model_final.pth").write_text("weights")
    with pytest.raises(ComparisonError, match="holds no earlier report"):
        write_comparison_report(davis["root16"], [davis["a"], davis["b"]], NAMES, str(output))
    assert (output / "model_final.pth").read_text() == "weights"


def test_missing_sequence_is_an_error_naming_the_results_folder(davis, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(davis["b"], partial)
    sequence = davis["layout"].sequences()[1]
    shutil.rmtree(partial / sequence)
    with pytest.raises(ComparisonError, match=f"results folder {partial} \\(3-7\\) lacks 1 of the 3 sequences") as e:
        write_comparison_report(davis["root16"], [davis["a"], str(partial)], NAMES, str(tmp_path / "report"))
    assert sequence in str(e.value)
    assert not (tmp_path / "report").exists()


def test_missing_frame_is_an_error_naming_the_folder_and_frame(davis, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(davis["a"], partial)
    sequence = davis["layout"].sequences()[0]
    (partial / sequence / "00004.png").unlink()
    with pytest.raises(ComparisonError, match=f"results folder {partial} \\(1-1\\)") as e:
        write_comparison_report(davis["root16"], [str(partial), davis["b"]], NAMES, str(tmp_path / "report"))
    assert os.path.join(str(partial), sequence, "00004.png") in str(e.value)


def test_training_run_folders_resolve_to_their_inference_results(davis, tmp_path):
    runs = []
    for name, folder in zip(NAMES, (davis["a"], davis["b"])):
        run = tmp_path / name
        shutil.copytree(folder, run / "inference" / "synthetic_davis2016_val" / "davis_results")
        runs.append(str(run))
    index = write_comparison_report(davis["root16"], runs, NAMES, str(tmp_path / "report"))
    assert _read_page(index).tables["overall-table"][1][0] == "1-1"
    shutil.copytree(davis["a"], Path(runs[0]) / "inference" / "synthetic_davis2017_val" / "davis_results")
    with pytest.raises(ComparisonError, match="holds results of 2 datasets"):
        write_comparison_report(davis["root16"], runs, NAMES, str(tmp_path / "report"))
    index = write_comparison_report(davis["root16"], runs, NAMES, str(tmp_path / "report"),
                                    dataset="synthetic_davis2016_val")
    assert Path(index).is_file()


def test_command_line_writes_the_report_and_reports_bad_folders(davis, tmp_path, capsys):
    tool = load_tool("compare_results")
    output = tmp_path / "report"
    assert tool.main(["--davis-root", davis["root16"], "--results", davis["a"], davis["b"], "--names", *NAMES,
                      "--output", str(output), "--frames", "1"]) == 0
    assert str(output / "index.html") in capsys.readouterr().out
    assert len(list((output / "img").glob("*.jpg"))) == len(davis["layout"].sequences())
    missing = str(tmp_path / "nowhere")
    assert tool.main(["--davis-root", davis["root16"], "--results", davis["a"], missing, "--output",
                      str(tmp_path / "other")]) == 1
    assert f"results folder not found: {missing}" in capsys.readouterr().err


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


# Appended to a copy of the report (never to the report itself, which has no script): once every image has loaded
# or failed, writes each image's natural width into the DOM that --dump-dom prints.
_IMAGE_PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "image-probe";
  out.textContent = JSON.stringify(Array.from(document.images, (i) => [i.getAttribute("src"), i.naturalWidth]));
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no Chromium installed (Debian: apt-get install chromium; "
                                                 ".ci/run installs it)")
def test_report_renders_in_headless_chromium_with_every_image_loaded(report, tmp_path):
    output = tmp_path / "report"
    shutil.copytree(report["output"], output)
    probe = output / "_probe.html"  # beside index.html, so relative image paths resolve as they do for it
    probe.write_text((output / "index.html").read_text().replace("</body>", _IMAGE_PROBE + "</body>"))
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio"]
    dom = subprocess.run([*flags, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, "--window-size=1000,1400", f"--screenshot={shot}", (output / "index.html").as_uri()],
                   capture_output=True, text=True, timeout=120, check=True)
    page = _Page(dom)
    assert len(page.tables["overall-table"]) == 3 and len(page.tables["sequence-table"]) == 4
    loaded = json.loads(dom.split('<pre id="image-probe">', 1)[1].split("</pre>", 1)[0])
    assert len(loaded) == len(report["page"].images) > 0
    assert all(width > 0 for _, width in loaded), [src for src, width in loaded if width == 0]
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.01  # text, tables and images drawn, not a blank page
