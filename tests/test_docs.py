"""The README and the topic pages cannot go stale: every repository path and `python tools/...` command they name
exists (and each such command's --help runs), their links resolve, the README stays one screen long, and no page
carries a machine's absolute paths."""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 220
# The pages a newcomer reads: the README, the changelog, the topic pages and the results index.
PAGES = sorted(
    [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "docs" / "results" / "README.md", *(ROOT / "docs").glob("*.md")]
)
# Top-level folders whose paths name files of this repository. datasets/ also holds the data a user downloads or
# generates (datasets/DAVIS2016, datasets/DAVIS-synthetic/...), which are not checked.
REPO_DIRS = ("slowfast_vos", "vos_eval", "configs", "tools", "docs", "datasets", "tests", ".ci")
USER_DATA = re.compile(r"datasets/(DAVIS|youtube-vos)", re.IGNORECASE)
PATH_RE = re.compile(r"(?<![\w./$-])((?:%s)/[\w./+-]*)" % "|".join(re.escape(d) for d in REPO_DIRS))
# A path followed by one of these is a template (configs/slowfast_<m-n>.yaml, slowfast_{1-1,3-3}.yaml, a glob).
TEMPLATE_NEXT = set("<{*[")
# `python tools/x.py`, `.venv/bin/python datasets/prepare_synthetic_davis.py`, `python -m vos_eval`.
SCRIPT_RE = re.compile(r"\bpython3?\s+((?:tools|datasets)/[\w/-]+\.py)\b")
MODULE_RE = re.compile(r"\bpython3?\s+-m\s+((?:vos_eval|slowfast_vos)[\w.]*)")
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")
ABSOLUTE_RE = re.compile(r"(?<![\w.~:/])/(?:work|root|tmp|home|Users|mnt|scratch|data|opt|srv|var)/")


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def named_paths(text: str) -> set:
    """Repository paths a page names (trailing punctuation stripped; templates and user data left out)."""
    paths = set()
    for match in PATH_RE.finditer(text):
        path = match.group(1).rstrip(".,:;")
        if text[match.end(1) : match.end(1) + 1] in TEMPLATE_NEXT or USER_DATA.match(path):
            continue
        paths.add(path)
    return paths


def named_commands(text: str) -> set:
    """The repository scripts (`python <path>.py`) and modules (`python -m <module>`) a page runs."""
    return {("script", s) for s in SCRIPT_RE.findall(text)} | {("module", m) for m in MODULE_RE.findall(text)}


def test_pages_exist_and_the_readme_links_every_topic_page():
    readme = (ROOT / "README.md").read_text()
    topics = [p for p in (ROOT / "docs").glob("*.md")]
    assert len(topics) >= 7, "expected the topic pages under docs/"
    unlinked = [p.name for p in topics if f"docs/{p.name}" not in readme]
    assert not unlinked, f"README.md does not link these docs pages: {unlinked}"


def test_readme_fits_one_screen_budget():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines, more than {README_MAX_LINES}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_repository_path_a_page_names_exists(page):
    missing = sorted(p for p in named_paths(page.read_text()) if not (ROOT / p).exists())
    assert not missing, f"{_rel(page)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_relative_link_of_a_page_resolves(page):
    broken = []
    for target in LINK_RE.findall(page.read_text()):
        if re.match(r"[a-z]+://|#|mailto:", target):
            continue
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{_rel(page)} has links to missing files: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_no_page_names_a_machines_absolute_path(page):
    found = [
        f"line {n}: {line.strip()}"
        for n, line in enumerate(page.read_text().splitlines(), 1)
        if ABSOLUTE_RE.search(line)
    ]
    assert not found, f"{_rel(page)} names absolute machine paths: {found}"


def test_every_command_a_page_runs_exists():
    missing = [
        (kind, name, _rel(page))
        for page in PAGES
        for kind, name in named_commands(page.read_text())
        if kind == "script" and not (ROOT / name).is_file()
    ]
    assert not missing, f"pages run scripts that do not exist: {missing}"


def _help(command: tuple) -> tuple:
    kind, name = command
    argv = [sys.executable, name, "--help"] if kind == "script" else [sys.executable, "-m", name, "--help"]
    # This checkout's packages first, whatever the venv's editable install points at (as the other tool tests do).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return command, proc.returncode, proc.stderr[-2000:]


@pytest.mark.slow
def test_every_command_a_page_runs_answers_help():
    commands = sorted({c for page in PAGES for c in named_commands(page.read_text())})
    commands = [c for c in commands if c[0] == "module" or (ROOT / c[1]).is_file()]
    assert ("script", "tools/train_net.py") in commands, "the pages should name tools/train_net.py"
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [(c, rc, err) for c, rc, err in pool.map(_help, commands) if rc != 0]
    assert not failures, "--help failed for: " + "; ".join(f"{c[1]} (exit {rc}): {err}" for c, rc, err in failures)


def test_the_checks_catch_a_stale_page():
    """The extraction sees what a stale page would get wrong (so the checks above cannot pass vacuously)."""
    text = (
        "Run `python tools/no_such_tool.py --x` or `.venv/bin/python -m vos_eval --help`; see "
        "`docs/results/no-such-run/`, `configs/quickstart/osvos_slowfast_<m-n>.yaml`, "
        "`datasets/DAVIS2016/Annotations`, /work/main/output and `configs/slowfast_3-7.yaml`."
    )
    assert named_paths(text) == {
        "tools/no_such_tool.py",
        "docs/results/no-such-run/",
        "configs/slowfast_3-7.yaml",
    }
    assert named_commands(text) == {("script", "tools/no_such_tool.py"), ("module", "vos_eval")}
    assert ABSOLUTE_RE.search(text) and not ABSOLUTE_RE.search("output/quickstart and https://x.org/tmp/a")
