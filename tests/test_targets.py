"""Small tests of the target helpers in `_targets`."""

import numpy as np
import pytest
from _helpers import needs_sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils.class_weight import compute_class_weight

from sklearn_softmax._blocks import RowBlocks
from sklearn_softmax._targets import (
    ROW_SUM_ATOL,
    check_probability_rows,
    class_mass,
    class_weight_vector,
    encode_labels,
    prepare_rows,
    smooth,
)

# -- encode_labels -------------------------------------------------------------


def test_encode_labels_sorted_by_default():
    classes, idx = encode_labels(np.array(["b", "c", "a", "b"]))
    assert_array_equal(classes, ["a", "b", "c"])
    assert_array_equal(idx, [1, 2, 0, 1])
    assert idx.dtype == np.intp
    assert_array_equal(classes[idx], ["b", "c", "a", "b"])


def test_encode_labels_follows_the_order_of_labels():
    classes, idx = encode_labels([10, 30, 20, 30], labels=[30, 10, 20, 99])
    assert_array_equal(classes, [30, 10, 20, 99])
    assert_array_equal(idx, [1, 0, 2, 0])
    classes, idx = encode_labels(["x", "y"], labels=["y", "x"])
    assert_array_equal(idx, [1, 0])


def test_encode_labels_missing_label_is_an_error():
    with pytest.raises(ValueError, match=r"labels not in labels=: \[4\]"):
        encode_labels([1, 2, 4], labels=[1, 2, 3])
    # below and above every label (the search clips to the ends)
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        encode_labels([0, 1, 9], labels=[1, 2, 3])


def test_encode_labels_rejects_duplicate_or_2d_labels():
    with pytest.raises(ValueError, match="duplicates"):
        encode_labels([1, 2], labels=[1, 2, 1])
    with pytest.raises(ValueError, match="1-D"):
        encode_labels([1, 2], labels=[[1, 2]])


# -- check_probability_rows ----------------------------------------------------


def test_check_probability_rows_accepts_and_never_renormalises():
    P = np.array([[0.2, 0.8], [1.0, 0.0], [0.5, 0.5 + 0.5 * ROW_SUM_ATOL]])
    out = check_probability_rows(P, "P")
    assert out is P
    assert_array_equal(P[2], [0.5, 0.5 + 0.5 * ROW_SUM_ATOL])


@pytest.mark.parametrize(
    "P, match",
    [
        ([[np.nan, 1.0]], "P contains NaN"),
        ([[np.inf, 0.0]], "P contains NaN or infinity"),
        ([[-0.1, 1.1]], "P contains negative values"),
        ([[0.5, 0.4], [0.3, 0.7]], r"Rows of P must sum to 1 .*row 0 sums to 0\.9"),
        ([[0.3, 0.7], [0.7, 0.7]], "row 1 sums to 1.4"),
    ],
)
def test_check_probability_rows_names_the_problem(P, match):
    with pytest.raises(ValueError, match=match):
        check_probability_rows(np.array(P), "P")


def test_check_probability_rows_above_one():
    with pytest.raises(ValueError, match="greater than 1"):
        check_probability_rows(np.array([[1.5, 0.0]]), "P")


# -- smooth and class_mass -----------------------------------------------------


def test_smooth_labels_and_rows():
    y = np.array([0, 2])
    assert smooth(y, 3, 0.0) is y
    assert_allclose(smooth(y, 3, 0.3), [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    Y = np.array([[0.5, 0.5, 0.0]])
    assert_allclose(smooth(Y, 3, 0.3), [[0.45, 0.45, 0.1]])
    assert_allclose(smooth(Y, 3, 0.3).sum(axis=1), 1.0)
    assert_array_equal(Y, [[0.5, 0.5, 0.0]])  # the input is not modified


def test_class_mass_labels_and_rows():
    w = np.array([1.0, 2.0, 0.5])
    assert_allclose(class_mass(np.array([2, 0, 2]), 4, w), [2.0, 0.0, 1.5, 0.0])
    Y = np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])
    assert_allclose(class_mass(Y, 2, w), [2.5, 1.0])


# -- class_weight_vector -------------------------------------------------------


@needs_sklearn("1.7", "compute_class_weight(sample_weight=)")
def test_class_weight_vector_none_dict_and_balanced():
    classes = np.array(["a", "b", "c"])
    assert_array_equal(class_weight_vector(None, classes, np.ones(3)), np.ones(3))
    assert_array_equal(
        class_weight_vector({"c": 4.0, "a": 0.5}, classes, np.ones(3)), [0.5, 1.0, 4.0]
    )
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=50)
    sw = rng.uniform(0.1, 3.0, size=50)
    cw = class_weight_vector("balanced", np.arange(3), class_mass(y, 3, sw))
    expected = compute_class_weight(
        "balanced", classes=np.arange(3), y=y, sample_weight=sw
    )
    assert_allclose(cw, expected, rtol=1e-13)


def test_class_weight_vector_balanced_class_without_mass_stays_finite():
    cw = class_weight_vector("balanced", np.arange(3), np.array([2.0, 0.0, 6.0]))
    assert_allclose(cw, [8 / 6, 1.0, 8 / 18])


def test_class_weight_vector_unknown_label_is_an_error():
    with pytest.raises(ValueError, match=r"not in y: \['z'\]"):
        class_weight_vector({"a": 1.0, "z": 2.0}, np.array(["a", "b"]), np.ones(2))


@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf])
def test_class_weight_vector_bad_value_is_an_error(value):
    with pytest.raises(ValueError, match="finite and non-negative"):
        class_weight_vector({0: value}, np.array([0, 1]), np.ones(2))


# -- the pipeline on row blocks (prepare_rows) ---------------------------------
def _whole(y, sw, n=None):
    n = len(y) if n is None else n
    return RowBlocks.whole(np.zeros((n, 1)), np.asarray(y), np.asarray(sw, float))


def test_prepare_rows_moves_soft_row_mass_into_the_weight():
    Y = np.array([[0.2, 0.8], [0.5, 0.5000001], [1.0, 0.0]])
    blocks, total = prepare_rows(
        _whole(Y, [1.0, 2.0, 3.0]),
        np.array([0, 1]),
        label_smoothing=0.0,
        class_weight=None,
    )
    (b,) = blocks.blocks
    mass = Y.sum(axis=1)
    s = np.array([1.0, 2.0, 3.0]) * mass
    assert total == pytest.approx(s.sum(), rel=1e-15)
    np.testing.assert_allclose(b.weight, s / s.sum(), rtol=1e-15)
    np.testing.assert_allclose(b.target.sum(axis=1), 1.0, rtol=1e-15)


def test_prepare_rows_smooths_then_weighs_classes():
    y = np.array(["a", "b", "b", "b"])
    blocks, total = prepare_rows(
        _whole(y, np.ones(4)),
        np.array(["a", "b"]),
        label_smoothing=0.2,
        class_weight={"a": 3.0},
    )
    (b,) = blocks.blocks
    np.testing.assert_allclose(b.target[0], [0.9, 0.1])  # smoothed first
    s = np.array([0.9 * 3 + 0.1, 0.1 * 3 + 0.9, 0.1 * 3 + 0.9, 0.1 * 3 + 0.9])
    assert total == pytest.approx(s.sum(), rel=1e-14)
    np.testing.assert_allclose(b.weight, s / s.sum(), rtol=1e-14)


def test_prepare_rows_balanced_counts_sample_weights():
    y = np.array([0, 0, 0, 1])
    blocks, total = prepare_rows(
        _whole(y, [1.0, 1.0, 2.0, 1.0]),
        np.array([0, 1]),
        label_smoothing=0.0,
        class_weight="balanced",
    )
    mass = np.array([4.0, 1.0])
    cw = mass.sum() / (2 * mass)
    s = np.array([1.0, 1.0, 2.0, 1.0]) * cw[y]
    assert total == pytest.approx(s.sum(), rel=1e-15)
    np.testing.assert_allclose(blocks.blocks[0].weight, s / s.sum(), rtol=1e-15)


def test_prepare_rows_needs_two_weighted_classes():
    with pytest.raises(ValueError, match="at least 2 classes with positive weight"):
        prepare_rows(
            _whole([0, 1, 1], [0.0, 1.0, 1.0]),
            np.array([0, 1]),
            label_smoothing=0.0,
            class_weight=None,
        )


def test_prepare_rows_gives_the_same_rows_on_many_blocks():
    rng = np.random.default_rng(0)
    n = 1000
    y = rng.choice(["x", "y", "z"], size=n)
    sw = rng.uniform(0, 2, size=n)
    classes = np.array(["x", "y", "z"])
    args = dict(label_smoothing=0.1, class_weight="balanced")
    whole, total = prepare_rows(_whole(y, sw), classes, **args)
    many = RowBlocks(np.zeros((n, 1)), y, sw, n_classes=3, n_threads=1)
    many.blocks = [
        b._replace(X=b.X[a:c], target=b.target[a:c], weight=b.weight[a:c])
        for b in many.blocks
        for a, c in [(0, 300), (300, 301), (301, 1000)]
    ]
    split, total_split = prepare_rows(many, classes, **args)
    assert total_split == pytest.approx(total, rel=1e-13)
    np.testing.assert_allclose(
        np.concatenate([b.weight for b in split.blocks]),
        whole.blocks[0].weight,
        rtol=1e-13,
    )
    np.testing.assert_array_equal(
        np.concatenate([b.target for b in split.blocks]), whole.blocks[0].target
    )
