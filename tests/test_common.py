"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV

# cv=3, as scikit-learn's own suite sets for LogisticRegressionCV: some checks
# (check_sparsify_coefficients) fit 9 rows, 3 per class, too few for 5 folds.
ESTIMATORS = [SoftmaxRegression(), SoftmaxRegressionCV(cv=3)]


def test_pandas_is_installed():
    # Without pandas the dataframe checks skip silently; make that a failure.
    import pandas

    assert pandas.DataFrame({"a": [1]}).shape == (1, 1)


@parametrize_with_checks(ESTIMATORS, legacy=True)
def test_sklearn_compatible_legacy(estimator, check):
    check(estimator)


@parametrize_with_checks(ESTIMATORS, legacy=False)
def test_sklearn_compatible(estimator, check):
    check(estimator)
