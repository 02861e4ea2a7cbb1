"""
=========================================
Deploying with ONNX: the same predictions
=========================================

A model deployed as ONNX runs in onnxruntime, without Python or
scikit-learn.  Here a ``Pipeline(StandardScaler, SoftmaxRegression)`` fitted
on the wine data is exported with skl2onnx (the converter is registered by
``import sklearn_softmax.onnx``), run by onnxruntime in float32 and in
float64, and compared with scikit-learn's ``predict``, ``predict_proba`` and
``predict_log_proba``.  Finally we move test points far from the data, where
some probabilities underflow to 0: the exported log-probabilities stay finite
and exact, while ``log`` of the exported probabilities is ``-inf``.

Needs the ``onnx`` extra: ``pip install "sklearn-softmax[onnx]"``.
"""

# %%
# Fit and export
# --------------
# ``to_onnx`` takes the fitted pipeline and one row of input, which tells it
# the input's type (float32 here) and width.  The options go to the
# ``SoftmaxRegression`` step: tensors instead of dictionaries
# (``zipmap=False``) and the extra output ``log_probabilities``.
import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_softmax.onnx  # noqa: F401  (registers the converter)
from sklearn_softmax import SoftmaxRegression

X, y = load_wine(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
pipe = make_pipeline(StandardScaler(), SoftmaxRegression(C=10.0)).fit(X_train, y_train)
options = {SoftmaxRegression: {"zipmap": False, "log_proba": True}}
onx32 = to_onnx(pipe, X_train[:1].astype(np.float32), options=options)
print("outputs:", [o.name for o in onx32.graph.output])
print("nodes:  ", [n.op_type for n in onx32.graph.node])

# %%
# Run it and compare
# ------------------
# The model bytes (what ``onx.SerializeToString()`` writes to a ``.onnx``
# file) go to an onnxruntime session; the comparison is with the pipeline's
# own methods on the same inputs.  In float32 the graph computes in float32,
# as the pipeline does for float32 inputs.


def run(onx, X):
    sess = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return sess.run(None, {sess.get_inputs()[0].name: X})


onx64 = to_onnx(pipe, X_train[:1], options=options)  # float64: the double path
for name, onx, dtype in [("float32", onx32, np.float32), ("float64", onx64, None)]:
    Xt = X_test.astype(dtype) if dtype else X_test
    label, proba, log_proba = run(onx, Xt)
    print(
        f"{name}: labels equal: {np.array_equal(label, pipe.predict(Xt))}, "
        f"max |proba diff| = {np.abs(proba - pipe.predict_proba(Xt)).max():.2e}, "
        f"max |log-proba diff| = "
        f"{np.abs(log_proba - pipe.predict_log_proba(Xt)).max():.2e}"
    )

# %%
# Far from the data: log-probabilities without underflow
# ------------------------------------------------------
# Moving a test point away from the centre of the training data along a
# straight line makes the scores grow linearly.  The probability of the least
# likely class soon underflows to 0 in float64 (and much sooner in float32),
# so ``log`` of the exported probabilities becomes ``-inf``; the exported
# ``log_probabilities``, computed by ONNX's ``LogSoftmax`` on the scores,
# stay finite and follow the straight line of the exact log-softmax.
centre = X_train.mean(axis=0)
direction = X_test[0] - centre
t = np.linspace(0, 80, 81)
X_far = centre + t[:, None] * direction
scores = pipe.decision_function(X_far)
least = scores[-1].argmin()  # the class whose probability vanishes

fig, ax = plt.subplots(figsize=(7, 4))
for name, onx, dtype, style in [
    ("float64", onx64, np.float64, "-"),
    ("float32", onx32, np.float32, "--"),
]:
    _, proba, log_proba = run(onx, X_far.astype(dtype))
    with np.errstate(divide="ignore"):
        log_of_proba = np.log(proba[:, least])
    underflow = np.isneginf(log_of_proba)
    print(
        f"{name}: probabilities underflowed to 0 for {underflow.sum()} of "
        f"{len(t)} points; log_probabilities finite: "
        f"{np.isfinite(log_proba).all()}, max |diff| from scikit-learn "
        f"{np.abs(log_proba - pipe.predict_log_proba(X_far.astype(dtype))).max():.2e}"
    )
    ax.plot(t, log_proba[:, least], style, label=f"ONNX log_probabilities ({name})")
    shown = np.where(underflow, np.nan, log_of_proba)  # -inf cannot be drawn
    ax.plot(t, shown, style, lw=4, alpha=0.4, label=f"log(ONNX probabilities) ({name})")
ax.set_xlabel("distance from the centre (multiples of the first test point's)")
ax.set_ylabel(f"log-probability of class {pipe.classes_[least]}")
ax.set_title("Where the thick lines stop, the probability is exactly 0")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
