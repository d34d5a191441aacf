"""Structural rules of the code base, checked on its syntax trees: the package never patches Detectron2's module
globals (it overrides documented methods instead)."""
import ast
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[1]
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
            targets = [t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
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
