"""Export fitted models to ONNX with skl2onnx, log-probabilities included.

Install with ``pip install "sklearn-softmax[onnx]"`` (skl2onnx, onnx and
onnxruntime).  Importing this module registers a parser, a shape calculator
and a converter for :class:`~sklearn_softmax.SoftmaxRegression` and
:class:`~sklearn_softmax.SoftmaxRegressionCV` with skl2onnx; nothing else
is needed, and ``import sklearn_softmax`` alone never imports skl2onnx::

    import sklearn_softmax.onnx  # registers the converters

After it, ``skl2onnx.to_onnx`` and ``skl2onnx.convert_sklearn`` convert the
estimator alone or as the last step of a ``Pipeline`` (after
``StandardScaler``, a ``ColumnTransformer`` and other transformers that
skl2onnx converts).

The outputs are those of scikit-learn classifiers in skl2onnx: ``label``,
``predict(X)`` (int64 for integer or boolean classes, strings for string
classes), and ``probabilities``, ``predict_proba(X)``: the softmax of the
scores; for two classes ``[1 - sigmoid(z), sigmoid(z)]`` of the log-odds
``z = decision_function(X)``, computed as the softmax of ``[0, z]``.  The
options, given as ``options={id(model): {...}}``, ``{SoftmaxRegression:
{...}}`` or, in a pipeline, by step name (``{"clf__log_proba": True}``):

``zipmap``: True (default), False or "columns"
    skl2onnx's option of every classifier.  True turns the two outputs into
    ``output_label`` and ``output_probability``, a list of dictionaries of
    float32 (ONNX's ZipMap takes float32 only: with float64 inputs pass False
    or "columns"); False keeps the tensors; "columns" gives one output per
    class.
``nocl``: False (default) or True
    skl2onnx's option: class indices ``0 .. K-1`` instead of ``classes_``.
``log_proba``: False (default) or True
    Adds the output ``log_probabilities``, ``predict_log_proba(X)``, computed
    by ONNX's ``LogSoftmax`` on the scores (``[0, z]`` for two classes).  It
    is exact where the probabilities underflow to 0 and ``log`` of them would
    be ``-inf``.
``decision_function``: False (default) or True
    Adds the output ``scores``, ``decision_function(X)``: shape ``(N,)`` (the
    log-odds) for two classes, ``(N, K)`` otherwise.  The probabilities stay;
    skl2onnx's ``raw_scores`` option, which would replace them, is refused.

Inputs of type float32 give float32 outputs, float64 inputs (the double path)
float64 outputs; integer inputs are cast to float32.  ONNX has no sparse
input: densify sparse ``X`` (``X.toarray()``) before running the model.

>>> import numpy as np
>>> import onnxruntime as ort
>>> from skl2onnx import to_onnx
>>> from sklearn.datasets import load_iris
>>> from sklearn_softmax import SoftmaxRegression
>>> import sklearn_softmax.onnx
>>> X, y = load_iris(return_X_y=True)
>>> X = X.astype(np.float32)
>>> clf = SoftmaxRegression(C=10.0).fit(X, y)
>>> onx = to_onnx(clf, X[:1], options={"zipmap": False, "log_proba": True})
>>> sess = ort.InferenceSession(
...     onx.SerializeToString(), providers=["CPUExecutionProvider"]
... )
>>> [o.name for o in sess.get_outputs()]
['label', 'probabilities', 'log_probabilities']
>>> label, proba, log_proba = sess.run(None, {"X": X})
>>> bool((label == clf.predict(X)).all())
True
>>> bool(np.abs(proba - clf.predict_proba(X)).max() < 1e-5)
True
"""

import numpy as np
import scipy.sparse as sp
from onnx import TensorProto
from onnx.helper import make_tensor
from skl2onnx import update_registered_converter
from skl2onnx._parse import _apply_zipmap
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from skl2onnx.common.utils import (
    check_input_and_output_numbers,
    check_input_and_output_types,
)
from skl2onnx.common.utils_classifier import get_label_classes

from ._cv import SoftmaxRegressionCV
from ._softmax import SoftmaxRegression

__all__ = ["register_converters"]

# The options the converter accepts, with their allowed values (the first is
# the default); documented in the module's docstring.
_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [False, True],
    "log_proba": [False, True],
    "decision_function": [False, True],
}


def _options(scope_or_container, model):
    """The options given for ``model``, with their defaults."""
    defaults = {name: values[0] for name, values in _OPTIONS.items()}
    return scope_or_container.get_options(model, defaults)


def _float_type(input_type):
    """The float tensor type computed in: double for double inputs."""
    if isinstance(input_type, DoubleTensorType):
        return DoubleTensorType
    return FloatTensorType


def _labels(scope, model):
    """``classes_`` (or indices, with ``nocl``) as int64 or UTF-8 strings.

    Integer-valued float labels become int64 as in skl2onnx's ZipMap parser,
    so the label output and the ZipMap keys agree.
    """
    classes = np.asarray(get_label_classes(scope, model))
    if classes.dtype == np.bool_ or np.issubdtype(classes.dtype, np.integer):
        return classes.astype(np.int64)
    if np.issubdtype(classes.dtype, np.floating):
        if not np.array_equal(classes, np.round(classes)):
            raise RuntimeError(
                f"{type(model).__name__} has non-integer float classes "
                f"{classes!r}; ONNX labels must be integers or strings."
            )
        return classes.astype(np.int64)
    return np.array([str(c) for c in classes], dtype=object)


def _parse(scope, model, inputs, custom_parsers=None):
    """Declare the operator and its outputs; add skl2onnx's ZipMap if asked."""
    options = _options(scope, model)
    operator = scope.declare_local_operator(_ALIASES[type(model)], model)
    operator.inputs = inputs
    ftype = _float_type(inputs[0].type)
    label = scope.declare_local_variable("label", Int64TensorType())
    proba = scope.declare_local_variable("probabilities", ftype())
    operator.outputs.extend([label, proba])
    outputs = [label, proba]
    if options["zipmap"] is True and ftype is DoubleTensorType:
        # ONNX's ZipMap takes float32 only: the model would not load
        raise RuntimeError(
            "zipmap=True (the default) makes dictionaries of float32 "
            "probabilities and cannot take float64 inputs; pass the option "
            "zipmap=False (or 'columns') with float64 inputs."
        )
    if options["zipmap"]:
        # ZipMap takes the label and the probabilities only
        outputs = _apply_zipmap(
            options["zipmap"], scope, model, inputs[0].type, outputs
        )
    # declared last, so the model lists them after the label and probabilities
    for option, output in (
        ("log_proba", "log_probabilities"),
        ("decision_function", "scores"),
    ):
        if options[option]:
            variable = scope.declare_local_variable(output, ftype())
            operator.outputs.append(variable)
            outputs = [*outputs, variable]
    return outputs


def _shape(operator):
    """Types and shapes of the outputs declared by :func:`_parse`."""
    check_input_and_output_numbers(
        operator, input_count_range=1, output_count_range=[2, 4]
    )
    check_input_and_output_types(
        operator,
        good_input_types=[
            FloatTensorType,
            DoubleTensorType,
            Int64TensorType,
            BooleanTensorType,
        ],
    )
    model = operator.raw_operator
    options = _options(operator.scope_inst, model)
    n = operator.inputs[0].get_first_dimension()
    classes = _labels(operator.scope_inst, model)
    ftype = _float_type(operator.inputs[0].type)
    label_type = StringTensorType if classes.dtype == object else Int64TensorType
    outputs = iter(operator.outputs)
    next(outputs).type = label_type(shape=[n])
    next(outputs).type = ftype(shape=[n, len(classes)])
    if options["log_proba"]:
        next(outputs).type = ftype(shape=[n, len(classes)])
    if options["decision_function"]:
        shape = [n] if len(classes) == 2 else [n, len(classes)]
        next(outputs).type = ftype(shape=shape)


def _convert(scope, operator, container):
    """Write the ONNX nodes: scores, then softmax, log-softmax and argmax."""
    model = operator.raw_operator
    options = _options(container, model)
    proto = TensorProto.DOUBLE
    dtype = np.float64
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        proto, dtype = TensorProto.FLOAT, np.float32

    def name(seed):
        return scope.get_unique_variable_name(seed)

    def constant(seed, value, onnx_type=proto):
        value = np.asarray(value)
        n = name(seed)
        container.add_initializer(n, onnx_type, list(value.shape), value.ravel())
        return n

    def node(op_type, inputs, output, **attrs):
        container.add_node(
            op_type,
            inputs,
            output,
            name=scope.get_unique_operator_name(op_type),
            **attrs,
        )
        return output

    x = operator.inputs[0].full_name
    if not isinstance(operator.inputs[0].type, (FloatTensorType, DoubleTensorType)):
        x = node("Cast", [x], name("cast_input"), to=proto)
    coef = model.coef_
    if sp.issparse(coef):  # after sparsify(): Gemm takes a dense matrix
        coef = coef.toarray()
    coef = constant("coef", np.asarray(coef, dtype=dtype))
    intercept = constant("intercept", np.asarray(model.intercept_, dtype=dtype))
    # X @ coef.T + intercept: (N, 1), the log-odds, for two classes
    raw = node("Gemm", [x, coef, intercept], name("raw_scores"), transB=1)
    classes = _labels(scope, model)
    binary = len(classes) == 2
    if binary:
        # Scores [0, z]: their softmax is [1 - sigmoid(z), sigmoid(z)] and
        # their log-softmax is exact; softmax([-z, z]) would be sigmoid(2z).
        shape = node("Shape", [raw], name("shape"))
        zero = make_tensor("value", proto, [1], [0.0])
        zeros = node("ConstantOfShape", [shape], name("zeros"), value=zero)
        scores = node("Concat", [zeros, raw], name("scores2"), axis=1)
    else:
        scores = raw
    label, proba, *extra = (v.full_name for v in operator.outputs)
    node("Softmax", [scores], proba, axis=1)
    # ArgMax keeps the first maximum: class 0 on a tie, as predict does
    index = node("ArgMax", [scores], name("index"), axis=1, keepdims=0)
    if classes.dtype == object:
        table = constant(
            "classes",
            np.array([c.encode("utf-8") for c in classes], dtype=object),
            TensorProto.STRING,
        )
    else:
        table = constant("classes", classes, TensorProto.INT64)
    node("Gather", [table, index], label, axis=0)
    extra = iter(extra)
    if options["log_proba"]:
        node("LogSoftmax", [scores], next(extra), axis=1)
    if options["decision_function"]:
        if binary:
            flat = constant("flat", np.array([-1], dtype=np.int64), TensorProto.INT64)
            node("Reshape", [raw, flat], next(extra))
        else:
            node("Identity", [raw], next(extra))


_ALIASES = {}


def register_converters():
    """Register the parser, shape calculator and converter with skl2onnx.

    Importing :mod:`sklearn_softmax.onnx` calls it; calling it again is
    harmless (the registration is replaced by the same one).

    Returns
    -------
    classes : tuple of type
        The estimator classes registered: ``SoftmaxRegression`` and
        ``SoftmaxRegressionCV``.

    Examples
    --------
    >>> from sklearn_softmax import SoftmaxRegression
    >>> from sklearn_softmax.onnx import register_converters
    >>> SoftmaxRegression in register_converters()
    True
    """
    classes = (SoftmaxRegression, SoftmaxRegressionCV)
    for cls in classes:
        _ALIASES[cls] = f"SklearnSoftmax_{cls.__name__}"
        update_registered_converter(
            cls,
            _ALIASES[cls],
            _shape,
            _convert,
            parser=_parse,
            options=_OPTIONS,
        )
    return classes


register_converters()
