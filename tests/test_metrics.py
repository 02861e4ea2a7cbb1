"""Tests for sklearn_softmax.metrics: exact cross-entropy, KL divergence, scorers."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.special
import scipy.stats
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_softmax import _loss
from sklearn_softmax.metrics import (
    cross_entropy,
    cross_entropy_scorer,
    kl_divergence,
    kl_divergence_scorer,
    make_cross_entropy_scorer,
    make_kl_divergence_scorer,
)

LOG2 = np.log(2.0)
METRICS = [cross_entropy, kl_divergence]
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


def _rows(rng, n, k, low=1e-3):
    P = rng.uniform(low, 1.0, size=(n, k))
    return P / P.sum(axis=1, keepdims=True)


@pytest.fixture
def no_runtime_warning():
    # The pytest configuration already turns RuntimeWarning into errors; make
    # it explicit (and independent of the configuration) where it matters.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


# ---------------------------------------------------------------------------
# Against references (away from log_loss's clipping)
# ---------------------------------------------------------------------------


def test_matches_log_loss_multiclass():
    rng = np.random.default_rng(0)
    P = _rows(rng, 50, 4)
    y = rng.integers(0, 4, size=50)
    expected = log_loss(y, P, labels=np.arange(4))
    assert cross_entropy(y, P, labels=np.arange(4)) == pytest.approx(expected, 1e-13)
    # labels are exactly one-hot rows; for them KL equals CE.
    assert kl_divergence(y, P, labels=np.arange(4)) == pytest.approx(expected, 1e-13)


def test_matches_log_loss_string_labels_and_weights():
    rng = np.random.default_rng(1)
    P = _rows(rng, 40, 3)
    y = rng.choice(np.array(["ant", "bee", "cat"]), size=40)
    w = rng.uniform(0.0, 3.0, size=40)
    assert cross_entropy(y, P, sample_weight=w) == pytest.approx(
        log_loss(y, P, sample_weight=w), rel=1e-13
    )
    assert cross_entropy(y, P, sample_weight=w, normalize=False) == pytest.approx(
        log_loss(y, P, sample_weight=w, normalize=False), rel=1e-13
    )


def test_labels_order_is_column_order():
    # log_loss sorts labels=; ours takes the columns in the order given.
    rng = np.random.default_rng(2)
    P = _rows(rng, 30, 3)
    y = rng.choice(np.array(["a", "b", "c"]), size=30)
    ours = cross_entropy(y, P, labels=["c", "a", "b"])
    sorted_cols = P[:, [1, 2, 0]]  # columns of a, b, c
    assert ours == pytest.approx(log_loss(y, sorted_cols), rel=1e-13)


def test_matches_log_loss_binary_1d():
    rng = np.random.default_rng(3)
    p = rng.uniform(1e-3, 1 - 1e-3, size=60)
    y = rng.integers(0, 2, size=60)
    assert cross_entropy(y, p) == pytest.approx(log_loss(y, p), rel=1e-13)
    assert cross_entropy(y, np.column_stack([1 - p, p])) == pytest.approx(
        log_loss(y, p), rel=1e-13
    )


def test_binary_1d_logits_are_softplus():
    z = np.array([-30.0, -2.0, 0.0, 3.5, 40.0])
    y = np.array([0, 1, 1, 0, 1])
    expected = np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z)).mean()
    assert cross_entropy(y, z, from_logits=True) == pytest.approx(expected, 1e-14)
    two_columns = np.column_stack([np.zeros_like(z), z])
    assert cross_entropy(y, two_columns, from_logits=True) == pytest.approx(
        expected, 1e-14
    )


def test_soft_targets_against_scipy():
    rng = np.random.default_rng(4)
    P = _rows(rng, 30, 5)
    P[::3, 1] = 0.0  # some zero target mass
    P /= P.sum(axis=1, keepdims=True)
    Q = _rows(rng, 30, 5)
    kl_rows = scipy.stats.entropy(P, Q, axis=1)
    assert kl_divergence(P, Q) == pytest.approx(kl_rows.mean(), rel=1e-12)
    assert kl_divergence(P, Q) == pytest.approx(
        scipy.special.rel_entr(P, Q).sum(axis=1).mean(), rel=1e-12
    )
    ce_rows = scipy.stats.entropy(P, axis=1) + kl_rows
    assert cross_entropy(P, Q) == pytest.approx(ce_rows.mean(), rel=1e-12)
    assert cross_entropy(P, Q) == pytest.approx(
        -(scipy.special.xlogy(P, Q)).sum(axis=1).mean(), rel=1e-13
    )


def test_logits_against_scipy_log_softmax():
    rng = np.random.default_rng(5)
    Z = rng.normal(scale=5.0, size=(40, 4))
    Y = _rows(rng, 40, 4)
    logq = scipy.special.log_softmax(Z, axis=1)
    assert cross_entropy(Y, Z, from_logits=True) == pytest.approx(
        -(Y * logq).sum(axis=1).mean(), rel=1e-13
    )
    assert cross_entropy(Y, Z, from_logits=True) == pytest.approx(
        cross_entropy(Y, np.exp(logq)), rel=1e-12
    )
    assert kl_divergence(Y, Z, from_logits=True) == pytest.approx(
        scipy.stats.entropy(Y, np.exp(logq), axis=1).mean(), rel=1e-11
    )


def test_logits_agree_with_the_estimators_loss_kernel():
    # One implementation: the fit's data term equals the metric on the scores.
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 3))
    Wt = rng.normal(size=(3, 4))
    b = rng.normal(size=4)
    y = rng.integers(0, 4, size=30)
    w = rng.uniform(0.5, 2.0, size=30)
    loss, _, _ = _loss.loss_gradient(X, Wt, b, y, w)
    Z = X @ Wt + b
    metric = cross_entropy(
        y, Z, from_logits=True, labels=np.arange(4), sample_weight=w, normalize=False
    )
    assert metric == pytest.approx(loss, rel=1e-12)


def test_pandas_inputs():
    y = pd.Series(["x", "y", "x"])
    P = pd.DataFrame({"x": [0.9, 0.2, 0.6], "y": [0.1, 0.8, 0.4]})
    expected = -np.mean(np.log([0.9, 0.8, 0.6]))
    assert cross_entropy(y, P) == pytest.approx(expected, rel=1e-14)
    w = pd.Series([1.0, 1.0, 1.0])
    assert kl_divergence(y, P, sample_weight=w) == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------------------------
# Exact values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_zero_probability_on_true_class_is_inf(metric, no_runtime_warning):
    P = np.array([[0.0, 1.0], [0.5, 0.5]])
    assert metric([0, 1], P) == np.inf
    assert metric([1, 0], np.array([0.0, 0.5])) == np.inf  # binary 1-D, p(1) = 0
    assert metric([0, 1], np.array([1.0, 0.5])) == np.inf  # p(0) = 1 - 1 = 0
    assert metric([[0.5, 0.5], [0.5, 0.5]], P) == np.inf
    # scikit-learn clips at machine epsilon instead (about 36.04).
    assert np.isfinite(log_loss([0, 1], P))


def test_tiny_probability_is_not_clipped(no_runtime_warning):
    assert cross_entropy([0], [[1e-300, 1.0]], labels=[0, 1]) == pytest.approx(
        300 * np.log(10), rel=1e-14
    )
    # log1p keeps the negative class exact for a 1-D probability near 0.
    assert cross_entropy([0], [1e-20], labels=[0, 1]) == pytest.approx(1e-20, rel=1e-14)


@pytest.mark.parametrize("metric", METRICS)
def test_zero_target_on_zero_probability_contributes_nothing(
    metric, no_runtime_warning
):
    p = [[0.5, 0.5, 0.0]]
    q = [[0.5, 0.5, 0.0]]
    expected = LOG2 if metric is cross_entropy else 0.0
    assert metric(p, q) == pytest.approx(expected, abs=1e-16)
    assert metric(p, [[0.0, 0.0, -np.inf]], from_logits=True) == pytest.approx(
        expected, abs=1e-16
    )


def test_kl_of_identical_rows_is_exactly_zero(no_runtime_warning):
    rng = np.random.default_rng(7)
    P = _rows(rng, 10, 6, low=0.0)
    assert kl_divergence(P, P) == 0.0
    assert kl_divergence(P, P, base=2) == 0.0
    assert kl_divergence([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0
    assert cross_entropy([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0


def test_rows_within_tolerance_are_used_as_given():
    # Rows must sum to 1 within 1e-4 (float32 round-off); they are never
    # renormalised, and a row off by more is rejected.
    q = [[0.50004, 0.50001]]
    assert cross_entropy([0], q, labels=[0, 1]) == -np.log(0.50004)
    with pytest.raises(ValueError, match="sum to 1"):
        cross_entropy([0], [[0.5002, 0.5]], labels=[0, 1])
    # KL is floored at 0 where such a row makes the plain sum negative.
    p = [[0.5, 0.5]]
    assert 0.5 * (np.log(0.5 / 0.50004) + np.log(0.5 / 0.50001)) < 0
    assert kl_divergence(p, q) == 0.0


def test_zero_is_positive_zero():
    value = cross_entropy([0], [[1.0, 0.0]], labels=[0, 1])
    assert value == 0.0 and np.copysign(1.0, value) == 1.0


@pytest.mark.parametrize("z", [1e17, -1e17, 1e308, -1e308, 0.0])
def test_equal_huge_logits_give_log2(z, no_runtime_warning):
    # logsumexp(z) - z_k returns 0 for [1e17, 1e17]; the answer is log 2.
    value = cross_entropy([0], [[z, z]], from_logits=True, labels=[0, 1])
    assert value == pytest.approx(LOG2, rel=1e-15)


@pytest.mark.parametrize(
    ("label", "logits", "expected"),
    [
        (0, [1e308, 0.0], 0.0),
        (1, [1e308, 0.0], 1e308),
        (1, [0.0, -1e308], 1e308),
        (0, [1e308, -1e308], 0.0),
        (1, [1e308, -1e308], np.inf),  # 2e308 overflows: inf is the rounding
        (1, [-1e308, 1e308], 0.0),
        (2, [-1e308, -1e308, 1e308], 0.0),
        (0, [0.0, -np.inf], 0.0),
        (1, [0.0, -np.inf], np.inf),
        (0, [-np.inf, 5.0, 1e308], np.inf),
    ],
)
def test_extreme_logits_exact(label, logits, expected, no_runtime_warning):
    labels = np.arange(len(logits))
    value = cross_entropy([label], [logits], from_logits=True, labels=labels)
    assert value == pytest.approx(expected, rel=1e-15)
    assert kl_divergence([label], [logits], from_logits=True, labels=labels) == (
        pytest.approx(expected, rel=1e-15)
    )


@pytest.mark.parametrize(
    ("y", "z", "expected"),
    [([0], 1e308, 1e308), ([1], 1e308, 0.0), ([0], -1e308, 0.0), ([0], -np.inf, 0.0)],
)
def test_extreme_binary_1d_logits(y, z, expected, no_runtime_warning):
    value = cross_entropy(y, [z], from_logits=True, labels=[0, 1])
    assert value == pytest.approx(expected, rel=1e-15)


def test_soft_targets_with_minus_inf_logits(no_runtime_warning):
    Y = np.array([[0.25, 0.75, 0.0], [0.0, 0.0, 1.0]])
    Z = np.array([[0.0, np.log(3.0), -np.inf], [-np.inf, 2.0, 2.0]])
    # Row 0 is predicted exactly (KL = 0); row 1 puts half its mass on class 2.
    h0 = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    assert cross_entropy(Y, Z, from_logits=True) == pytest.approx(
        (h0 + LOG2) / 2, rel=1e-14
    )
    assert kl_divergence(Y, Z, from_logits=True) == pytest.approx(LOG2 / 2, 1e-14)
    Y[1] = [0.5, 0.0, 0.5]  # positive mass on a -inf logit
    assert kl_divergence(Y, Z, from_logits=True) == np.inf


def test_mean_does_not_overflow(no_runtime_warning):
    Z = np.array([[0.0, -1e308], [0.0, -1.5e308]])
    kw = {"from_logits": True, "labels": [0, 1]}
    assert cross_entropy([1, 1], Z, **kw) == pytest.approx(1.25e308, rel=1e-15)
    assert cross_entropy([1, 1], Z, normalize=False, **kw) == np.inf
    w = np.array([1e308, 1e308])
    P = np.array([[0.5, 0.5], [0.25, 0.75]])
    assert cross_entropy([0, 1], P, sample_weight=w) == pytest.approx(
        cross_entropy([0, 1], P), rel=1e-15
    )


@pytest.mark.parametrize("metric", METRICS)
def test_zero_weight_rows_are_ignored_even_if_infinite(metric, no_runtime_warning):
    P = np.array([[0.0, 1.0], [0.5, 0.5]])
    assert metric([0, 1], P, sample_weight=[0.0, 2.0]) == pytest.approx(LOG2)
    assert metric([0, 1], P, sample_weight=[0.0, 2.0], normalize=False) == (
        pytest.approx(2 * LOG2)
    )


def test_normalize_and_base():
    P = np.array([[0.5, 0.5], [0.25, 0.75], [0.5, 0.5]])
    y = [0, 0, 1]
    total = -np.log(0.5) - np.log(0.25) - np.log(0.5)
    assert cross_entropy(y, P, normalize=False) == pytest.approx(total, rel=1e-15)
    assert cross_entropy(y, P) == pytest.approx(total / 3, rel=1e-15)
    assert cross_entropy(y, P, normalize=False, base=2) == pytest.approx(4.0, 1e-15)
    assert cross_entropy(y, P, base=4) == pytest.approx(4.0 / 3 / 2, rel=1e-15)
    assert cross_entropy(y, P, base=np.e) == pytest.approx(total / 3, rel=1e-15)
    assert kl_divergence([[1.0, 0.0]], [[0.5, 0.5]], base=2) == pytest.approx(1.0)
    w = [1.0, 0.0, 3.0]
    expected = (-np.log(0.5) - 3 * np.log(0.5)) / 4
    assert cross_entropy(y, P, sample_weight=w) == pytest.approx(expected, 1e-15)


def test_returns_python_float():
    for value in (
        cross_entropy([0, 1], [[0.5, 0.5], [0.5, 0.5]]),
        kl_divergence([0, 1], np.array([0.3, 0.6], dtype=np.float32)),
        cross_entropy([[1.0, 0.0]], [[0.0, 1.0]]),
    ):
        assert type(value) is float


# ---------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_float32_probabilities(metric):
    rng = np.random.default_rng(8)
    P = _rows(rng, 40, 5)
    Y = _rows(rng, 40, 5)
    y = rng.integers(0, 5, size=40)
    P32, Y32 = P.astype(np.float32), Y.astype(np.float32)
    labels = np.arange(5)
    for target, target32 in ((y, y), (Y, Y32)):
        got = metric(target32, P32, labels=labels)
        assert type(got) is float
        # float64 maths on the float32 values...
        ref = metric(np.asarray(target32, dtype=np.float64), P32.astype(np.float64))
        assert got == pytest.approx(ref, rel=1e-13)
        # ...which is float32-accurate for the underlying values.
        assert got == pytest.approx(metric(target, P, labels=labels), rel=1e-5)


def test_float32_logits_and_binary():
    rng = np.random.default_rng(9)
    Z = rng.normal(scale=4.0, size=(40, 3))
    y = rng.integers(0, 3, size=40)
    got = cross_entropy(y, Z.astype(np.float32), from_logits=True, labels=[0, 1, 2])
    ref = cross_entropy(y, Z, from_logits=True, labels=[0, 1, 2])
    assert got == pytest.approx(ref, rel=1e-5)
    p = rng.uniform(0.01, 0.99, size=40)
    yb = rng.integers(0, 2, size=40)
    got = cross_entropy(yb, p.astype(np.float32), labels=[0, 1])
    assert got == pytest.approx(cross_entropy(yb, p, labels=[0, 1]), rel=1e-5)


# ---------------------------------------------------------------------------
# Properties (hypothesis)
# ---------------------------------------------------------------------------

unit = st.floats(0.0, 1.0)
logit = st.floats(-50.0, 50.0)


@st.composite
def prob_rows(draw, n, k, positive=False):
    elements = st.floats(1e-6, 1.0) if positive else unit
    raw = draw(arrays(np.float64, (n, k), elements=elements))
    raw[raw.sum(axis=1) == 0, 0] = 1.0
    return raw / raw.sum(axis=1, keepdims=True)


@st.composite
def pair_of_rows(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(2, 5))
    return draw(prob_rows(n, k)), draw(prob_rows(n, k))


@PROPERTY_SETTINGS
@given(pair_of_rows())
def test_property_kl_nonnegative(pq):
    P, Q = pq
    assert kl_divergence(P, Q) >= 0.0
    assert kl_divergence(P, np.log(Q + 1e-300), from_logits=True) >= 0.0


@PROPERTY_SETTINGS
@given(st.integers(1, 6).flatmap(lambda n: prob_rows(n, 4)))
def test_property_kl_of_itself_is_zero(P):
    assert kl_divergence(P, P) == 0.0
    # Through logits the round trip log -> softmax -> log costs a few ulps.
    with np.errstate(divide="ignore"):
        logits = np.log(P)
    assert kl_divergence(P, logits, from_logits=True) == pytest.approx(0, abs=1e-14)


@PROPERTY_SETTINGS
@given(pair_of_rows())
def test_property_cross_entropy_is_entropy_plus_kl(pq):
    P, Q = pq
    ce = cross_entropy(P, Q)
    kl = kl_divergence(P, Q)
    h = scipy.stats.entropy(P, axis=1).mean()
    if np.isinf(ce):
        assert kl == np.inf
    else:
        assert ce == pytest.approx(h + kl, rel=1e-10, abs=1e-12)
        assert ce >= h - 1e-12


@st.composite
def labels_and_logits(draw):
    n = draw(st.integers(1, 8))
    k = draw(st.integers(2, 5))
    y = draw(arrays(np.intp, n, elements=st.integers(0, k - 1)))
    Z = draw(arrays(np.float64, (n, k), elements=logit))
    return y, Z


@PROPERTY_SETTINGS
@given(labels_and_logits(), st.lists(st.floats(-1e3, 1e3), min_size=8, max_size=8))
def test_property_logits_shift_invariant(yz, shifts):
    y, Z = yz
    c = np.asarray(shifts[: Z.shape[0]])[:, None]
    labels = np.arange(Z.shape[1])
    base = cross_entropy(y, Z, from_logits=True, labels=labels)
    shifted = cross_entropy(y, Z + c, from_logits=True, labels=labels)
    assert shifted == pytest.approx(base, rel=1e-10, abs=1e-10)
    probs = np.exp(scipy.special.log_softmax(Z, axis=1))
    with np.errstate(divide="ignore"):
        assert cross_entropy(y, probs, labels=labels) == pytest.approx(
            base, rel=1e-9, abs=1e-12
        )


@PROPERTY_SETTINGS
@given(pair_of_rows())
def test_property_bits_are_nats_over_log2(pq):
    P, Q = pq
    for metric in METRICS:
        nats = metric(P, Q)
        assert metric(P, Q, base=2) == pytest.approx(nats / LOG2, rel=1e-15)


@PROPERTY_SETTINGS
@given(
    labels_and_logits(),
    st.lists(st.integers(0, 3), min_size=8, max_size=8),
    st.booleans(),
)
def test_property_integer_weights_repeat_rows(yz, counts, soft):
    y, Z = yz
    w = np.asarray(counts[: y.shape[0]])
    w[0] = max(w[0], 1)
    labels = np.arange(Z.shape[1])
    target = np.eye(Z.shape[1])[y] * 0.5 + 0.5 / Z.shape[1] if soft else y
    for metric in METRICS:
        for normalize in (True, False):
            weighted = metric(
                target,
                Z,
                from_logits=True,
                labels=labels,
                sample_weight=w,
                normalize=normalize,
            )
            repeated = metric(
                np.repeat(target, w, axis=0),
                np.repeat(Z, w, axis=0),
                from_logits=True,
                labels=labels,
                normalize=normalize,
            )
            assert weighted == pytest.approx(repeated, rel=1e-12, abs=1e-14)


# ---------------------------------------------------------------------------
# Bad input: one case each, for both metrics
# ---------------------------------------------------------------------------

P2 = [[0.5, 0.5], [0.25, 0.75]]
BAD_INPUTS = {
    "nan-probability": (([0, 1], [[np.nan, 1.0], [0.5, 0.5]]), {}, "NaN or inf"),
    "inf-probability": (([0, 1], [[np.inf, 0.0], [0.5, 0.5]]), {}, "NaN or inf"),
    "negative-probability": (([0, 1], [[-0.1, 1.1], [0.5, 0.5]]), {}, "negative"),
    "probability-above-1": (([0, 1], [[1.5, 0.0], [0.5, 0.5]]), {}, "greater than 1"),
    "row-not-summing-to-1": (([0, 1], [[0.2, 0.7], [0.5, 0.5]]), {}, "sum to 1"),
    "1d-nan-probability": (([0, 1], [np.nan, 0.5]), {}, "NaN or inf"),
    "1d-negative-probability": (([0, 1], [-0.5, 0.5]), {}, "negative"),
    "1d-probability-above-1": (([0, 1], [1.5, 0.5]), {}, "greater than 1"),
    "nan-target-mass": (([[np.nan, 1.0], [0.5, 0.5]], P2), {}, "NaN or inf"),
    "negative-target-mass": (([[-0.5, 1.5], [0.5, 0.5]], P2), {}, "negative"),
    "target-row-not-summing-to-1": (([[0.5, 0.4], [0.5, 0.5]], P2), {}, "sum to 1"),
    "nan-label": (([0.0, np.nan], P2), {}, r"\(labels\) contains NaN"),
    "nan-logit": (([0, 1], [[np.nan, 0.0], [0, 0]]), {"from_logits": True}, "NaN"),
    "plus-inf-logit": (([0, 1], [[np.inf, 0.0], [0, 0]]), {"from_logits": True}, "inf"),
    "1d-plus-inf-logit": (([0, 1], [np.inf, 0.0]), {"from_logits": True}, r"\+inf"),
    "all-minus-inf-logits": (
        ([0, 1], [[-np.inf, -np.inf], [0.0, 0.0]]),
        {"from_logits": True},
        "all -inf",
    ),
    "sample-count-mismatch": (([0, 1, 1], P2), {}, "3 samples"),
    "class-count-mismatch": (([[1.0, 0, 0], [0, 1.0, 0]], P2), {}, "3 classes"),
    "labels-count-vs-columns": (([0, 1], P2), {"labels": [0, 1, 2]}, "names 3"),
    "labels-count-soft-target": (
        ([[1.0, 0], [0, 1.0]], P2),
        {"labels": [0]},
        "names 1",
    ),
    "label-absent-from-labels": (([0, 5], P2), {"labels": [0, 1]}, "not in labels="),
    "distinct-labels-vs-columns": (([0, 0], P2), {}, "pass labels="),
    "duplicate-labels": (([0, 1], P2), {"labels": [1, 1]}, "duplicates"),
    "duplicate-labels-soft": (([[1.0, 0], [0, 1.0]], P2), {"labels": [1, 1]}, "dupl"),
    "2d-labels": (([0, 1], P2), {"labels": [[0, 1]]}, "labels must be 1-D"),
    "1d-pred-with-3-labels": (([0, 1], [0.5, 0.5]), {"labels": [0, 1, 2]}, "names 3"),
    "unsortable-labels": ((np.array([1, "a"], dtype=object), P2), {}, "compared"),
    "negative-weight": (([0, 1], P2), {"sample_weight": [1.0, -1.0]}, "negative"),
    "nan-weight": (([0, 1], P2), {"sample_weight": [1.0, np.nan]}, "NaN or inf"),
    "inf-weight": (([0, 1], P2), {"sample_weight": [1.0, np.inf]}, "NaN or inf"),
    "all-zero-weights": (([0, 1], P2), {"sample_weight": [0.0, 0.0]}, "all zero"),
    "weight-length": (([0, 1], P2), {"sample_weight": [1.0, 1.0, 1.0]}, "shape"),
    "weight-2d": (([0, 1], P2), {"sample_weight": [[1.0, 1.0]]}, "shape"),
    "base-zero": (([0, 1], P2), {"base": 0}, "base"),
    "base-negative": (([0, 1], P2), {"base": -2}, "base"),
    "base-one": (([0, 1], P2), {"base": 1}, "base"),
    "base-inf": (([0, 1], P2), {"base": np.inf}, "base"),
    "base-nan": (([0, 1], P2), {"base": np.nan}, "base"),
    "base-string": (([0, 1], P2), {"base": "2"}, "base"),
    "base-bool": (([0, 1], P2), {"base": True}, "base"),
    "pred-3d": (([0, 1], [P2]), {}, "1-D .*or 2-D"),
    "target-3d": (([[[1.0, 0.0]], [[0.0, 1.0]]], P2), {}, "1-D labels or 2-D"),
    "no-samples": ((np.array([]), np.empty((0, 2))), {}, "no samples"),
    "no-columns": (([0, 1], np.empty((2, 0))), {}, "no columns"),
    "non-numeric-pred": (([0, 1], [["a", "b"], ["c", "d"]]), {}, "real numbers"),
    "non-numeric-soft-target": (([["a", "b"], ["c", "d"]], P2), {}, "real numbers"),
    "from-logits-not-bool": (([0, 1], P2), {"from_logits": "yes"}, "from_logits"),
    "normalize-not-bool": (([0, 1], P2), {"normalize": None}, "normalize"),
}


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_raises_value_error(metric, case):
    args, kwargs, match = BAD_INPUTS[case]
    with pytest.raises(ValueError, match=match):
        metric(*args, **kwargs)


def test_error_messages_name_the_arguments():
    with pytest.raises(ValueError, match="q_pred contains negative"):
        kl_divergence([0, 1], [[-0.1, 1.1], [0.5, 0.5]])
    with pytest.raises(ValueError, match="p_true has 3 samples but q_pred has 2"):
        kl_divergence([0, 1, 1], P2)
    with pytest.raises(ValueError, match="y_true has 3 samples but y_pred has 2"):
        cross_entropy([0, 1, 1], P2)


# ---------------------------------------------------------------------------
# Scorers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def _lr():
    return LogisticRegression(max_iter=2000)


def test_scorer_cross_val_score_multiclass(iris):
    X, y = iris
    cv = KFold(5, shuffle=True, random_state=0)
    ours = cross_val_score(_lr(), X, y, scoring=cross_entropy_scorer, cv=cv)
    ref = cross_val_score(_lr(), X, y, scoring="neg_log_loss", cv=cv)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    kl = cross_val_score(_lr(), X, y, scoring=kl_divergence_scorer, cv=cv)
    np.testing.assert_allclose(kl, ours, rtol=1e-12)
    logits = make_cross_entropy_scorer(from_logits=True)
    np.testing.assert_allclose(
        cross_val_score(_lr(), X, y, scoring=logits, cv=cv), ours, rtol=1e-9
    )
    bits = make_cross_entropy_scorer(labels=[0, 1, 2], base=2)
    np.testing.assert_allclose(
        cross_val_score(_lr(), X, y, scoring=bits, cv=cv), ours / LOG2, rtol=1e-12
    )


def test_scorer_cross_val_score_binary(cancer):
    X, y = cancer
    model = make_pipeline(StandardScaler(), _lr())  # a pipeline has classes_ too
    cv = KFold(4, shuffle=True, random_state=0)
    ours = cross_val_score(model, X, y, scoring=cross_entropy_scorer, cv=cv)
    ref = cross_val_score(model, X, y, scoring="neg_log_loss", cv=cv)
    np.testing.assert_allclose(ours, ref, rtol=1e-9)
    # decision_function is 1-D for two classes: the logit of classes_[1].
    for scorer in (
        make_cross_entropy_scorer(from_logits=True),
        make_kl_divergence_scorer(from_logits=True, labels=[0, 1]),
    ):
        got = cross_val_score(model, X, y, scoring=scorer, cv=cv)
        np.testing.assert_allclose(got, ours, rtol=1e-8)


def test_scorer_binary_string_labels(cancer):
    X, y = cancer
    names = np.array(["malignant", "benign"])[y]
    model = make_pipeline(StandardScaler(), _lr()).fit(X, names)
    expected = log_loss(names, model.predict_proba(X))
    assert cross_entropy_scorer(model, X, names) == pytest.approx(-expected, 1e-12)
    logits = make_cross_entropy_scorer(from_logits=True)
    assert logits(model, X, names) == pytest.approx(-expected, rel=1e-9)


def test_scorer_in_grid_search(iris):
    X, y = iris
    grid = {"C": [0.01, 1.0, 100.0]}
    cv = KFold(3, shuffle=True, random_state=1)
    ours = GridSearchCV(_lr(), grid, scoring=cross_entropy_scorer, cv=cv).fit(X, y)
    ref = GridSearchCV(_lr(), grid, scoring="neg_log_loss", cv=cv).fit(X, y)
    assert ours.best_params_ == ref.best_params_
    assert ours.best_score_ == pytest.approx(ref.best_score_, rel=1e-10)
    multi = GridSearchCV(
        _lr(),
        grid,
        scoring={
            "ce": cross_entropy_scorer,
            "kl_bits": make_kl_divergence_scorer(base=2),
        },
        refit="ce",
        cv=cv,
    ).fit(X, y)
    np.testing.assert_allclose(
        multi.cv_results_["mean_test_kl_bits"],
        multi.cv_results_["mean_test_ce"] / LOG2,
        rtol=1e-12,
    )


def test_scorer_grid_search_binary(cancer):
    X, y = cancer
    model = make_pipeline(StandardScaler(), _lr())
    grid = {"logisticregression__C": [0.1, 10.0]}
    search = GridSearchCV(
        model, grid, scoring=make_cross_entropy_scorer(from_logits=True), cv=3
    ).fit(X, y)
    ref = GridSearchCV(model, grid, scoring="neg_log_loss", cv=3).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        ref.cv_results_["mean_test_score"],
        rtol=1e-8,
    )


def _rare_class_data():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    y[:4] = 2  # class 2 only in the first rows: the first training fold lacks it
    X[:4] += 3.0
    return X, y


def test_scorer_fold_missing_a_class():
    X, y = _rare_class_data()
    cv = KFold(3)  # fold 0 tests all of class 2, which its training set lacks
    scorer = make_cross_entropy_scorer(labels=np.unique(y))
    scores = cross_val_score(_lr(), X, y, scoring=scorer, cv=cv)
    # Exact: a test sample of a class the model never saw has probability 0.
    assert scores[0] == -np.inf
    assert np.all(np.isfinite(scores[1:]))
    # Without labels=, the test fold's class 2 is not among the model's classes.
    with pytest.raises(ValueError, match=r"not fitted on: \[2\].*labels="):
        cross_val_score(
            _lr(), X, y, scoring=cross_entropy_scorer, cv=cv, error_score="raise"
        )


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("classes", [[0, 1, 2], ["a", "b", "c"]])
def test_scorer_aligns_columns_by_classes(from_logits, classes):
    # Trained on classes 0 and 2 only, scored on those classes, labels of three.
    X, y = _rare_class_data()
    classes = np.asarray(classes)
    y = classes[np.where(y == 1, 2, 0)]
    clf = _lr().fit(X, y)
    assert clf.classes_.tolist() == [classes[0], classes[2]]
    P = clf.predict_proba(X)
    expected = cross_entropy(y, P)
    for make in (make_cross_entropy_scorer, make_kl_divergence_scorer):
        scorer = make(labels=classes, from_logits=from_logits)
        assert scorer(clf, X, y) == pytest.approx(-expected, rel=1e-9)
    # A sample of the unseen class has probability 0.
    y_unseen = y.copy()
    y_unseen[0] = classes[1]
    scorer = make_cross_entropy_scorer(labels=classes, from_logits=from_logits)
    assert scorer(clf, X, y_unseen) == -np.inf


def test_scorer_rejects_classes_outside_labels(iris):
    X, y = iris
    clf = _lr().fit(X, y)
    scorer = make_cross_entropy_scorer(labels=[0, 1])
    with pytest.raises(ValueError, match="classes_"):
        scorer(clf, X, y)


def test_scorer_grid_search_with_rare_class():
    X, y = _rare_class_data()
    cv = StratifiedKFold(2, shuffle=True, random_state=0)  # each train fold sees 2
    labels = np.unique(y)
    search = GridSearchCV(
        _lr(),
        {"C": [0.1, 1.0]},
        scoring=make_cross_entropy_scorer(labels=labels),
        cv=cv,
    ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


class _MeanRowClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the mean training row of soft targets for every sample."""

    def fit(self, X, Y):
        Y = np.asarray(Y, dtype=float)
        self.classes_ = np.arange(Y.shape[1])
        self.mean_ = Y.mean(axis=0)
        return self

    def predict_proba(self, X):
        return np.tile(self.mean_, (len(X), 1))

    def decision_function(self, X):
        return np.log(self.predict_proba(X))


def test_scorer_soft_targets_cross_val_score():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(30, 2))
    Y = _rows(rng, 30, 3)
    cv = KFold(3)
    expected_ce, expected_kl = [], []
    for train, test in cv.split(X):
        q = np.tile(Y[train].mean(axis=0), (len(test), 1))
        expected_ce.append(-cross_entropy(Y[test], q))
        expected_kl.append(-kl_divergence(Y[test], q))
    est = _MeanRowClassifier()
    for scorer, expected in (
        (cross_entropy_scorer, expected_ce),
        (make_cross_entropy_scorer(labels=[0, 1, 2]), expected_ce),
        (make_cross_entropy_scorer(from_logits=True), expected_ce),
        (kl_divergence_scorer, expected_kl),
    ):
        scores = cross_val_score(est, X, Y, scoring=scorer, cv=cv)
        np.testing.assert_allclose(scores, expected, rtol=1e-12)
    # The KL scorer is zero for a perfect prediction; CE is then the entropy.
    fitted = est.fit(X, np.tile(Y[0], (30, 1)))
    assert kl_divergence_scorer(fitted, X, np.tile(Y[0], (30, 1))) == 0.0


def test_scorer_sample_weight_direct_and_routed(iris):
    X, y = iris
    w = np.random.default_rng(12).uniform(0.1, 2.0, size=len(y))
    clf = _lr().fit(X, y)
    expected = cross_entropy(y, clf.predict_proba(X), sample_weight=w)
    assert cross_entropy_scorer(clf, X, y, sample_weight=w) == pytest.approx(
        -expected, rel=1e-14
    )
    cv = KFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_cross_entropy_scorer().set_score_request(sample_weight=True)
        est = _lr().set_fit_request(sample_weight=False)
        result = cross_validate(
            est, X, y, scoring=scorer, cv=cv, params={"sample_weight": w}
        )
    expected = [
        -cross_entropy(
            y[test],
            _lr().fit(X[train], y[train]).predict_proba(X[test]),
            sample_weight=w[test],
        )
        for train, test in cv.split(X)
    ]
    np.testing.assert_allclose(result["test_score"], expected, rtol=1e-10)


def test_scorer_repr_and_validation():
    assert repr(cross_entropy_scorer) == "make_cross_entropy_scorer()"
    assert repr(make_kl_divergence_scorer(labels=["a", "b"], from_logits=True)) == (
        "make_kl_divergence_scorer(labels=['a', 'b'], from_logits=True)"
    )
    with pytest.raises(ValueError, match="base"):
        make_cross_entropy_scorer(base=1)
    with pytest.raises(ValueError, match="from_logits"):
        make_kl_divergence_scorer(from_logits="no")


def test_scorer_with_softmax_regression(iris):
    softmax = pytest.importorskip("sklearn_softmax._softmax")
    X, y = iris
    cv = KFold(3, shuffle=True, random_state=0)
    est = softmax.SoftmaxRegression()
    proba = cross_val_score(est, X, y, scoring=cross_entropy_scorer, cv=cv)
    logits = cross_val_score(
        est, X, y, scoring=make_cross_entropy_scorer(from_logits=True), cv=cv
    )
    assert np.all(np.isfinite(proba)) and np.all(proba < 0)
    np.testing.assert_allclose(logits, proba, rtol=1e-9)


# -- float16 probabilities ------------------------------------------------------

_EPS16 = float(np.finfo(np.float16).eps)


def _float16_predictions():
    X, y = load_iris(return_X_y=True)
    P = LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)
    P16 = P.astype(np.float16)
    # float16 rounding moves the row sums by more than float32's 1e-4: the
    # case the dtype-scaled tolerance is for
    assert np.abs(P16.sum(axis=1, dtype=np.float64) - 1).max() > 1e-4
    return y, P, P16


def test_float16_predictions_are_accepted_within_float16_accuracy():
    y, P, P16 = _float16_predictions()
    ce16 = cross_entropy(y, P16)
    # each log-probability moves by at most eps/2 (relative rounding of p)
    assert abs(ce16 - cross_entropy(y, P)) <= _EPS16 / 2
    # scikit-learn's log_loss computes in float16: agree to its rounding
    assert ce16 == pytest.approx(log_loss(y, P16), rel=_EPS16)
    assert kl_divergence(P16, P16) == 0.0
    assert abs(cross_entropy(P16, P) - cross_entropy(P, P)) <= _EPS16


def test_float16_tolerance_is_float16_only():
    _, P, P16 = _float16_predictions()
    y = np.argmax(P, axis=1)
    # the same rounded rows as float32 or float64: float32's tolerance holds
    for dtype in (np.float32, np.float64):
        with pytest.raises(ValueError, match=r"sum to 1 \(within 0.0001\)"):
            cross_entropy(y, P16.astype(dtype))
    # float16 rows off by more than their rounding are still rejected
    bad = P16.copy()
    bad[0] = [0.5, 0.25, 0.24]
    with pytest.raises(ValueError, match=r"sum to 1 \(within 0.00293\)"):
        cross_entropy(y, bad)


@pytest.mark.parametrize(
    "scorer, maker",
    [
        (cross_entropy_scorer, "make_cross_entropy_scorer"),
        (kl_divergence_scorer, "make_kl_divergence_scorer"),
    ],
)
def test_scorer_names_the_fix_for_a_class_the_fold_missed(iris, scorer, maker):
    X, y = iris
    model = _lr().fit(X[y < 2], y[y < 2])  # a training fold without class 2
    with pytest.raises(ValueError) as info:
        scorer(model, X, y)
    text = str(info.value)
    assert "not fitted on: [2] (its classes_ are [0, 1])" in text
    assert f"{maker}(labels=np.unique(y))" in text
    # the fix it names works: class 2 gets probability 0, an infinite loss
    fixed = make_cross_entropy_scorer(labels=np.unique(y))
    assert fixed(model, X, y) == -np.inf
    assert np.isfinite(fixed(model, X[y < 2], y[y < 2]))
