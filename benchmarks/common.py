"""Shared pieces of the benchmarks: the problems, the objective, the machine.

Run by hand, never imported by the package.  ``bench_fit.py`` and
``bench_kernel.py`` import this module from the same folder.

The objective (docs/user_guide/objective.rst, unit sample weights) of a
fitted model is computed here for every solver alike::

    f(W, b) = mean_i CE_i + ||W||_F^2 / (2 C n)

by the package's private helper :func:`sklearn_softmax._objective.objective_value`
in float64.  For two classes ``coef_`` holds the log-odds ``W_1 - W_0`` and
the penalty is ``||coef_||^2 / (4 C n)``: the objective of
``LogisticRegression(C=2C)``.
"""

import os
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from sklearn_softmax._objective import objective_value

__all__ = [
    "PROBLEMS",
    "SMALL_PROBLEMS",
    "Problem",
    "make_problem",
    "objective",
    "model_objective",
    "relative_gap",
    "sklearn_C",
    "machine_lines",
    "median_time",
    "OtherLoad",
    "others_share",
    "wait_quiet",
    "quiet_call",
]


# -- the objective -------------------------------------------------------------
def objective(X, y_index, coef, intercept, C, l1_ratio=0.0):
    """Objective (unit weights) of ``(coef, intercept)``, in float64.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    y_index : ndarray of shape (n,)
        Class indices ``0..K-1``.
    coef : ndarray of shape (K, d), or (1, d) for two classes (log-odds)
    intercept : ndarray of shape (K,) or (1,)
    C : float
        Our ``C`` (``LogisticRegression`` uses ``2 C`` for two classes).
    l1_ratio : float, default=0.0
        Share of the L1 part of the penalty.
    """
    return objective_value(X, y_index, coef, intercept, C, l1_ratio=l1_ratio)


def model_objective(model, X, y_index, C):
    """:func:`objective` of a fitted ``SoftmaxRegression`` or ``LogisticRegression``."""
    return objective(X, y_index, model.coef_, model.intercept_, C)


def relative_gap(f, f_star):
    """``(f - f*) / |f*|``."""
    return (f - f_star) / abs(f_star)


def sklearn_C(C, n_classes):
    """``LogisticRegression``'s C for our objective with ``C``: 2C for two classes."""
    return 2 * C if n_classes == 2 else C


# -- the problems --------------------------------------------------------------
@dataclass
class Problem:
    """A data set and the ``C`` it is fitted with."""

    name: str
    description: str
    X: object
    y: np.ndarray  # class indices 0..K-1
    C: float = 1.0
    same_data_as: str = ""  # float32 problem: the name of its float64 twin
    extra: dict = field(default_factory=dict)

    @property
    def n_classes(self):
        return int(self.y.max()) + 1

    def shape_text(self):
        n, d = self.X.shape
        kind = "CSR" if sp.issparse(self.X) else "dense"
        dens = f", {self.X.nnz / (n * d):.2%} dense" if sp.issparse(self.X) else ""
        return f"{n}x{d} {kind} {self.X.dtype}{dens}, {self.n_classes} classes"


def _dense(seed):
    X, y = make_classification(
        n_samples=100_000,
        n_features=200,
        n_informative=50,
        n_classes=10,
        random_state=seed,
    )
    return X, y


def _badly_scaled(X, seed):
    """Columns multiplied by ``10 ** U(-3, 3)`` (a copy)."""
    rng = np.random.default_rng(seed + 1)
    return X * 10.0 ** rng.uniform(-3, 3, size=X.shape[1])


def text_like(
    n_samples=50_000,
    n_features=50_000,
    n_classes=20,
    density=0.002,
    class_share=0.03,
    zipf=1.1,
    seed=0,
):
    """Learnable, text-like sparse data: tf-idf of Zipf-distributed word counts.

    Every document draws about ``density * n_features`` distinct words.  Each
    word is, with probability ``1 - class_share``, a draw from one global Zipf
    law over the vocabulary and otherwise from a Zipf law over a class-specific
    ordering of the vocabulary (a random permutation per class), so every
    class has its own frequent words on top of shared ones.  Values are
    ``(1 + log tf) * idf`` with ``idf = 1 + log(n / (1 + df))``, rows scaled to
    unit L2 norm, as ``TfidfVectorizer(sublinear_tf=True)`` gives.

    Returns
    -------
    X : csr_matrix of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,)
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(n_classes, size=n_samples)
    # Zipf law over ranks 1..V by inverse CDF on the truncated weights
    cdf = np.cumsum(np.arange(1, n_features + 1, dtype=np.float64) ** -zipf)
    cdf /= cdf[-1]
    # Zipf draws repeat words: draw more tokens than distinct words wanted
    want = density * n_features
    tokens = rng.poisson(1.55 * want, size=n_samples) + 1
    row = np.repeat(np.arange(n_samples), tokens)
    rank = np.minimum(np.searchsorted(cdf, rng.random(row.size)), n_features - 1)
    from_class = rng.random(row.size) < class_share
    global_order = rng.permutation(n_features)
    class_order = np.stack([rng.permutation(n_features) for _ in range(n_classes)])
    col = np.where(from_class, class_order[y[row], rank], global_order[rank])
    counts = sp.csr_matrix(
        (np.ones(row.size), (row, col)), shape=(n_samples, n_features)
    )
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=n_features)
    idf = 1.0 + np.log(n_samples / (1.0 + df))
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    counts = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-300)) @ counts)
    counts.sort_indices()
    return counts, y


def embeddings(n_samples=100_000, n_features=256, n_classes=100, sep=0.2, seed=0):
    """Synthetic embeddings for a linear probe: overlapping class clusters, float32.

    Each class has a centre drawn from ``N(0, sep^2 I)``; a sample is its
    class centre plus ``N(0, I)`` noise, then every direction is shrunk by
    ``1 / sqrt(j)`` (``j = 1..d``, a decaying spectrum), rotated by a random
    orthogonal matrix and shifted by a common offset, as the features of a
    pretrained network are anisotropic, correlated and not centred.  With
    ``sep=0.2`` the centres are about 4 noise standard deviations apart, the
    clusters overlap (a linear probe reaches about 75 % training accuracy) and
    the optimum is finite.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,)
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(n_classes, size=n_samples)
    centres = sep * rng.standard_normal((n_classes, n_features))
    Z = centres[y] + rng.standard_normal((n_samples, n_features))
    spectrum = 1.0 / np.sqrt(np.arange(1, n_features + 1))
    Q, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    X = (Z * spectrum) @ Q.T + 0.5 * rng.standard_normal(n_features)
    return X.astype(np.float32), y


# scikit-learn's bundled data sets, standardised once on all rows (what
# ``make_pipeline(StandardScaler(), clf)`` feeds the classifier)
_SMALL = {
    "iris": (load_iris, "load_iris, standardised"),
    "wine": (load_wine, "load_wine, standardised"),
    "breast_cancer": (load_breast_cancer, "load_breast_cancer, standardised"),
    "digits_std": (load_digits, "load_digits, standardised"),
}


def _build(name, seed=0):
    if name in _SMALL:
        load, desc = _SMALL[name]
        X, y = load(return_X_y=True)
        return Problem(name, desc, StandardScaler().fit_transform(X), y)
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return Problem(name, "load_digits, unscaled", X, y)
    if name in ("dense", "dense_scaled", "dense_f32"):
        X, y = _dense(seed)
        if name == "dense":
            desc = "make_classification 100k x 200, 50 informative"
            return Problem(name, desc, X, y)
        if name == "dense_scaled":
            desc = "same, columns x 10**U(-3,3)"
            return Problem(name, desc, _badly_scaled(X, seed), y)
        return Problem(
            name,
            "same as dense, float32",
            X.astype(np.float32),
            y,
            same_data_as="dense",
        )
    if name == "sparse":
        X, y = text_like(seed=seed)
        desc = "text-like tf-idf CSR, Zipf words, class-specific vocabularies"
        return Problem(name, desc, X, y)
    if name == "many_classes":
        X, y = make_classification(
            n_samples=5_000,
            n_features=50,
            n_informative=30,
            n_classes=100,
            n_clusters_per_class=1,
            random_state=seed,
        )
        return Problem(name, "make_classification 5k x 50, 30 informative", X, y)
    if name == "probe":
        X, y = embeddings(seed=seed)
        desc = "linear probe: embeddings 100k x 256, overlapping clusters"
        return Problem(name, desc, X, y)
    raise KeyError(name)


PROBLEMS = [
    "digits",
    "dense",
    "dense_scaled",
    "dense_f32",
    "sparse",
    "many_classes",
    "probe",
]
# kept out of PROBLEMS, which is bench_fit.py's default run
SMALL_PROBLEMS = list(_SMALL)

_CACHE = {}


def make_problem(name, seed=0):
    """The :class:`Problem` called ``name`` (in :data:`PROBLEMS` or
    :data:`SMALL_PROBLEMS`), cached."""
    if (name, seed) not in _CACHE:
        _CACHE[name, seed] = _build(name, seed)
    return _CACHE[name, seed]


# -- timing and the machine ----------------------------------------------------
def _busy_seconds():
    """CPU seconds the whole machine has spent busy (all processes, /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return np.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """Share of the machine's CPUs used by *other* processes during a block.

    ``with OtherLoad() as load: ...`` then ``load.share`` is the busy CPU time
    of the whole machine minus this process's own, over ``wall * n_cpus``: 0
    on an otherwise idle machine.  Timings taken while it is large (other
    sessions running tests on the same cores) are not trustworthy.
    """

    def __enter__(self):
        self._busy, self._own = _busy_seconds(), sum(os.times()[:2])
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self._wall
        other = (_busy_seconds() - self._busy) - (sum(os.times()[:2]) - self._own)
        n_cpu = os.cpu_count() or 1
        # /proc/stat ticks are 10 ms: ignore what rounding can produce
        self.share = max(0.0, other - 0.02 * n_cpu) / max(wall * n_cpu, 1e-9)
        return False


def others_share(seconds=0.5):
    """Share of the CPUs other processes use over the next ``seconds``."""
    with OtherLoad() as load:
        time.sleep(seconds)
    return load.share


def wait_quiet(threshold=0.05, max_wait=3.0):
    """Wait (at most ``max_wait`` s) until other processes use < ``threshold``."""
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait:
        if others_share(0.3) < threshold:
            return True
    return False


def quiet_call(fn, threshold=0.10, tries=2, max_wait=3.0):
    """``(seconds, others_share, result)`` of ``fn()`` on a quiet machine.

    Waits for a quiet machine (see :func:`wait_quiet`), times ``fn()`` and
    repeats the call (up to ``tries`` times) while other processes took more
    than ``threshold`` of the CPUs during it; returns the least disturbed call.
    """
    best = None
    for _ in range(tries):
        wait_quiet(threshold / 2, max_wait)
        with OtherLoad() as load:
            start = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - start
        if best is None or load.share < best[1]:
            best = (seconds, load.share, result)
        if load.share <= threshold:
            break
    return best


def median_time(fn, repeats, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), times


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit(path):
    """`` (git abc1234)`` of the checkout holding ``path``, ``+`` if it is edited."""
    import subprocess

    try:
        run = lambda *cmd: subprocess.run(  # noqa: E731
            ["git", "-C", path, *cmd], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        commit = run("rev-parse", "--short", "HEAD")
        dirty = run("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return ""
    return f" (git {commit}{'+' if dirty else ''})" if commit else ""


def _simd_line():
    """numpy's SIMD level: float64 ``exp`` is vectorised only with AVX512F.

    Without it ``np.exp`` on float64 runs ~5x slower (9 ns against ~1 ns per
    element measured on two machines here), which moves every kernel ratio.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:  # pragma: no cover - other numpy layouts
        return "simd: unknown"
    top = [f for f in ("AVX512F", "AVX2", "NEON", "ASIMD") if feats.get(f)]
    a = np.random.default_rng(0).standard_normal(1 << 20)
    seconds, _ = median_time(lambda: np.exp(a), repeats=5)
    return (
        f"simd: {', '.join(top) or 'baseline'}; np.exp float64 "
        f"{seconds / a.size * 1e9:.1f} ns/element"
    )


def machine_lines():
    """Lines describing the machine and the BLAS/OpenMP pools (threadpoolctl)."""
    import scipy
    import sklearn

    import sklearn_softmax

    try:
        n_cpu = len(os.sched_getaffinity(0))
    except AttributeError:
        n_cpu = os.cpu_count()
    try:
        import psutil

        mem = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        mem = ""
    lines = [
        f"machine: {_cpu_model()}, {n_cpu} usable cores{mem}, "
        f"{platform.system()} {platform.machine()}",
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"sklearn_softmax {getattr(sklearn_softmax, '__version__', '?')}"
        f"{_git_commit(os.path.dirname(sklearn_softmax.__file__))}",
    ]
    lines.append(_simd_line())
    for pool in threadpool_info():
        lib = os.path.basename(pool["filepath"])
        owner = (
            "numpy"
            if "numpy" in pool["filepath"]
            else (
                "scipy"
                if "scipy.libs" in pool["filepath"]
                else "scikit-learn"
                if "scikit_learn" in pool["filepath"]
                else "?"
            )
        )
        arch = pool.get("architecture")
        lines.append(
            f"threadpool: {pool['user_api']}/{pool['internal_api']} "
            f"{pool.get('version') or ''} ({owner}: {lib})"
            f"{' ' + arch if arch else ''}, {pool['num_threads']} threads"
        )
    return lines
