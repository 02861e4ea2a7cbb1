"""The package's imports run one way: down the layers, never in a cycle."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sklearn_softmax"

# Bottom to top: a module may import only from layers below its own.
LAYERS = [
    {"_views", "_xp"},  # zero-copy array plumbing; host <-> device moves
    {"_xp_kernels"},  # the array-API (device) twins of the maths
    {"_loss", "_targets"},  # maths on arrays, targets and weights
    {"_blocks", "metrics"},  # the backend seam; the public metrics
    {"_precondition"},  # statistics and the change of coordinates
    {"_objective", "_l1"},  # the objective over blocks; its L1 wrapper
    {"_lbfgs", "_newton"},  # the minimisers' loops (L-BFGS runs, Newton-CG)
    {"_solver"},  # minimisers
    {"_penalty"},  # (C, l1_ratio) and its rules: objective, solver, gauge
    {"_path"},  # the fit: prepared rows, statistics, one solve per penalty
    {"_callbacks"},  # scikit-learn's callback API: tasks of a fit's iterations
    {"_softmax"},  # the estimator
    {"_cv"},  # the cross-validated estimator
    {"dask", "onnx", "inference", "_device", "_host", "__main__"},  # wings
    {"__init__"},  # wiring
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules_of(names):
    """Modules named by ``from <package> import names``: a name that is not a
    module of the package comes from its ``__init__``."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    return {name if name in modules else "__init__" for name in names}


def package_imports(path):
    """Package modules imported anywhere in ``path`` (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .x import y
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import x, y
                found.update(_modules_of(alias.name for alias in node.names))
            elif node.module and node.module.split(".")[0] == "sklearn_softmax":
                parts = node.module.split(".")
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(_modules_of(alias.name for alias in node.names))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sklearn_softmax" and len(parts) > 1:
                    found.add(parts[1])
    return found


def graph():
    return {p.stem: package_imports(p) for p in PACKAGE.glob("*.py")}


def test_every_module_has_a_layer():
    assert set(graph()) == set(LAYER), "add new modules to LAYERS"


@pytest.mark.parametrize("module", sorted(LAYER))
def test_imports_only_go_down(module):
    upward = {m for m in graph()[module] if LAYER.get(m, -1) >= LAYER[module]}
    assert not upward, f"{module} imports from its own or a higher layer: {upward}"


def test_dask_wing_does_not_import_the_estimator():
    assert "_softmax" not in graph()["dask"]


def test_no_import_cycle():
    edges = graph()
    state = {}

    def visit(node, path):
        if state.get(node) == "open":
            raise AssertionError(f"import cycle: {' -> '.join([*path, node])}")
        if state.get(node) == "done":
            return
        state[node] = "open"
        for nxt in edges.get(node, ()):
            visit(nxt, [*path, node])
        state[node] = "done"

    for node in edges:
        visit(node, [])


def test_the_checker_sees_function_level_and_absolute_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from . import dask\n"
        "import sklearn_softmax._loss\nfrom sklearn_softmax import _targets\n"
        "from ._blocks import RowBlocks\nimport numpy\n"
        "from . import SoftmaxRegression\n"
    )
    assert package_imports(source) == {
        "dask",
        "_loss",
        "_targets",
        "_blocks",
        "__init__",
    }
