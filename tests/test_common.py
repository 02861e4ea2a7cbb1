"""scikit-learn's estimator checks, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_softmax import SoftmaxRegression


@pytest.mark.parametrize("legacy", [True, False])
def test_pandas_is_installed(legacy):
    # The pandas checks skip silently without pandas; make that a failure.
    pytest.importorskip  # noqa: B018
    import pandas  # noqa: F401


@parametrize_with_checks([SoftmaxRegression()], legacy=True)
def test_sklearn_compatible_legacy(estimator, check):
    check(estimator)


@parametrize_with_checks([SoftmaxRegression()], legacy=False)
def test_sklearn_compatible(estimator, check):
    check(estimator)
