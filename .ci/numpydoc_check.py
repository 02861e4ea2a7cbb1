"""Validate the docstrings of every public object with numpydoc.

Run from the repository root with the ``docs`` extra installed::

    python .ci/numpydoc_check.py

The checks and the exclusions are those of the Sphinx build
(``numpydoc_validation_checks`` and ``numpydoc_validation_exclude`` in
``docs/conf.py``), read from there so the two cannot drift apart.  The public
objects are the names in ``__all__`` of the documented modules; for a class,
the class and each of its public methods and properties.  Exits with status 1
and lists every problem if any docstring fails; numpydoc missing is an error,
not a skip.
"""

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

from numpydoc import validate

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "docs" / "conf.py"
# The modules of the API reference (docs/api.rst).
MODULES = [
    "sklearn_softmax",
    "sklearn_softmax.metrics",
    "sklearn_softmax.onnx",
    "sklearn_softmax.inference",
]


def conf_settings(path=CONF):
    """The ``numpydoc_validation*`` assignments of a Sphinx ``conf.py``."""
    settings = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id.startswith("numpydoc_validation"):
                settings[node.targets[0].id] = ast.literal_eval(node.value)
    return settings


def public_names(modules=MODULES):
    """Dotted names of the public objects of ``modules`` and their members."""
    names = []
    for modname in modules:
        module = importlib.import_module(modname)
        for name in module.__all__:
            obj = getattr(module, name)
            names.append(f"{modname}.{name}")
            if inspect.isclass(obj):
                names += [
                    f"{modname}.{name}.{member}"
                    for member, value in inspect.getmembers(obj)
                    if not member.startswith("_")
                    and (callable(value) or isinstance(value, property))
                ]
    return names


def main(modules=MODULES):
    settings = conf_settings()
    checks = settings["numpydoc_validation_checks"]
    all_codes = set(validate.ERROR_MSGS)
    selected = (all_codes - checks) if "all" in checks else checks
    excluded = [re.compile(p) for p in settings["numpydoc_validation_exclude"]]

    problems = []
    checked = 0
    for name in public_names(modules):
        if any(p.search(name) for p in excluded):
            continue
        checked += 1
        for code, message in validate.validate(name)["errors"]:
            if code in selected:
                problems.append(f"{name}: {code} {message}")
    if not checked:
        print("numpydoc: no public object found to validate", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"numpydoc: {checked} public objects checked, {len(problems)} problems",
        file=sys.stderr if problems else sys.stdout,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or MODULES))
