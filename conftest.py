"""Root pytest configuration."""

import os
from importlib.util import find_spec

# scikit-learn's array-API checks (check_array_api_input, tests/test_array_api.py)
# need SciPy's own array-API support, which SciPy reads once, when it is first
# imported: set it here, before any test module imports scipy or sklearn.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# The Dask wing is optional: without Dask its module cannot be imported for
# doctest collection (tests/test_dask.py skips by itself).
collect_ignore = []
if find_spec("dask") is None or find_spec("distributed") is None:
    collect_ignore.append("sklearn_softmax/dask.py")

# The ONNX wing needs the "onnx" extra (tests/test_onnx.py skips by itself).
if any(find_spec(name) is None for name in ("skl2onnx", "onnx", "onnxruntime")):
    collect_ignore.append("sklearn_softmax/onnx.py")
