"""Softmax (multinomial logistic) regression for scikit-learn.

The estimator :class:`SoftmaxRegression` minimises the exact, numerically stable
softmax cross-entropy; :mod:`sklearn_softmax.metrics` computes cross-entropy and
KL divergence from probabilities or logits.
"""

from ._softmax import SoftmaxRegression

__all__ = ["SoftmaxRegression"]
__version__ = "0.1.0"
