"""Structural rules of the code base, checked on its syntax trees: the package never patches Detectron2's module
globals (it overrides documented methods instead), its modules import each other without a circle, scripts
import the installed package instead of editing sys.path, tests that start processes are marked slow, scripts directly
under tools/ stay thin, and the package never imports the experiments (tools/experiments/)."""
import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest
from helpers import REPO

PACKAGE = REPO / "slowfast_vos"


def detectron2_patches(source: str) -> List[str]:
    """The statements of ``source`` that assign to an attribute of a Detectron2 module or of a name imported from
    Detectron2 (``detectron2.engine.defaults.X = ...``, ``defaults.X = ...``, ``setattr(defaults, ...)``)."""
    tree = ast.parse(source)
    imported = {"detectron2"}  # names that refer to Detectron2 modules or their members
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update((a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("detectron2"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("detectron2"):
            imported.update(a.asname or a.name for a in node.names)

    def root(expr: ast.expr) -> str:
        while isinstance(expr, (ast.Attribute, ast.Subscript)):
            expr = expr.value
        return expr.id if isinstance(expr, ast.Name) else ""

    found = []
    for node in ast.walk(tree):
        targets: List[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = [t for target in node.targets
                       for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            targets = [ast.Attribute(value=node.args[0], attr="?")] if node.args else []
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            if isinstance(target, ast.Attribute) and root(target) in imported:
                found.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
    return sorted(found, key=lambda line: int(line.split(":")[0].split()[1]))


def test_the_patch_finder_flags_assignments_to_detectron2_module_attributes():
    patched = (
        "import functools\n"
        "import detectron2.engine.defaults\n"
        "from detectron2.engine import defaults as engine_defaults\n"
        "from detectron2.engine import DefaultTrainer\n"
        "engine_defaults.create_ddp_model = functools.partial(engine_defaults.create_ddp_model, device_ids=None)\n"
        "detectron2.engine.defaults.AMPTrainer = object\n"
        "setattr(engine_defaults, 'AMPTrainer', object)\n"
        "DefaultTrainer.build_model = classmethod(lambda cls, cfg: None)\n"
    )
    assert [line.split(":")[0] for line in detectron2_patches(patched)] == ["line 5", "line 6", "line 7", "line 8"]
    clean = (
        "from detectron2.engine import DefaultTrainer\n"
        "class Trainer(DefaultTrainer):\n"
        "    def __init__(self, cfg):\n"
        "        self.cfg = cfg\n"
        "        self.model = DefaultTrainer.build_model(cfg)\n"
    )
    assert detectron2_patches(clean) == []


def test_no_module_of_the_package_assigns_to_a_detectron2_module_attribute():
    found = {
        str(path.relative_to(REPO)): patches
        for path in sorted(PACKAGE.rglob("*.py"))
        if (patches := detectron2_patches(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def module_name(root: Path, path: Path) -> str:
    """Dotted module name of a file under ``root`` (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, files: List[Path]) -> Dict[str, Set[str]]:
    """Module -> the package modules it imports anywhere in its body (function-local imports included: they close
    a circle as surely as top-level ones, only later). ``from pkg import sub`` counts as importing ``pkg.sub``."""
    modules = {module_name(root, path): path for path in files}
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def import_circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm): each holds an import circle."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    circles: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_the_circle_finder_finds_a_circle_closed_by_a_function_local_import(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import helper\n")
    (package / "b.py").write_text("def helper():\n    from . import a\n    return a\n")
    (package / "c.py").write_text("from pkg.a import helper\n")
    graph = import_graph(tmp_path, sorted(package.rglob("*.py")))
    assert graph["pkg.c"] == {"pkg.a"}
    assert import_circles(graph) == [["pkg.a", "pkg.b"]]


def test_the_package_modules_import_each_other_without_a_circle():
    assert import_circles(import_graph(REPO, sorted(PACKAGE.rglob("*.py")))) == []


def test_scripts_import_the_installed_package_without_editing_sys_path():
    scripts = sorted((REPO / "tools").glob("*.py")) + sorted((REPO / "datasets").glob("*.py"))
    edits = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in scripts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    ]
    assert edits == []


def unmarked_process_starters(source: str) -> List[str]:
    """Test functions of a test module that call subprocess.run / Popen / call / check_* (themselves or through the
    module's helper functions) without the slow mark (on the function or the module's pytestmark)."""
    tree = ast.parse(source)
    if any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
           and "slow" in ast.unparse(node.value) for node in tree.body):
        return []
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}

    def starts_process(function: ast.FunctionDef, seen: Set[str]) -> bool:
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr in ("run", "Popen", "call", "check_call", "check_output")
                    and isinstance(func.value, ast.Name) and func.value.id == "subprocess"):
                return True
            if isinstance(func, ast.Name) and func.id in functions and func.id not in seen:
                seen.add(func.id)
                if starts_process(functions[func.id], seen):
                    return True
        return False

    return [name for name, node in functions.items()
            if name.startswith("test_") and not any("slow" in ast.unparse(d) for d in node.decorator_list)
            and starts_process(node, {name})]


def test_the_slow_mark_finder_follows_helpers_and_honours_module_marks():
    source = (
        "import subprocess\nimport pytest\n"
        "def _run():\n    return subprocess.run(['true'])\n"
        "def test_direct():\n    subprocess.Popen(['true'])\n"
        "def test_through_a_helper():\n    _run()\n"
        "@pytest.mark.slow\ndef test_marked():\n    _run()\n"
        "def test_no_process():\n    assert True\n"
    )
    assert unmarked_process_starters(source) == ["test_direct", "test_through_a_helper"]
    assert unmarked_process_starters("import pytest\npytestmark = pytest.mark.slow\n" + source) == []


def test_tests_that_start_a_process_are_marked_slow():
    found = {str(path.relative_to(REPO)): names for path in sorted((REPO / "tests").rglob("test_*.py"))
             if (names := unmarked_process_starters(path.read_text(encoding="utf-8")))}
    assert found == {}


# Scripts directly under tools/ are thin entry points; the logic lives in the package or in tools/experiments/.
TOOL_MAX_LINES = 150
TOOL_LINE_LIMIT_EXCEPTIONS = {"install_detectron2.py"}  # the installer stands alone: it runs before anything is set up


def test_every_script_directly_under_tools_is_at_most_150_lines():
    long = {path.name: n for path in sorted((REPO / "tools").glob("*.py"))
            if path.name not in TOOL_LINE_LIMIT_EXCEPTIONS
            and (n := len(path.read_text(encoding="utf-8").splitlines())) > TOOL_MAX_LINES}
    assert long == {}


def imported_top_level_names(source: str) -> Set[str]:
    """The top-level module names ``source`` imports (absolute imports only: ``import a.b``, ``from a.b import c``)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_of_the_package_imports_the_experiments():
    assert imported_top_level_names("import experiments.stages\nfrom experiments import ablation\nfrom . import x\n"
                                    ) == {"experiments"}
    importers = [str(path.relative_to(REPO)) for path in sorted(PACKAGE.rglob("*.py"))
                 if "experiments" in imported_top_level_names(path.read_text(encoding="utf-8"))]
    assert importers == []


@pytest.mark.slow
def test_importing_the_package_loads_nothing_from_tools_experiments():
    """Every module of slowfast_vos imported in a fresh interpreter that could import the experiments (tools/ on its
    path): none of the modules it then holds comes from tools/."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import slowfast_vos\n"
        "for info in pkgutil.walk_packages(slowfast_vos.__path__, 'slowfast_vos.'):\n"
        "    importlib.import_module(info.name)\n"
        "tools = sys.argv[1]\n"
        "print(sorted(name for name, module in list(sys.modules.items())\n"
        "             if name.split('.')[0] == 'experiments'\n"
        "             or (getattr(module, '__file__', None) or '').startswith(tools)))\n"
    )
    tools = str(REPO / "tools")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), tools]))
    proc = subprocess.run([sys.executable, "-c", code, tools + os.sep], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    # The same interpreter setup does import the experiments when asked: the check above could fail.
    proc = subprocess.run([sys.executable, "-c", "import experiments.stages, sys; print(experiments.stages.__file__)"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().startswith(tools), proc.stderr[-3000:]
