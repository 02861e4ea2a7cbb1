"""Documentation checks: runnable snippets, API coverage, gallery and CI wiring.

These run in the ordinary test suite and need nothing beyond the ``test`` extra;
the Sphinx build itself (``python -m sphinx -W``, which also executes every
example) is a separate step of ``.ci/run``.
"""

import ast
import re
from pathlib import Path

import pytest

import sklearn_softmax
import sklearn_softmax.metrics

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
README = ROOT / "README.md"

TEST_COMMAND = 'python -m pip install -e ".[test]" && python -m pytest'
DEMO_COMMAND = "pip install -e . && python -m sklearn_softmax"
DOCS_EXTRA = {
    "sphinx",
    "numpydoc",
    "sphinx-gallery",
    "pydata-sphinx-theme",
    "matplotlib",
}


# -- helpers -------------------------------------------------------------------
def markdown_blocks(path, language):
    """Bodies of the fenced ```language blocks of a Markdown file."""
    pattern = re.compile(rf"^```{language}[ \t]*\n(.*?)^```", re.M | re.S)
    return pattern.findall(path.read_text(encoding="utf-8"))


def rst_code_blocks(path, language):
    """Bodies of the ``.. code-block:: language`` directives of an rst file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == f".. code-block:: {language}":
            i += 1
            while i < len(lines) and lines[i].strip().startswith(":"):
                i += 1  # directive options
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i][:1] == " "):
                body.append(lines[i])
                i += 1
            text = "\n".join(body).strip("\n")
            indent = min(len(ln) - len(ln.lstrip()) for ln in text.splitlines() if ln)
            blocks.append("\n".join(ln[indent:] for ln in text.splitlines()) + "\n")
        else:
            i += 1
    return blocks


def run_snippet(code, name):
    """Execute ``code`` in a fresh namespace, as a user pasting it would."""
    namespace = {"__name__": "__main__"}
    exec(compile(code, name, "exec"), namespace)


def _rst_snippets():
    params = []
    for path in sorted(DOCS.rglob("*.rst")):
        if any(
            part.startswith(("_build", "auto_examples", "gen_modules"))
            for part in path.relative_to(DOCS).parts
        ):
            continue
        for j, code in enumerate(rst_code_blocks(path, "python")):
            rel = path.relative_to(ROOT).as_posix()
            params.append(pytest.param(code, f"{rel}[{j}]", id=f"{rel}-{j}"))
    return params


# -- README ----------------------------------------------------------------------
README_BLOCKS = markdown_blocks(README, "python")


def test_readme_has_python_blocks():
    assert README_BLOCKS, "README.md should show a runnable quickstart"


@pytest.mark.parametrize("index", range(len(README_BLOCKS)))
def test_readme_python_block_runs(index):
    run_snippet(README_BLOCKS[index], f"README.md python block {index}")


def test_readme_setup_commands():
    bash = "\n".join(markdown_blocks(README, "bash"))
    assert DEMO_COMMAND in bash
    assert TEST_COMMAND in bash


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/") for t in local), "README should link to the docs"
    for target in local:
        assert (ROOT / target).exists(), f"README links to missing {target}"


# -- code in the documentation pages -------------------------------------------------
@pytest.mark.parametrize(("code", "name"), _rst_snippets())
def test_docs_python_block_runs(code, name):
    run_snippet(code, name)


def test_getting_started_shows_setup_commands():
    text = (DOCS / "getting_started.rst").read_text(encoding="utf-8")
    assert DEMO_COMMAND in text
    assert TEST_COMMAND in text


# -- API reference ---------------------------------------------------------------
def _autosummary_names(text):
    names = set()
    for block in re.split(r"\n(?=\.\. )", text):
        if block.startswith(".. autosummary::"):
            for line in block.splitlines()[1:]:
                line = line.strip()
                if line and not line.startswith(":"):
                    names.add(line.lstrip("~"))
    return names


@pytest.mark.parametrize(
    ("module", "prefix"),
    [
        (sklearn_softmax, "sklearn_softmax"),
        (sklearn_softmax.metrics, "sklearn_softmax.metrics"),
    ],
)
def test_api_reference_lists_every_public_object(module, prefix):
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    listed = _autosummary_names(text)
    current = re.findall(r"^\.\. currentmodule:: (\S+)", text, re.M)
    assert prefix in current
    missing = [name for name in module.__all__ if name not in listed]
    assert not missing, f"docs/api.rst does not list {missing} of {prefix}"


def test_public_objects_pass_numpydoc_validation():
    """The same checks the Sphinx build applies (docs/conf.py), without Sphinx."""
    validate = pytest.importorskip("numpydoc.validate")
    conf = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    settings = {}
    for node in conf.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id.startswith("numpydoc_validation"):
                settings[node.targets[0].id] = ast.literal_eval(node.value)
    checks = settings["numpydoc_validation_checks"]
    all_codes = set(validate.ERROR_MSGS)
    selected = (all_codes - checks) if "all" in checks else checks
    excluded = [re.compile(p) for p in settings["numpydoc_validation_exclude"]]

    names = ["sklearn_softmax.SoftmaxRegression"]
    names += [
        f"sklearn_softmax.SoftmaxRegression.{m}"
        for m in (
            "fit",
            "decision_function",
            "predict",
            "predict_proba",
            "predict_log_proba",
        )
    ]
    names += [f"sklearn_softmax.metrics.{n}" for n in sklearn_softmax.metrics.__all__]
    problems = []
    for name in names:
        if any(p.search(name) for p in excluded):
            continue
        for code, message in validate.validate(name)["errors"]:
            if code in selected:
                problems.append(f"{name}: {code} {message}")
    assert not problems, "\n".join(problems)


# -- examples --------------------------------------------------------------------
EXAMPLE_FILES = sorted(EXAMPLES.glob("plot_*.py"))


def test_enough_examples_and_gallery_header():
    assert len(EXAMPLE_FILES) >= 5
    assert (EXAMPLES / "README.rst").exists()


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_has_a_gallery_title(path):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False)
    assert doc, f"{path.name} needs a module docstring (its gallery page text)"
    lines = doc.strip("\n").splitlines()
    over, title, under = lines[:3]
    assert set(over) == {"="} and set(under) == {"="}, path.name
    assert len(over) >= len(title) and len(under) >= len(title), path.name


def test_docs_pages_are_in_the_toctree():
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    for page in [
        "getting_started",
        "user_guide/index",
        "api",
        "auto_examples/index",
        "performance",
    ]:
        assert re.search(rf"^\s+{re.escape(page)}\s*$", index, re.M), page


# -- CI and packaging ------------------------------------------------------------
def test_ci_runs_tests_then_builds_docs():
    lines = [
        ln.strip()
        for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    commands = [ln for ln in lines if not ln.startswith(("set ", "cd ", "export "))]
    assert commands[0] == TEST_COMMAND
    build = [ln for ln in commands if "sphinx" in ln and " -W" in ln]
    assert build, ".ci/run must build the docs with warnings as errors"
    assert commands.index(build[0]) > 0


def test_docs_extra():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = project["project"]["optional-dependencies"]["docs"]
    names = {re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower() for req in extra}
    assert DOCS_EXTRA <= names


def test_sphinx_config_is_offline():
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert "sphinx.ext.intersphinx" not in conf
