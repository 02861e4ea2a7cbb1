"""Solver glue: row blocks on threads, preconditioning, scipy's L-BFGS, convergence.

Nothing else in the package knows ``scipy.optimize``.  The objective (DESIGN §1)
with row weights ``w_i = s_i / S`` summing to one and ``alpha = 1 / (C S)`` is

    f(W, b) = sum_i w_i CE_i + alpha / 2 * ||W||_F^2.

L-BFGS runs on an exact reparametrisation of it (nothing about the model or the
penalty changes):

    W = Wp / D,        b = bp - W @ mu,

with ``mu`` the weighted feature means (*implicit centring*: ``X`` is never
copied or densified) and ``D[k, j] = sqrt(pi_k (1 - pi_k) var_j + alpha)``, an
estimate of the square root of the Hessian's diagonal (``pi_k`` the weighted
class priors).  In these coordinates every coefficient sees a curvature near 1,
which is what lets L-BFGS reach the optimum on unscaled data.

Convergence means ``max |grad| <= tol`` in these coordinates: a gradient in
units of standardised features, independent of how the columns of ``X`` are
scaled.  Near the optimum the objective gap is about ``|grad|^2 / 2`` over the
curvature, so the criterion bounds the gap instead of merely noting that the
objective stopped decreasing.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from threadpoolctl import threadpool_info, threadpool_limits

from . import _loss
from ._targets import class_mass

__all__ = ["RowBlocks", "SoftmaxObjective", "minimize_lbfgs", "SolveResult"]

# Bytes of X per row block (smaller where 16 MB would leave under 4 blocks per
# thread).  Measured on dense 100k x 200 (2 threads, one-thread BLAS each): the
# two products of a block gained nothing from it staying in cache, while every
# block costs a fixed overhead (its ~20 numpy calls hand the GIL between
# threads); 16 MB against 4 MB: one evaluation 40 against 43-47 ms (float32
# 26-29 against 27-32), whole fits 7 % (float32 5 %) faster, interleaved.
_BLOCK_BYTES = 16 << 20
# Below this many multiply-adds per evaluation, threads cost more than they give.
_MIN_PARALLEL_WORK = 4_000_000


def default_n_threads():
    """Threads for the row blocks: what BLAS would use here (respects threadpoolctl).

    Examples
    --------
    >>> default_n_threads() >= 1
    True
    """
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n_cpu = os.cpu_count() or 1
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    return max(1, min([n_cpu, *blas]))


def row_slice(X, a, b):
    """Rows ``a:b`` of dense or CSR ``X``, a view of its buffers (no copy)."""
    return X[a:b] if not sp.issparse(X) else _loss.compressed_slice(X, a, b)


class RowBlocks:
    """Rows of ``X`` and of aligned per-row arrays, split into blocks.

    ``map_sum(fn)`` calls ``fn(X_block, *array_blocks)`` on every block (on
    threads when the work is large enough) and returns the element-wise sum of
    the returned tuples.  CSR matrices get one block per thread, CSC one block.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    arrays : sequence of ndarray
        Arrays whose first axis is aligned with the rows of ``X``.
    n_classes : int
        Used only to judge whether threads pay off.
    n_threads : int, default=None
        Default: :func:`default_n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> blocks = RowBlocks(np.ones((5, 2)), [np.arange(5.0)], n_classes=2)
    >>> blocks.map_sum(lambda X, a: (float(X.sum()), float(a.sum())))
    (10.0, 10.0)
    """

    def __init__(self, X, arrays, n_classes, n_threads=None):
        n, d = X.shape
        self.n_threads = default_n_threads() if n_threads is None else n_threads
        parallel = self.n_threads > 1 and n * d * n_classes >= _MIN_PARALLEL_WORK
        if sp.issparse(X):
            bounds = [(0, n)]
            if parallel and X.format == "csr":
                # One block per thread, cut where the stored entries split
                # evenly: scipy's sparse products release the GIL, and every
                # extra block adds a full (K, d) gradient.  (Row slices of CSC
                # would copy it: CSC stays one block.)
                cuts = np.searchsorted(
                    X.indptr, np.linspace(0, X.nnz, self.n_threads + 1)[1:-1]
                )
                edges = np.unique(np.concatenate([[0], cuts, [n]]))
                bounds = list(zip(edges[:-1], edges[1:], strict=True))
        else:
            # X's row plus two (K,) score rows per sample: the scores'
            # temporaries count too where K is large.
            row_bytes = X.dtype.itemsize * (d + 2 * n_classes)
            rows = max(256, _BLOCK_BYTES // max(row_bytes, 1))
            if parallel:
                # at least a few blocks per thread so the threads stay balanced
                rows = min(rows, -(-n // (4 * self.n_threads)))
            bounds = [(a, min(a + rows, n)) for a in range(0, n, rows)] or [(0, n)]
        self.blocks = [
            (
                X if len(bounds) == 1 else row_slice(X, a, b),
                *[arr[a:b] for arr in arrays],
            )
            for a, b in bounds
        ]
        self._pool = None

    def __enter__(self):
        if self.n_threads > 1 and len(self.blocks) > 1:
            self._pool = ThreadPoolExecutor(self.n_threads)
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _args(self, extra):
        if extra is None:
            return self.blocks
        return [(*b, e) for b, e in zip(self.blocks, extra, strict=True)]

    def map(self, fn, extra=None):
        """``[fn(*block, *extra_i)]`` over the blocks, ``extra`` aligned with them."""
        args = self._args(extra)
        if self._pool is None:
            return [fn(*a) for a in args]
        return list(self._pool.map(lambda a: fn(*a), args))

    def map_sum(self, fn, extra=None):
        """Sum of ``fn(*block)`` over the blocks (tuples summed element-wise).

        ``fn`` must return new arrays: the sum is accumulated into them.  On
        threads, each thread sums a contiguous run of blocks and the runs'
        sums are added at the end: one task per thread instead of one per
        block (dense 100k x 200, 42 blocks: 58 ms against 63 ms per
        evaluation).
        """
        args = self._args(extra)
        if self._pool is None:
            return _sum_tuples(fn(*a) for a in args)
        k = min(self.n_threads, len(args))
        runs = [args[i * len(args) // k : (i + 1) * len(args) // k] for i in range(k)]
        partial = self._pool.map(lambda run: _sum_tuples(fn(*a) for a in run), runs)
        return _sum_tuples(partial)


def _sum_tuples(results):
    """Element-wise sum of tuples, added in place into the first's arrays."""
    total = None
    for res in results:
        if total is None:
            total = list(res)
            continue
        for i, part in enumerate(res):
            if isinstance(total[i], np.ndarray):
                total[i] += part
            else:
                total[i] = total[i] + part
    return tuple(total)


def _maxabs_block(X):
    """Column-wise max of ``|x|``, float64, without a block-sized ``abs(X)``."""
    d = X.shape[1]
    out = np.zeros(d)
    if sp.issparse(X):
        for a, b, part in _loss.sparse_chunks(X):
            if part.format == "csr":
                np.maximum.at(out, part.indices, np.abs(part.data))
            else:
                out[a:b] = abs(part).max(axis=0).toarray().ravel()
        return (out,)
    if X.shape[0]:
        np.maximum(X.max(axis=0), -X.min(axis=0), out=out, dtype=np.float64)
    return (out,)


def _moments_block(X, w, scale):
    """Weighted sums of ``x / scale`` and ``(x / scale)^2``, in float64.

    Scaled first so that columns of 1e-200 or 1e200 neither underflow nor
    overflow when squared; computed in chunks so that no temporary has the
    size of the block.
    """
    w = w.astype(np.float64, copy=False)
    d = X.shape[1]
    m1, m2 = np.zeros(d), np.zeros(d)
    if sp.issparse(X):
        for a, b, part in _loss.sparse_chunks(X):
            csr = part.format == "csr"
            if csr:  # rows a:b, all columns
                col_scale, rows, out = scale[part.indices], w[a:b], slice(None)
            else:  # all rows, columns a:b
                col_scale = np.repeat(scale[a:b], np.diff(part.indptr))
                rows, out = w, slice(a, b)
            # the chunk's values, scaled, on the chunk's index arrays
            part = _loss.with_data(part, part.data / col_scale)
            m1[out] += np.asarray(_loss.transposed(part) @ rows).ravel()
            part.data *= part.data
            m2[out] += np.asarray(_loss.transposed(part) @ rows).ravel()
        return m1, m2
    for a, chunk in _loss.dense_chunks(X):
        xs = chunk / scale
        wc = w[a : a + chunk.shape[0]]
        m1 += wc @ xs
        xs *= xs
        m2 += wc @ xs
    return m1, m2


def feature_moments(blocks, center):
    """Weighted feature means and variances (uncentred second moments if not
    ``center``), robust to columns scaled by 1e-150 or 1e150.

    ``blocks`` holds ``(X, target, weights)`` rows with weights summing to one.
    """
    (scale,) = blocks.map_sum(lambda X, t, w: _maxabs_block(X))
    # map_sum adds the block maxima; any positive upper bound works as a scale
    scale = np.where(scale > 0, scale, 1.0)
    m1, m2 = blocks.map_sum(lambda X, t, w: _moments_block(X, w, scale))
    if center:
        var = np.maximum(m2 - m1 * m1, 0.0) * scale**2
        return m1 * scale, var
    return np.zeros_like(m1), m2 * scale**2


class SoftmaxObjective:
    """The penalised objective of DESIGN §1 in preconditioned coordinates.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d), float32 or float64
    target : ndarray of shape (n,) of int, or of shape (n, K)
    weights : ndarray of shape (n,)
        Row weights summing to one.
    n_classes : int
    alpha : float
        ``1 / (C * S)``; 0 for no penalty.
    fit_intercept : bool
    n_threads : int, default=None
    precondition : bool, default=True
        False gives plain coordinates (``D = 1``, ``mu = 0``), for tests.
    blocks : object, default=None
        Replaces the in-memory :class:`RowBlocks` built from ``X``, ``target``
        and ``weights`` (which are then only used for their dtype and shape):
        anything with the same ``map``, ``map_sum`` and context-manager
        interface over ``(X, target, weights)`` row blocks, e.g. the Dask
        wing's blocks living on workers.
    """

    def __init__(
        self,
        X,
        target,
        weights,
        n_classes,
        *,
        alpha,
        fit_intercept,
        n_threads=None,
        precondition=True,
        blocks=None,
    ):
        self.dtype = X.dtype
        self.n_classes = K = n_classes
        self.n_features = d = X.shape[1]
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        if blocks is None:
            blocks = RowBlocks(X, [target, weights], K, n_threads)
        self.blocks = blocks
        with self.blocks:
            mass, total = self.blocks.map_sum(
                lambda X, t, w: (class_mass(t, K, w), w.sum(dtype=np.float64))
            )
            self.prior = mass / total
            if precondition:
                self.mu, var = feature_moments(self.blocks, center=fit_intercept)
        if precondition:
            pq = self.prior * (1.0 - self.prior)
            D = np.sqrt(pq[:, None] * var[None, :] + alpha)
            self.D = np.where(D > 0, D, 1.0)
        else:
            self.mu, self.D = np.zeros(d), np.ones((K, d))
        self.n_params = K * d + (K if fit_intercept else 0)

    # -- coordinates ---------------------------------------------------------
    def unpack(self, theta):
        """Model parameters ``(W, b)`` (b None without intercept) from ``theta``."""
        K, d = self.n_classes, self.n_features
        W = theta[: K * d].reshape(K, d) / self.D
        if not self.fit_intercept:
            return W, None
        return W, theta[K * d :] - W @ self.mu

    def pack(self, W, b):
        """``theta`` from model parameters (inverse of :meth:`unpack`)."""
        parts = [(W * self.D).ravel()]
        if self.fit_intercept:
            parts.append(b + W @ self.mu)
        return np.concatenate(parts)

    def initial(self):
        """Zero coefficients, intercepts at the log class priors (centred)."""
        W = np.zeros((self.n_classes, self.n_features))
        b = None
        if self.fit_intercept:
            b = np.log(np.maximum(self.prior, 1e-12))
            b -= b.mean()
        return self.pack(W, b)

    def _chain(self, gW, gb):
        """Map a gradient w.r.t. ``(W, b)`` to one w.r.t. ``theta``.

        ``gW`` is overwritten.
        """
        # In place, a group of classes at a time: at 10^6 parameters every
        # temporary of the gradient's size is 8 MB of peak memory.
        K, d = self.n_classes, self.n_features
        out = np.empty(self.n_params)
        if self.fit_intercept:
            rows = max(1, _loss.CHUNK_ELEMENTS // max(d, 1))  # classes per chunk
            for k in range(0, K, rows):
                gW[k : k + rows] -= np.outer(gb[k : k + rows], self.mu)
            out[K * d :] = gb
        np.divide(gW, self.D, out=out[: K * d].reshape(K, d))
        return out

    # -- evaluations ---------------------------------------------------------
    def _model(self, theta):
        W, b = self.unpack(theta)
        Wt = np.ascontiguousarray(W.T, dtype=self.dtype)
        bd = None if b is None else b.astype(self.dtype)
        return W, Wt, bd

    def loss_grad(self, theta):
        """Objective and gradient in ``theta`` coordinates."""
        W, Wt, b = self._model(theta)
        penalty = 0.5 * self.alpha * float(np.vdot(W, W))
        if Wt.dtype == np.float64:
            W = None  # Wt holds the same numbers: one (K, d) array less
        loss, gW, gb = self.blocks.map_sum(
            lambda X, t, w: _loss.loss_gradient(X, Wt, b, t, w)
        )
        gW += self.alpha * (Wt.T if W is None else W)
        return loss + penalty, self._chain(gW, gb)

    def hessian_at(self, theta):
        """Return ``(hessp, diagonal)`` for the Hessian at ``theta``.

        ``hessp(v)`` applies the Hessian to ``v``; ``diagonal`` is its diagonal
        (a preconditioner for conjugate gradients).  ``hessp`` keeps the
        (n, K) probabilities at ``theta`` while it is alive.
        """
        _, Wt, b = self._model(theta)
        P = self.blocks.map(lambda X, t, w: _loss.softmax_at(X, Wt, b))
        K, d = self.n_classes, self.n_features
        mu = self.mu.astype(self.dtype)
        dW, db = self.blocks.map_sum(
            lambda X, t, w, Pb: _loss.hessian_diagonal(X, Pb, w, mu), extra=P
        )
        diagonal = ((dW + self.alpha) / self.D**2).ravel()
        if self.fit_intercept:
            diagonal = np.concatenate([diagonal, db])

        def hessp(v):
            V = v[: K * d].reshape(K, d) / self.D
            c = None
            if self.fit_intercept:
                c = (v[K * d :] - V @ self.mu).astype(self.dtype)
            Vt = np.ascontiguousarray(V.T, dtype=self.dtype)
            hW, hb = self.blocks.map_sum(
                lambda X, t, w, Pb: _loss.hessp(X, Pb, w, Vt, c), extra=P
            )
            hW += self.alpha * V
            return self._chain(hW, hb)

        return hessp, diagonal


def stop_threshold(tol, f):
    """Gradient threshold of the stopping rule: ``tol * min(1, sqrt(f))``.

    Near the optimum the gap is ``|g|^2 / (2 h)`` for curvature ``h``, so this
    keeps the *relative* gap near ``tol^2 / (2 h)`` also when the loss is tiny
    (nearly separable data).
    """
    return tol * min(1.0, np.sqrt(max(f, 0.0)))


def _result(objective, theta, f, g, n_iter, tol, message, converged=True):
    """Package a solve; ``converged`` can only veto the gradient rule."""
    grad_max = float(np.abs(g).max()) if g.size else 0.0
    W, b = objective.unpack(theta)
    return SolveResult(
        W=W,
        b=b,
        fun=float(f),
        grad_max=grad_max,
        threshold=stop_threshold(tol, f),
        n_iter=n_iter,
        converged=bool(converged and grad_max <= stop_threshold(tol, f)),
        message=message,
    )


def _progress(n_iter, f, g):
    print(f"iter {n_iter:5d}   loss {f:.12g}   |grad| {np.abs(g).max():.3e}")


# Fresh L-BFGS runs after a stall of the line search (see minimize_lbfgs).
_LBFGS_RESTARTS = 2


def _default_history(n_params):
    """L-BFGS pairs by problem size (see :func:`minimize_lbfgs`)."""
    if n_params <= 10_000:
        return 40
    return 20 if n_params <= 100_000 else 5


def minimize_lbfgs(objective, theta0, *, tol, max_iter, verbose=0, history=None):
    """Minimise ``objective`` with scipy's L-BFGS-B until the gradient rule holds.

    The rule (``max|grad| <= stop_threshold(tol, f)``) is checked after every
    iteration; scipy's own tests are switched off (``gtol=0``, ``ftol=0``), so
    L-BFGS never stops on a small relative decrease with a large gradient.
    Whatever stops the run, ``converged`` is true only if the rule holds at the
    returned point.

    Parameters
    ----------
    objective : SoftmaxObjective
    theta0 : ndarray
    tol : float
    max_iter : int
    verbose : int
        > 0 prints the objective and the gradient's max-norm every iteration.
    history : int, default=None
        L-BFGS memory (pairs kept): 2 * history vectors of the parameters' size.
        Default: 40 up to 10^4 parameters (at most 6.4 MB), 20 up to 10^5,
        and 5 above, where that memory and L-BFGS-B's own
        O(history * parameters) work per iteration dominate (sparse data,
        many classes).  Measured: on the 50k x 50k sparse benchmark (10^6
        parameters) 3, 5, 7 and 10 pairs all took 23 iterations, and each
        pair cost 16 MB and ~12 ms per iteration; with 100 classes and 50
        features (5050 parameters) 20, 40 and 80 pairs took 181, 148 and 143
        iterations; on the dense 100k x 200 benchmark 20 to 80 pairs took 26
        (10 pairs: 33).

    Returns
    -------
    SolveResult
    """
    last = {}

    def fun(theta):
        f, g = objective.loss_grad(theta)
        last.update(f=f, g=g)
        return f, g

    def callback(intermediate_result):
        # called at each new iterate, whose f and g were the last evaluation
        callback.n_iter += 1
        if verbose:
            _progress(callback.n_iter, last["f"], last["g"])
        if np.abs(last["g"]).max() <= stop_threshold(tol, last["f"]):
            callback.stopped = True
            raise StopIteration

    callback.n_iter = 0
    callback.stopped = False
    if history is None:
        history = _default_history(theta0.size)
    # Both BLAS pools (numpy's and scipy's) at one thread: parallelism comes
    # from our row blocks, and interleaving two pools cost 2x (DESIGN §8).
    with threadpool_limits(limits=1, user_api="blas"), objective.blocks:
        f0, g0 = fun(theta0)
        if np.abs(g0).max() <= stop_threshold(tol, f0):
            return _result(objective, theta0, f0, g0, 0, tol, "converged at start")
        g0 = last["g"] = None  # scipy evaluates theta0 again
        theta, f = theta0, f0
        for restart in range(_LBFGS_RESTARTS + 1):
            left = max_iter - callback.n_iter
            res = scipy.optimize.minimize(
                fun,
                theta,
                jac=True,
                method="L-BFGS-B",
                callback=callback,
                options={
                    "maxiter": left,
                    "maxfun": 2 * left + 20,
                    "gtol": 0.0,
                    "ftol": 0.0,
                    "maxcor": history,
                },
            )
            if callback.stopped or callback.n_iter >= max_iter:
                break
            # Stopped before the rule held, mostly because the line search
            # found no decrease (also on scipy's maxfun): near the rounding
            # level the correction pairs can stop describing the curvature.
            # A restart from the same point with an empty memory (a scaled
            # gradient step first) often gets further; give up when it does
            # not lower the objective.
            improved = res.fun < f
            theta, f = res.x, res.fun
            if restart and not improved:
                break
        if callback.stopped:
            f, g = last["f"], last["g"]
        else:  # other stops may return an earlier point (failed line search)
            f, g = objective.loss_grad(res.x)
    return _result(objective, res.x, f, g, callback.n_iter, tol, str(res.message))


def _conjugate_gradient(hessp, g, rtol, max_iter, diagonal):
    """Approximately solve ``H p = -g`` by CG preconditioned with ``diagonal``.

    Truncated: stops at relative residual ``rtol``, after ``max_iter`` steps,
    or on flat or negative curvature.  Solved for the unit vector ``g / |g|``
    and scaled back: the system is linear, and a gradient of 1e-160 (features
    scaled by 1e-150) would otherwise drive the residual norms into denormals.
    """
    gnorm = np.linalg.norm(g)
    if gnorm == 0:
        return np.zeros_like(g)
    g = g / gnorm
    top = diagonal.max()
    inv = 1.0 / np.maximum(diagonal, 1e-12 * top) if top > 0 else np.ones_like(g)
    p = np.zeros_like(g)
    r = -g
    z = inv * r
    d = z.copy()
    rz = r @ z
    stop = rtol**2
    for _ in range(max_iter):
        Hd = hessp(d)
        dHd = d @ Hd
        # Flat or negative curvature: keep what we have.  The coordinates are
        # scaled to curvature ~1, so 1e-14 is flat to rounding (e.g. the
        # intercepts' shift-invariant direction, which rounding can excite).
        if dHd <= 1e-14 * (d @ d):
            break
        a = rz / dHd
        p += a * d
        r -= a * Hd
        if r @ r <= stop:
            break
        z = inv * r
        rz_new = r @ z
        d *= rz_new / rz
        d += z
        rz = rz_new
    return gnorm * (p if p.any() else -g)


def minimize_newton_cg(objective, theta0, *, tol, max_iter, verbose=0, max_cg=200):
    """Line-search truncated Newton-CG on exact Hessian-vector products.

    Same stopping rule as :func:`minimize_lbfgs`, plus one check that only
    Newton can make: half the Newton decrement ``-g.p / 2`` (its estimate of
    the gap) must be at most ``stop_threshold(tol, f)**2`` (what the gradient
    rule promises at unit curvature) or the loss's rounding level.  This
    catches nearly flat optima (weak penalty, nearly separable data), where a
    small gradient still leaves a large gap.  Each iteration solves the Newton
    system by conjugate gradients (to a relative residual of ``min(0.5, sqrt(|g|))``, so
    convergence becomes superlinear), then backtracks from the full step until
    the Armijo condition holds.
    """
    theta = theta0.copy()
    # The loss carries the rounding of the data's dtype (float32 exps).
    eps = np.finfo(objective.dtype).eps
    message = "max_iter reached"
    n_iter = stalled = 0
    converged = False
    with threadpool_limits(limits=1, user_api="blas"), objective.blocks:
        f, g = objective.loss_grad(theta)
        best = np.abs(g).max()
        while True:
            threshold = stop_threshold(tol, f)
            small = np.abs(g).max() <= threshold
            if (n_iter >= max_iter and not small) or stalled >= 5:
                if stalled >= 5:
                    message = "no progress in 5 iterations (rounding level reached)"
                break
            gnorm = np.linalg.norm(g)
            hessp = None  # free the previous point's probabilities first
            hessp, diagonal = objective.hessian_at(theta)
            rtol = 0.1 if small else min(0.5, np.sqrt(gnorm))
            p = _conjugate_gradient(hessp, g, rtol, max_cg, diagonal)
            slope = g @ p
            if small:
                # Half the Newton decrement estimates the gap.  The gradient
                # rule bounds the gap by threshold^2 / 2 only where the
                # curvature is about 1; this also holds where it is tiny.
                # Below the loss's own rounding no gap can be resolved.
                # In float32 the gradient's rounding noise, amplified along
                # flat directions, swamps this estimate: the rule alone holds.
                gap = -slope / 2
                allowed = max(threshold**2, 16 * eps * abs(f))
                converged = gap <= allowed or objective.dtype == np.float32
                message = (
                    "converged"
                    if converged
                    else f"the gradient met the rule but Newton's gap estimate "
                    f"{gap:.3g} exceeds {allowed:.3g}"
                )
                if converged:
                    break
            if n_iter >= max_iter:
                break
            if slope >= 0:
                p, slope = -g, -(gnorm**2)
            step = 1.0
            for _ in range(50):
                f_new, g_new = objective.loss_grad(theta + step * p)
                # allow rounding-level increases: near the optimum the Armijo
                # decrease is below the objective's own rounding error
                if f_new <= f + 1e-4 * step * slope + 8 * eps * abs(f):
                    break
                step *= 0.5
            else:
                message = "line search failed (rounding level reached)"
                break
            n_iter += 1
            theta = theta + step * p
            # rounding level: neither the objective nor the gradient improves
            # measurably (in float32 the gradient keeps improving after the
            # objective's changes fall below its rounding)
            gmax = np.abs(g_new).max()
            flat = f - f_new <= 8 * eps * abs(f) and gmax > 0.9 * best
            stalled = stalled + 1 if flat else 0
            best = min(best, gmax)
            f, g = f_new, g_new
            if verbose:
                _progress(n_iter, f, g)
    return _result(objective, theta, f, g, n_iter, tol, message, converged)


@dataclass
class SolveResult:
    """What a solve returns: the optimum, model parameters and diagnostics."""

    W: np.ndarray
    b: np.ndarray
    fun: float
    grad_max: float
    threshold: float
    n_iter: int
    converged: bool
    message: str
