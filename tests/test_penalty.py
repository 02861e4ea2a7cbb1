"""The penalty value (`_penalty`): every rule that depends on ``(C, l1_ratio)``."""

import numpy as np
import pytest

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV
from sklearn_softmax._blocks import RowBlocks
from sklearn_softmax._l1 import L1Orthant, L1Split
from sklearn_softmax._objective import ContrastObjective, SoftmaxObjective
from sklearn_softmax._penalty import Penalty
from sklearn_softmax._precondition import DataStatistics


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_c_inf_is_no_penalty_whatever_l1_ratio(l1_ratio):
    p = Penalty(np.inf, l1_ratio)
    assert p.unpenalised and p.l1_part == 0.0 and not p.has_l1 and p.centred
    assert p.strengths(total=10.0) == (0.0, 0.0)
    p.check_solver("newton-cg")  # smooth: allowed


def test_l1_part_makes_the_problem_non_smooth_and_uncentred():
    p = Penalty(2.0, 0.25)
    assert p.has_l1 and not p.centred and not p.unpenalised
    alpha, l1 = p.strengths(total=4.0)
    assert alpha == pytest.approx(0.75 / 8.0, rel=1e-15)
    assert l1 == pytest.approx(0.25 / 8.0, rel=1e-15)
    assert Penalty(2.0, 0.0).centred and not Penalty(2.0, 0.0).has_l1


def test_solver_choice_follows_the_penalty():
    small, mid, large = (100, 4, 3), (10**4, 100, 10), (10**5, 1000, 10)
    assert Penalty(1.0, 0.5).solver("auto", *small) == "lbfgs"
    assert Penalty(1.0, 0.0).solver("auto", *small) == "newton-cholesky"
    assert Penalty(1.0, 0.0).solver("auto", *mid) == "newton-cg"
    assert Penalty(1.0, 0.0).solver("auto", *large) == "lbfgs"
    assert Penalty(np.inf, 0.5).solver("newton-cg", *small) == "newton-cg"
    # an L1 part: Newton-CG runs on the orthant; the exact Hessian refuses
    assert Penalty(1.0, 0.5).solver("newton-cg", *small) == "newton-cg"
    with pytest.raises(ValueError, match="newton-cholesky.*l1_ratio=0.5"):
        Penalty(1.0, 0.5).solver("newton-cholesky", *small)


def test_objective_is_wrapped_exactly_when_there_is_an_l1_part():
    X, y = np.array([[0.0], [1.0], [2.0]]), np.array([0, 1, 1])
    blocks = RowBlocks.whole(X, y, np.full(3, 1 / 3))
    stats = DataStatistics.from_blocks(blocks, 2, center=True)
    kw = dict(total=3.0, dtype=X.dtype, solver="lbfgs")
    smooth = Penalty(2.0).objective(blocks, stats, **kw)
    assert isinstance(smooth, SoftmaxObjective) and smooth.bounds is None
    assert smooth.alpha == 1.0 / 6.0
    exact = Penalty(2.0).objective(blocks, stats, **{**kw, "solver": "newton-cholesky"})
    assert isinstance(exact, ContrastObjective) and exact.n_params == 2
    orthant = Penalty(2.0, 0.5).objective(
        blocks, stats, **{**kw, "solver": "newton-cg"}
    )
    assert isinstance(orthant, L1Orthant) and orthant.bounds is None
    assert orthant.n_params == orthant.smooth.n_params  # no split variables
    split = Penalty(2.0, 0.5).objective(blocks, stats, **kw)
    assert isinstance(split, L1Split)
    assert split.smooth.alpha == 0.5 / 6.0
    D = split.smooth.preconditioner.D
    np.testing.assert_allclose(split.weight, (0.5 / 6.0 / D).ravel(), rtol=1e-15)


def test_both_estimators_apply_the_same_solver_rule():
    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    for estimator in (
        SoftmaxRegression(solver="newton-cholesky", l1_ratio=0.5),
        SoftmaxRegressionCV(solver="newton-cholesky", l1_ratios=[0.0, 0.5], cv=2),
    ):
        with pytest.raises(ValueError, match="newton-cholesky.*smooth.*l1_ratio=0.5"):
            estimator.fit(X, y)
    # no L1 part at C=inf: Newton-CG is fine for both (data not separable)
    X, y = np.arange(8.0)[:, None], np.array([0, 1, 0, 1, 1, 0, 1, 1])
    SoftmaxRegression(C=np.inf, solver="newton-cg", l1_ratio=0.5).fit(X, y)
    cv = SoftmaxRegressionCV(Cs=[np.inf], solver="newton-cg", l1_ratios=[0.5], cv=2)
    assert np.all(cv.fit(X, y).n_iter_ > 0)


def test_newton_cholesky_with_an_l1_part_is_refused_by_the_estimator():
    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="newton-cholesky.*smooth.*l1_ratio=0.5"):
        SoftmaxRegression(solver="newton-cholesky", l1_ratio=0.5).fit(X, y)
    # no L1 part at C=inf: allowed (data not separable)
    X, y = np.arange(8.0)[:, None], np.array([0, 1, 0, 1, 1, 0, 1, 1])
    SoftmaxRegression(C=np.inf, solver="newton-cholesky", l1_ratio=0.5).fit(X, y)
