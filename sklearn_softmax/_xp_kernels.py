"""Array-API kernels: the device twins of the NumPy maths, one row block at a time.

One job: where a block is not host NumPy (torch, CuPy, array-api-strict under
scikit-learn's ``array_api_dispatch``), ``_loss``, ``_targets``,
``_precondition`` and ``_objective`` hand it to the twin here, written in the
array's namespace ``xp``.  Every twin promises

* the same maths as its NumPy original (the host docstring is the reference);
* sums in ``accumulation_dtype`` (float64 where the device has it), products
  in the block's dtype, as on the host;
* temporaries bounded by one rule: a block is walked in :func:`row_chunks`
  of about :data:`CHUNK_ELEMENTS` elements per temporary;
* results left on the device (the blocks bring the few sums back); host
  parameters are moved to the device here.

Each name below is the twin of the host function of the same name, except
``maxabs``, ``moments`` and ``correlation`` (``_precondition``'s
``_maxabs_block``, ``_moments_block`` and ``_correlation_block``) and
``violations`` (``_objective._violations``).
"""

import numpy as np

from ._xp import accumulation_dtype, namespace_of, to_device

__all__ = [
    "CHUNK_ELEMENTS",
    "contrast_hessian",
    "correlation",
    "cross_entropy_rows",
    "hessian_diagonal",
    "hessp",
    "log_softmax",
    "loss_gradient",
    "mass_and_total",
    "maxabs",
    "moments",
    "row_chunks",
    "softmax_at",
    "violations",
]

# Elements per (rows, K) or (rows, d) temporary: 32 MB of float64 keeps a GPU's
# matmuls busy while a kernel's few temporaries stay small beside X itself.
CHUNK_ELEMENTS = 1 << 22


def row_chunks(n, width):
    """Row ranges ``(a, b)`` covering ``0..n``, ``width`` elements per row.

    Each range has at most ``max(1, CHUNK_ELEMENTS // width)`` rows and stays
    in bounds, as array-API slices must.  An empty block still gets one empty
    range, so every kernel sees its shape.

    Examples
    --------
    >>> row_chunks(5, CHUNK_ELEMENTS // 2)
    [(0, 2), (2, 4), (4, 5)]
    >>> row_chunks(0, 3)
    [(0, 0)]
    """
    rows = max(1, CHUNK_ELEMENTS // max(width, 1))
    return [(a, min(a + rows, n)) for a in range(0, n, rows)] or [(0, 0)]


def _params(X, Wt, b, xp, device):
    """Host parameters ``Wt`` (d, K) and ``b`` (K,) on X's device, in X's dtype."""
    return to_device(Wt, xp, device, X.dtype), to_device(b, xp, device, X.dtype)


def _shifted_scores(X, Wt, b, xp):
    """Max-shifted scores ``X @ Wt + b`` of a device chunk (no exp yet)."""
    Z = X @ Wt
    if b is not None:
        Z = Z + b
    return Z - xp.max(Z, axis=1, keepdims=True)


def _onehot(target, n_classes, xp, device):
    """Boolean one-hot rows of class indices (no ``take_along_axis`` needed)."""
    return target[:, None] == xp.arange(n_classes, device=device)


# -- the loss kernel (_loss) --------------------------------------------------


def log_softmax(Z):
    """``_loss.log_softmax`` of device logits (shaped like ``Z``, not chunked)."""
    xp, _ = namespace_of(Z)
    Z = Z - xp.max(Z, axis=1, keepdims=True)
    return Z - xp.log(xp.sum(xp.exp(Z), axis=1, keepdims=True))


def cross_entropy_rows(logp, target):
    """``_loss.cross_entropy_rows`` of device log-probabilities (not chunked)."""
    xp, device = namespace_of(logp)
    if target.ndim == 1:
        onehot = _onehot(target, logp.shape[1], xp, device)
        return -xp.sum(xp.where(onehot, logp, 0.0), axis=1)
    # 0 * log 0 = 0, also where log p is -inf (masked before the product,
    # which would otherwise make a NaN and warn)
    return -xp.sum(target * xp.where(target != 0, logp, 0.0), axis=1)


def loss_gradient(X, Wt, b, target, weights):
    """``_loss.loss_gradient`` of a device block: ``(loss, grad_W, grad_b)``."""
    xp, device = namespace_of(X)
    acc = accumulation_dtype(xp, device)
    Wt, b = _params(X, Wt, b, xp, device)
    K = Wt.shape[1]
    loss = xp.zeros((), dtype=acc, device=device)
    gW = xp.zeros((K, X.shape[1]), dtype=acc, device=device)
    gb = xp.zeros((K,), dtype=acc, device=device)
    for a, c in row_chunks(X.shape[0], K):
        Xc = X[a:c, ...]
        Z = _shifted_scores(Xc, Wt, b, xp)
        if target.ndim == 1:
            onehot = _onehot(target[a:c], K, xp, device)
            picked = xp.astype(xp.sum(xp.where(onehot, Z, 0.0), axis=1), acc)
            Y = xp.astype(onehot, Z.dtype)
        else:
            Yc = target[a:c, ...]
            picked = xp.sum(Yc * xp.astype(Z, acc), axis=1)
            Y = xp.astype(Yc, Z.dtype)
        E = xp.exp(Z)
        norm = xp.sum(E, axis=1, keepdims=True)
        # CE_i = lse_i - <Y_i, z_i> on the shifted scores (rows of Y sum to 1)
        lse = xp.astype(xp.log(norm[:, 0]), acc)
        w = weights[a:c]
        loss = loss + xp.sum(w * (lse - picked))
        G = (E / norm - Y) * xp.astype(w, Z.dtype)[:, None]
        gW = gW + xp.astype(G.T @ Xc, acc)
        gb = gb + xp.sum(G, axis=0, dtype=acc)
    return loss, gW, gb


def softmax_at(X, Wt, b):
    """``_loss.softmax_at`` of a device block: ``P`` of shape (n, K)."""
    xp, device = namespace_of(X)
    Wt, b = _params(X, Wt, b, xp, device)
    parts = []
    for a, c in row_chunks(X.shape[0], Wt.shape[1]):
        E = xp.exp(_shifted_scores(X[a:c, ...], Wt, b, xp))
        parts.append(E / xp.sum(E, axis=1, keepdims=True))
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def hessp(X, P, weights, Vt, c):
    """``_loss.hessp`` of a device block: ``(hW, hb)``."""
    xp, device = namespace_of(X)
    acc = accumulation_dtype(xp, device)
    Vt, c = _params(X, Vt, c, xp, device)
    K = Vt.shape[1]
    hW = xp.zeros((K, X.shape[1]), dtype=acc, device=device)
    hb = xp.zeros((K,), dtype=acc, device=device)
    for a, e in row_chunks(X.shape[0], K):
        Xc, Pc = X[a:e, ...], P[a:e, ...]
        U = Xc @ Vt
        if c is not None:
            U = U + c
        U = U - xp.sum(Pc * U, axis=1, keepdims=True)
        U = U * Pc * xp.astype(weights[a:e], U.dtype)[:, None]
        hW = hW + xp.astype(U.T @ Xc, acc)
        hb = hb + xp.sum(U, axis=0, dtype=acc)
    return hW, hb


def hessian_diagonal(X, P, weights, mu):
    """``_loss.hessian_diagonal`` of a device block: ``(dW, db)``."""
    xp, device = namespace_of(X)
    acc = accumulation_dtype(xp, device)
    K, d = P.shape[1], X.shape[1]
    ax2 = xp.zeros((K, d), dtype=acc, device=device)
    ax = xp.zeros((K, d), dtype=acc, device=device)
    db = xp.zeros((K,), dtype=acc, device=device)
    for a, e in row_chunks(X.shape[0], max(K, d)):
        Xc, Pc = X[a:e, ...], P[a:e, ...]
        A = Pc * (1.0 - Pc) * xp.astype(weights[a:e], Pc.dtype)[:, None]
        ax2 = ax2 + xp.astype(A.T @ (Xc * Xc), acc)
        ax = ax + xp.astype(A.T @ Xc, acc)
        db = db + xp.sum(A, axis=0, dtype=acc)
    mu = to_device(mu, xp, device, acc)
    dW = ax2 - 2.0 * ax * mu + db[:, None] * (mu * mu)
    return xp.clip(dW, min=0.0), db


def contrast_hessian(X, P, weights, mu, scale, fit_intercept):
    """``_loss.contrast_hessian`` of a device block, in the accumulation dtype."""
    xp, device = namespace_of(X)
    acc = accumulation_dtype(xp, device)
    d, K = X.shape[1], P.shape[1]
    d1 = d + int(fit_intercept)
    m = (K - 1) * d1
    mu, scale = to_device(mu, xp, device, acc), to_device(scale, xp, device, acc)
    H = xp.zeros((m, m), dtype=acc, device=device)
    diagonal = [xp.zeros((d1, d1), dtype=acc, device=device) for _ in range(K - 1)]
    for a, e in row_chunks(X.shape[0], max(m, d1)):
        A = (xp.astype(X[a:e, ...], acc) - mu) / scale
        if fit_intercept:
            A = xp.concat([A, xp.ones((e - a, 1), dtype=acc, device=device)], axis=1)
        A = A * xp.sqrt(xp.astype(weights[a:e], acc))[:, None]
        Pc = xp.astype(P[a:e, 1:], acc)
        B = xp.reshape(Pc[:, :, None] * A[:, None, :], (e - a, m))
        H = H - B.T @ B
        for k in range(K - 1):
            diagonal[k] = diagonal[k] + B[:, k * d1 : (k + 1) * d1].T @ A
    for k in range(K - 1):
        block = slice(k * d1, (k + 1) * d1)
        H[block, block] = H[block, block] + diagonal[k]
    return H


# -- targets and data statistics (_targets, _precondition) ---------------------


def mass_and_total(target, n_classes, weights):
    """``_targets.mass_and_total`` of device targets: ``(mass, total)``.

    Hard targets are summed as one-hot rows a chunk at a time (the array API
    has no ``bincount``).
    """
    xp, device = namespace_of(target, weights)
    acc = accumulation_dtype(xp, device)
    total = xp.sum(weights, dtype=acc)
    if target.ndim == 2:
        return xp.astype(weights, acc) @ xp.astype(target, acc), total
    mass = xp.zeros((n_classes,), dtype=acc, device=device)
    for a, b in row_chunks(target.shape[0], n_classes):
        onehot = xp.astype(_onehot(target[a:b], n_classes, xp, device), acc)
        mass = mass + xp.astype(weights[a:b], acc) @ onehot
    return mass, total


def maxabs(X):
    """``_precondition._maxabs_block`` of a device block: column max of ``|x|``."""
    xp, device = namespace_of(X)
    acc = accumulation_dtype(xp, device)
    if X.shape[0] == 0:
        return xp.zeros((X.shape[1],), dtype=acc, device=device)
    top = xp.maximum(xp.max(X, axis=0), -xp.min(X, axis=0))
    return xp.astype(top, acc)


def moments(X, w, scale):
    """``_precondition._moments_block`` of a device block: ``(m1, m2)``."""
    xp, device = namespace_of(X)
    acc = accumulation_dtype(xp, device)
    scale = to_device(scale, xp, device, acc)
    d = X.shape[1]
    m1 = xp.zeros((d,), dtype=acc, device=device)
    m2 = xp.zeros((d,), dtype=acc, device=device)
    for a, b in row_chunks(X.shape[0], d):
        xs = xp.astype(X[a:b, ...], acc) / scale
        wc = w[a:b]
        m1 = m1 + wc @ xs
        m2 = m2 + wc @ (xs * xs)
    return m1, m2


def correlation(X, w, mu, sd):
    """``_precondition._correlation_block`` of a dense device block.

    ``sum_i w_i z_i z_i^T`` with ``z = (x - mu) / sd``, shape (d, d).
    """
    xp, device = namespace_of(X)
    acc = accumulation_dtype(xp, device)
    mu, sd = (to_device(v, xp, device, X.dtype) for v in (mu, sd))
    d = X.shape[1]
    out = xp.zeros((d, d), dtype=acc, device=device)
    for a, b in row_chunks(X.shape[0], d):
        z = (X[a:b, ...] - mu) / sd
        wz = z * xp.astype(w[a:b], X.dtype)[:, None]
        out = out + xp.astype(wz.T @ z, acc)
    return out


# -- the separation check (_objective) ------------------------------------------


def violations(X, target, weight, W, b):
    """``_objective._violations`` of a device block: 1 if some weighted row is
    not strictly on its class, else 0 (one bool per chunk comes back)."""
    xp, device = namespace_of(X)
    acc = accumulation_dtype(xp, device)
    K = W.shape[0]
    Wt = to_device(np.ascontiguousarray(W.T), xp, device, X.dtype)
    b = to_device(b, xp, device, acc)
    for a, e in row_chunks(X.shape[0], K):
        rows, Tc = weight[a:e] > 0, target[a:e, ...]
        if Tc.ndim == 2:
            hard = xp.max(Tc, axis=1) == 1.0
            if not bool(xp.all(hard | ~rows)):
                return 1
            Tc = xp.argmax(Tc, axis=1)
        Z = xp.astype(X[a:e, ...] @ Wt, acc)
        if b is not None:
            Z = Z + b
        onehot = _onehot(Tc, K, xp, device)
        true = xp.sum(xp.where(onehot, Z, 0.0), axis=1)
        others = xp.max(xp.where(onehot, -xp.inf, Z), axis=1)
        if not bool(xp.all((true > others) | ~rows)):
            return 1
    return 0
