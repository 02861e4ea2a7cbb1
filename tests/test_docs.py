"""Documentation checks: the code and commands it shows work, API coverage, gallery.

These run in the ordinary test suite and need nothing beyond the ``test`` extra.
The rest is checked by ``.ci/run`` itself, after this suite: it installs the
``docs`` extra, validates every public docstring with numpydoc
(``.ci/numpydoc_check.py``) and builds the documentation offline with warnings
as errors (``python -m sphinx -W``, which also executes every example, fails on
a gallery example without a title and on a page outside every toctree).
"""

import ast
import re
import shlex
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import pytest

import sklearn_softmax
import sklearn_softmax.inference
import sklearn_softmax.metrics
from sklearn_softmax.__main__ import main as demo_main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
README = ROOT / "README.md"


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


def _doc_pages():
    """The hand-written rst pages of the documentation (not generated ones)."""
    return [
        path
        for path in sorted(DOCS.rglob("*.rst"))
        if not any(
            part.startswith(("_build", "auto_examples", "gen_modules"))
            for part in path.relative_to(DOCS).parts
        )
    ]


def _shell_commands():
    """``(command, source)`` for every command of the docs' bash blocks.

    A line of a block may chain commands with ``&&``; each is one command.
    """
    blocks = [(code, "README.md") for code in markdown_blocks(README, "bash")]
    for path in _doc_pages():
        rel = path.relative_to(ROOT).as_posix()
        blocks += [(code, rel) for code in rst_code_blocks(path, "bash")]
    commands = []
    for code, source in blocks:
        for line in code.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands += [(cmd.strip(), source) for cmd in line.split("&&")]
    return commands


def _missing_modules(code):
    """Modules ``code`` imports that are not installed (extras), by their full
    name (``sklearn.callback`` is missing below scikit-learn 1.9); ``rich``
    where ``code`` draws a ``ProgressBar`` (scikit-learn's optional dependency)."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    if "ProgressBar(" in code:
        names.add("rich")
    return sorted(name for name in names if not _installed(name))


def _installed(name):
    """Whether module ``name`` (dotted: its parents too) can be imported."""
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _rst_snippets():
    params = []
    for path in _doc_pages():
        for j, code in enumerate(rst_code_blocks(path, "python")):
            rel = path.relative_to(ROOT).as_posix()
            missing = _missing_modules(code)
            # e.g. the Dask and ONNX pages in an environment without those extras
            marks = pytest.mark.skip(
                reason=f"needs {', '.join(missing)} (an extra, or a newer scikit-learn)"
            )
            params.append(
                pytest.param(
                    code, f"{rel}[{j}]", id=f"{rel}-{j}", marks=marks if missing else ()
                )
            )
    return params


# -- README ----------------------------------------------------------------------
README_BLOCKS = markdown_blocks(README, "python")


def test_readme_has_python_blocks():
    assert README_BLOCKS, "README.md should show a runnable quickstart"


@pytest.mark.parametrize("index", range(len(README_BLOCKS)))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_snippet(README_BLOCKS[index], f"README.md python block {index}")


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/") for t in local), "README should link to the docs"
    for target in local:
        assert (ROOT / target).exists(), f"README links to missing {target}"


# -- code in the documentation pages -------------------------------------------------
@pytest.mark.parametrize(("code", "name"), _rst_snippets())
def test_docs_python_block_runs(code, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # snippets that save models write here
    run_snippet(code, name)


# -- shell commands in the README and the documentation pages ---------------------
SHELL_COMMANDS = _shell_commands()
DEMO = ["python", "-m", "sklearn_softmax"]
DEMO_COMMANDS = [
    (tuple(shlex.split(cmd)[len(DEMO) :]), source)
    for cmd, source in SHELL_COMMANDS
    if shlex.split(cmd)[: len(DEMO)] == DEMO
]
DEMO_RUNS = sorted({argv for argv, _ in DEMO_COMMANDS})


def test_readme_shows_the_demo():
    sources = {source for _, source in DEMO_COMMANDS}
    assert "README.md" in sources, "README.md should show how to run the demo"


@pytest.mark.parametrize("argv", DEMO_RUNS, ids=lambda a: " ".join(a) or "default")
def test_demo_command_runs(argv, capsys):
    """``python -m sklearn_softmax ...`` as shown: the demo runs, and on every
    data set it reports SoftmaxRegression converged, as the README says."""
    demo_main(list(argv))
    rows = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("SoftmaxRegression(")
    ]
    assert rows, "the demo printed no SoftmaxRegression result"
    assert all(row.rstrip().endswith("yes") for row in rows), "\n".join(rows)


def test_install_commands_name_existing_extras():
    """``pip install -e ".[extra]"`` as shown: the package provides ``extra``
    (pip only warns about an unknown extra and installs without it)."""
    try:
        provided = set(metadata.metadata("sklearn-softmax").get_all("Provides-Extra"))
    except metadata.PackageNotFoundError:
        pytest.skip("sklearn-softmax is not installed (its extras are unknown)")
    named = set()
    for cmd, source in SHELL_COMMANDS:
        words = shlex.split(cmd)
        if "install" in words:
            for word in words[words.index("install") + 1 :]:
                match = re.fullmatch(r"\.\[([\w,\s-]+)\]", word)
                if match:
                    named |= {(e.strip(), source) for e in match[1].split(",")}
    assert named, "the docs should show how to install the extras"
    unknown = sorted(f"{e} ({src})" for e, src in named if e not in provided)
    assert not unknown, f"install commands name missing extras: {unknown}"


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
        (sklearn_softmax.inference, "sklearn_softmax.inference"),
    ],
)
def test_api_reference_lists_every_public_object(module, prefix):
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    listed = _autosummary_names(text)
    current = re.findall(r"^\.\. currentmodule:: (\S+)", text, re.M)
    assert prefix in current
    missing = [name for name in module.__all__ if name not in listed]
    assert not missing, f"docs/api.rst does not list {missing} of {prefix}"


# -- getting started states the install facts of pyproject.toml -------------------
def _requirements():
    """``(group, requirement)`` of pyproject.toml: the dependencies and extras."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    pairs = [("dependencies", req) for req in project["dependencies"]]
    for extra, reqs in project["optional-dependencies"].items():
        pairs += [(extra, req) for req in reqs]
    return project, pairs


def test_getting_started_states_the_requirements_and_extras():
    text = (DOCS / "getting_started.rst").read_text(encoding="utf-8")
    project, pairs = _requirements()
    python = re.fullmatch(r">=(\d+\.\d+)", project["requires-python"])[1]
    assert f"Python {python} or later" in text
    packages = {group: set() for group, _ in pairs}
    for group, req in pairs:
        packages[group].add(re.match(r"[\w-]+", req)[0])
    section = text[: text.index("Two commands")]
    # each extra under its own name, with the floors it declares
    for group, req in pairs:
        if group in ("dependencies", "test", "docs"):
            continue
        assert f"``{req}``" in section, f"{req} ({group}) is not stated"
    for req in [r for g, r in pairs if g == "dependencies"]:
        assert f"``{req}``" in section, f"{req} is not stated"
    for extra in project["optional-dependencies"]:
        assert f"\n``{extra}``\n" in section, f"extra {extra} is not described"
    # the test and docs extras: every package named, by itself or by the
    # extra that holds it
    for extra in ("test", "docs"):
        body = section[section.index(f"\n``{extra}``\n") :]
        body = body[: body.find("\n``", 1) if "\n``" in body[1:] else None]
        for name in packages[extra]:
            held = [
                e
                for e in ("dask", "onnx")
                if name in packages[e] and f"``{e}``" in body
            ]
            assert f"``{name}" in body or held, f"{name} ({extra}) is not stated"


def test_cv_score_default_is_stated_where_users_look():
    # SoftmaxRegressionCV.score is minus the cross-entropy: a user of
    # cross_val_score must read that before seeing negative numbers
    summary = sklearn_softmax.SoftmaxRegressionCV.__doc__.split("Parameters")[0]
    pages = [
        summary,
        (DOCS / "user_guide" / "cross_validation.rst").read_text("utf-8"),
        (DOCS / "user_guide" / "logistic_regression.rst").read_text("utf-8"),
    ]
    for text in pages:
        flat = " ".join(text.split())
        assert "minus the mean cross-entropy" in flat
        assert "cross_val_score(SoftmaxRegressionCV(), X, y)" in flat
        assert 'scoring="accuracy"' in flat


def test_demo_help_describes_its_options(capsys):
    with pytest.raises(SystemExit):
        demo_main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--data {breast_cancer,digits,wine} the data set to fit" in out
    assert "-C C inverse regularisation strength" in out


def test_api_pages_link_no_private_module():
    # the API reference renders these docstrings: a link into a private
    # module points at a page that does not exist (or should not)
    import inspect

    objects = [sklearn_softmax, sklearn_softmax.metrics]
    for module in (sklearn_softmax, sklearn_softmax.metrics):
        for name in module.__all__:
            obj = getattr(module, name)
            objects.append(obj)
            if inspect.isclass(obj):
                objects += [m for n, m in vars(obj).items() if not n.startswith("_")]
    for obj in objects:
        doc = inspect.getdoc(obj) or ""
        assert not re.search(r"sklearn_softmax\._\w", doc), obj
