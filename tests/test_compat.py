"""Releases without scikit-learn's array-API helpers: a clear error, naming the
release needed, for array-API inputs (NumPy inputs never reach the helpers;
the minimum-versions job of ``.ci/run`` runs the whole suite there)."""

import pytest
import sklearn
from sklearn.datasets import load_iris

from sklearn_softmax import SoftmaxRegression, _xp

MESSAGE = r"scikit-learn >= 1\.9; scikit-learn \S+ is installed"


@pytest.fixture
def too_old(monkeypatch):
    # what _xp concludes when sklearn.utils._array_api lacks move_to & co
    monkeypatch.setattr(_xp, "ARRAY_API_SUPPORTED", False)


def test_require_array_api_names_the_release(too_old):
    with pytest.raises(ImportError, match=MESSAGE):
        _xp.require_array_api()


def test_require_array_api_is_silent_where_supported():
    if not _xp.ARRAY_API_SUPPORTED:
        pytest.skip(f"scikit-learn {sklearn.__version__} lacks the helpers")
    assert _xp.require_array_api() is None


@pytest.mark.skipif(
    not _xp.ARRAY_API_SUPPORTED,
    reason=f"array-API dispatch needs scikit-learn >= {_xp.ARRAY_API_MIN_SKLEARN}",
)
def test_array_api_input_on_too_old_scikit_learn(too_old):
    xps = pytest.importorskip("array_api_strict")
    X, y = load_iris(return_X_y=True)
    fitted = SoftmaxRegression().fit(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(ImportError, match=MESSAGE):
            SoftmaxRegression().fit(xps.asarray(X), xps.asarray(y))
        with pytest.raises(ImportError, match=MESSAGE):
            fitted.predict(xps.asarray(X))
