"""What a fit tells its user: the ``verbose`` lines and the ConvergenceWarning.

Each fit type (L-BFGS, Newton-CG, Newton on the exact Hessian, the L1 split,
``C=inf``, cross-validation) prints the rule's threshold at every iteration
and a summary with the verdict and the time; Newton says why it goes on below
the threshold; a warning carries only the clauses that apply to its fit.
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV
from sklearn_softmax._solver import stop_threshold

_ITER = re.compile(
    r"iter\s+(\d+)\s+loss\s+(\S+)\s+\|grad\|\s+(\S+)\s+threshold\s+(\S+)\s+"
    r"passes (\d+)"
)
_NOTE = re.compile(
    r"the gradient met the rule but Newton's gap estimate (\S+) exceeds (\S+): "
    r"another Newton step"
)
_SUMMARY = re.compile(
    r"C=(\S+): (\S+) (converged|did NOT converge \(.+\)) after (\d+) iterations: "
    r"\|grad\| (\S+) (<=|>) threshold (\S+) \(tol=(\S+)\); (\d+) passes over X "
    r"in (\S+) s"
)

# the fit types, each with the parameters that select it
FITS = {
    "lbfgs": dict(solver="lbfgs"),
    "newton-cg": dict(solver="newton-cg"),
    "newton-cholesky": dict(solver="newton-cholesky"),
    "l1": dict(C=0.5, l1_ratio=0.5),
    "C=inf newton-cg": dict(C=np.inf, solver="newton-cg"),
    "C=inf lbfgs": dict(C=np.inf, solver="lbfgs"),
}


def _iris():
    return load_iris(return_X_y=True)


def _parse(out):
    """``(iterations, notes-after-iteration, summaries)`` of verbose output."""
    iterations, notes, summaries = [], set(), []
    for line in out.splitlines():
        line = line.strip()
        if not line:
            continue
        if m := _ITER.fullmatch(line):
            iterations.append(m)
        elif m := _NOTE.fullmatch(line):
            notes.add(len(iterations))  # after this many iteration lines
        else:
            m = _SUMMARY.fullmatch(line)
            assert m, f"unexpected verbose line: {line!r}"
            summaries.append(m)
    return iterations, notes, summaries


@pytest.mark.parametrize("name", list(FITS))
def test_verbose_shows_threshold_verdict_and_time(name, capsys):
    X, y = _iris()
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxRegression(verbose=1, **FITS[name]).fit(X, y)
    iterations, _, summaries = _parse(capsys.readouterr().out)
    assert len(summaries) == 1
    tol = float(summaries[0][8])
    assert tol == clf.tol
    for m in iterations:
        # the printed threshold is the rule's at the printed loss
        expected = stop_threshold(tol, float(m[2]))
        assert float(m[4]) == pytest.approx(expected, rel=1e-3)
    s = summaries[0]
    assert s[3] == "converged" and s[6] == "<="
    assert int(s[4]) == clf.n_iter_[0] == len(iterations)
    assert float(s[5]) <= float(s[7])
    assert float(s[10]) > 0  # seconds
    # the summary's gradient is the last iteration's
    assert s[5] == iterations[-1][3]


@pytest.mark.parametrize("name", list(FITS))
def test_every_step_below_the_threshold_is_explained(name, capsys):
    X, y = _iris()
    capsys.readouterr()
    SoftmaxRegression(verbose=1, **FITS[name]).fit(X, y)
    iterations, notes, _ = _parse(capsys.readouterr().out)
    below = {i + 1 for i, m in enumerate(iterations[:-1]) if float(m[3]) <= float(m[4])}
    # a note follows exactly the iterations that met the rule and were not
    # the last (and it may precede the first, at the start)
    assert below == notes - {0}


def test_newton_cg_says_why_it_goes_on_below_the_threshold(capsys):
    # without a penalty the optimum on iris is nearly flat: the gradient meets
    # the rule many steps before Newton's gap estimate does
    X, y = _iris()
    capsys.readouterr()
    SoftmaxRegression(C=np.inf, solver="newton-cg", verbose=1).fit(X, y)
    out = capsys.readouterr().out
    iterations, notes, _ = _parse(out)
    assert len(notes) >= 3
    for line in out.splitlines():
        if m := _NOTE.fullmatch(line.strip()):
            assert float(m[1]) > float(m[2])


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "newton-cholesky"])
def test_verbose_summary_of_an_unconverged_fit(solver, capsys):
    X, y = _iris()
    capsys.readouterr()
    with pytest.warns(ConvergenceWarning):
        SoftmaxRegression(solver=solver, max_iter=2, verbose=1).fit(X, y)
    iterations, _, summaries = _parse(capsys.readouterr().out)
    s = summaries[0]
    assert s[2] == solver and s[3].startswith("did NOT converge (")
    assert int(s[4]) == 2 == len(iterations)
    assert s[6] == ">" and float(s[5]) > float(s[7])


def test_cv_verbose_prints_one_summary_per_fit(capsys):
    X, y = _iris()
    capsys.readouterr()
    cv = SoftmaxRegressionCV(Cs=2, cv=2, verbose=2).fit(X, y)
    _, _, summaries = _parse(
        "\n".join(
            ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith("[")
        )
    )
    # two folds of two Cs, and the refit
    assert len(summaries) == 5
    assert float(summaries[-1][1]) == pytest.approx(np.ravel(cv.C_)[0], rel=1e-5)
    assert all(s[3] == "converged" for s in summaries)


def _warning_text(X, y, **params):
    with pytest.warns(ConvergenceWarning) as record:
        SoftmaxRegression(**params).fit(X, y)
    (w,) = [w for w in record if issubclass(w.category, ConvergenceWarning)]
    return str(w.message)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "newton-cholesky"])
def test_l2_warning_carries_no_l1_or_c_inf_clause(solver):
    text = _warning_text(*_iris(), solver=solver, max_iter=2)
    assert text.startswith("SoftmaxRegression did not converge: after 2 iterations")
    assert "the gradient's max-norm is" in text and "Increase max_iter." in text
    assert "L1" not in text and "KKT" not in text
    assert "C=inf" not in text and "finite optimum" not in text


def test_l1_warning_names_the_kkt_residual_only():
    text = _warning_text(*_iris(), C=0.5, l1_ratio=0.5, max_iter=2)
    assert "KKT residual's max-norm" in text
    assert "C=inf" not in text and "finite optimum" not in text


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_c_inf_warning_carries_the_c_inf_clause_only(l1_ratio):
    # C=inf has no penalty, whatever l1_ratio says: no KKT clause
    text = _warning_text(*_iris(), C=np.inf, l1_ratio=l1_ratio, max_iter=2)
    assert text.endswith(
        "Increase max_iter; with C=inf, separable data have no finite optimum."
    )
    assert "KKT" not in text and "L1" not in text


def test_cv_warning_carries_no_inapplicable_clause():
    X, y = _iris()
    with pytest.warns(ConvergenceWarning) as record:
        SoftmaxRegressionCV(Cs=2, cv=2, max_iter=2).fit(X, y)
    texts = [str(w.message) for w in record if w.category is ConvergenceWarning]
    assert texts and all("SoftmaxRegressionCV did not converge" in t for t in texts)
    assert not any("KKT" in t or "C=inf" in t for t in texts)
