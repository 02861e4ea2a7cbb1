"""Root pytest configuration."""

from importlib.util import find_spec

# The Dask wing is optional: without Dask its module cannot be imported for
# doctest collection (tests/test_dask.py skips by itself).
collect_ignore = []
if find_spec("dask") is None or find_spec("distributed") is None:
    collect_ignore.append("sklearn_softmax/dask.py")

# The ONNX wing needs the "onnx" extra (tests/test_onnx.py skips by itself).
if any(find_spec(name) is None for name in ("skl2onnx", "onnx", "onnxruntime")):
    collect_ignore.append("sklearn_softmax/onnx.py")
