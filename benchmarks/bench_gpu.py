"""Softmax regression on a GPU: our fits against scikit-learn's, on device arrays.

One command, on whatever device torch finds (``cuda`` if available, else the
CPU; ``--device`` overrides)::

    python benchmarks/bench_gpu.py --sizes all --out bench_gpu.txt

The data are linear-probe embeddings generated on the device (the structure
of ``common.embeddings``, the ``probe`` problem: overlapping class clusters,
a decaying spectrum, a random rotation and a common offset; seeded), float32,
and their float64 copy.  Sizes (``--sizes``): ``tiny`` 2000 x 16, K=5 (the
CPU test), ``small`` 100k x 256, K=100, ``medium`` 400k x 1024, K=1000,
``large`` 1.28M x 2048, K=1000 (ImageNet-sized); ``all`` is small to large.

Per size and dtype it fits, under ``array_api_dispatch=True``:

- ``ours``: ``SoftmaxRegression(C=1)`` at its defaults;
- ``sklearn``: ``LogisticRegression(solver="lbfgs", max_iter=200)`` on the
  same arrays (same objective: ``common.sklearn_C``), bounded, so its gap can
  stay above 1e-6;
- ``ref``: our float64 fit continued (``warm_start``) to ``tol=1e-8``: ``f*``;
- ``path``: ``SoftmaxRegression(warm_start=True)`` over 10 C from 1e-2 to 1e2,
  each fit starting from the previous solution (float32).

Columns: ``eval ms`` (mean time of one loss + gradient of ours, timed inside
the fit around ``SoftmaxObjective.loss_grad``; for scikit-learn the fit time
over its iterations), ``evals`` (loss + gradient calls), ``passes`` (over
``X``, from the ``verbose`` summary line), ``iters`` (``n_iter_``), ``fit s``
(whole fit, device synchronised), ``gap`` (``(f - f*) / |f*|``, the objective
of ``docs/user_guide/objective.rst`` computed on the device in float64),
``peak GiB`` (``torch.cuda.max_memory_allocated`` during the fit, above what
was allocated before it; CPU: not measured).  Host <-> device traffic is not
measured.  A configuration whose estimated time (a timed ``X @ W.T`` +
``G.T @ X`` pair times the evaluations it is expected to need) exceeds what
is left of ``--budget`` (420 s), or whose memory estimate exceeds the free
device memory, is skipped and says so.
"""

import os

# scikit-learn's array-API dispatch needs SciPy's, read when scipy is imported
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import argparse
import contextlib
import io
import platform
import re
import sys
import time

import numpy as np
import scipy
import sklearn
from sklearn.linear_model import LogisticRegression

import sklearn_softmax
from sklearn_softmax import SoftmaxRegression
from sklearn_softmax._objective import ContrastObjective, SoftmaxObjective

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import _git_commit, sklearn_C  # noqa: E402

SIZES = {
    "tiny": [(2_000, 16, 5)],
    "small": [(100_000, 256, 100)],
    "medium": [(400_000, 1024, 1000)],
    "large": [(1_280_000, 2048, 1000)],
}
SIZES["all"] = SIZES["small"] + SIZES["medium"] + SIZES["large"]
PATH_CS = np.logspace(-2, 2, 10)
C = 1.0
SK_MAX_ITER = 200
# expected loss + gradient evaluations, for the time estimates (the probe
# problem needs ~75 passes on the host; sklearn runs to its max_iter)
# seconds the last fit of each kind took beyond its products' estimate
CALIBRATION = {}
EXPECTED_EVALS = {"ours": 250, "sklearn": SK_MAX_ITER + 30, "ref": 300, "path": 600}


# -- the device ----------------------------------------------------------------
class Device:
    def __init__(self, torch, name):
        self.torch = torch
        self.dev = torch.device(name)
        self.cuda = self.dev.type == "cuda"

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize(self.dev)

    def free_bytes(self):
        if self.cuda:
            return self.torch.cuda.mem_get_info(self.dev)[0]
        return None  # host memory: not checked

    def name(self):
        if self.cuda:
            return self.torch.cuda.get_device_name(self.dev)
        return f"cpu ({platform.processor() or platform.machine()})"


def embeddings(device, n, d, K, sep=0.2, seed=0, chunk=1 << 17):
    """``common.embeddings`` generated on the device, float32 (different draws).

    Class centres ``N(0, sep^2 I)``, samples centre + ``N(0, I)``, directions
    shrunk by ``1/sqrt(j)``, rotated by a random orthogonal matrix, shifted by
    a common offset; row chunks keep the float64 intermediates small.
    """
    torch = device.torch
    gen = torch.Generator(device=device.dev).manual_seed(seed)
    f64 = dict(device=device.dev, dtype=torch.float64, generator=gen)
    y = torch.randint(K, (n,), device=device.dev, generator=gen)
    centres = sep * torch.randn(K, d, **f64)
    spectrum = 1.0 / torch.sqrt(torch.arange(1, d + 1, device=device.dev).double())
    Q, _ = torch.linalg.qr(torch.randn(d, d, **f64))
    offset = 0.5 * torch.randn(d, **f64)
    # the rotation folded with the spectrum: (Z * s) @ Q.T = Z @ (s[:, None] * Q.T)
    M = spectrum[:, None] * Q.T
    X = torch.empty(n, d, device=device.dev, dtype=torch.float32)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        Z = centres[y[a:b]] + torch.randn(b - a, d, **f64)
        X[a:b] = (Z @ M + offset).float()
    return X, y


def objective_on_device(device, X, y, coef, intercept, C, chunk=1 << 16):
    """``mean_i CE_i + ||coef||^2 / (2 C n)`` in float64, in row chunks.

    The objective ``common.objective`` computes on the host (unit weights,
    ``coef`` of shape (K, d)), without copying ``X`` there.
    """
    torch = device.torch
    W = torch.as_tensor(coef, device=device.dev).double()
    b = torch.as_tensor(intercept, device=device.dev).double()
    n = X.shape[0]
    total = torch.zeros((), device=device.dev, dtype=torch.float64)
    for a in range(0, n, chunk):
        Z = X[a : a + chunk].double() @ W.T + b
        yy = y[a : a + chunk]
        total += (torch.logsumexp(Z, dim=1) - Z.gather(1, yy[:, None])[:, 0]).sum()
    return float(total) / n + float((W * W).sum()) / (2 * C * n)


def kernel_seconds(device, X, K):
    """One ``X @ W.T`` and ``G.T @ X``: the products an evaluation needs."""
    torch = device.torch
    W = torch.zeros(K, X.shape[1], device=device.dev, dtype=X.dtype)
    G = torch.zeros(X.shape[0], K, device=device.dev, dtype=X.dtype)
    (X @ W.T).sum(), G.T @ X  # warm-up (cuBLAS handles, kernels)
    device.sync()
    start = time.perf_counter()
    (X @ W.T), G.T @ X
    device.sync()
    seconds = time.perf_counter() - start
    del W, G
    return seconds


# -- timing a fit --------------------------------------------------------------
class EvalTimer:
    """Counts and times the objective's ``loss_grad`` calls during a fit.

    Both classes define their own (``ContrastObjective``, the exact Newton
    solver's, also forms the Hessian in that pass).
    """

    classes = (SoftmaxObjective, ContrastObjective)

    def __init__(self, device):
        self.device = device
        self.calls, self.seconds = 0, 0.0

    def _wrap(self, original):
        def loss_grad(obj, theta):
            self.device.sync()
            start = time.perf_counter()
            out = original(obj, theta)
            self.device.sync()
            self.seconds += time.perf_counter() - start
            self.calls += 1
            return out

        return loss_grad

    def __enter__(self):
        self._originals = [cls.__dict__["loss_grad"] for cls in self.classes]
        for cls, original in zip(self.classes, self._originals, strict=True):
            cls.loss_grad = self._wrap(original)
        return self

    def __exit__(self, *exc):
        for cls, original in zip(self.classes, self._originals, strict=True):
            cls.loss_grad = original
        return False


def _int(a):
    if hasattr(a, "cpu"):
        a = a.cpu()
    return int(np.max(np.asarray(a)))


def timed_fits(device, models, X, y):
    """Fit each model in turn (one path); time, evaluations, passes, memory."""
    torch = device.torch
    if device.cuda:
        torch.cuda.reset_peak_memory_stats(device.dev)
        before = torch.cuda.memory_allocated(device.dev)
    out = io.StringIO()
    device.sync()
    start = time.perf_counter()
    with (
        sklearn.config_context(array_api_dispatch=True),
        EvalTimer(device) as timer,
        contextlib.redirect_stdout(out),
    ):
        for model in models:
            model.fit(X, y)
    device.sync()
    seconds = time.perf_counter() - start
    # the summary line of each fit: "C=...: solver, N iterations, M passes over X"
    pattern = r"C=\S+: ([\w-]+), \d+ iterations, (\d+) passes"
    summary = re.findall(pattern, out.getvalue())
    passes = [int(p) for _, p in summary]
    peak = None
    if device.cuda:
        peak = (torch.cuda.max_memory_allocated(device.dev) - before) / 2**30
    return dict(
        seconds=seconds,
        evals=timer.calls,
        eval_s=timer.seconds / timer.calls if timer.calls else None,
        passes=sum(passes) if passes else None,
        iters=sum(_int(m.n_iter_) for m in models),
        peak=peak,
        solvers=", ".join(sorted({s for s, _ in summary})),
    )


# -- the table -----------------------------------------------------------------
HEADER = (
    f"{'size':<22} {'fit':<14} {'dtype':<8} {'eval ms':>9} {'evals':>6} "
    f"{'passes':>6} {'iters':>6} {'fit s':>8} {'gap':>9} {'peak GiB':>9}  note"
)


def _fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def row(size, fit, dtype, r=None, gap=None, note=""):
    r = r or {}
    eval_ms = r.get("eval_s")
    if eval_ms is None and r.get("seconds") and r.get("iters"):
        eval_ms = r["seconds"] / r["iters"]  # sklearn: fit time per iteration
    return (
        f"{size:<22} {fit:<14} {dtype:<8} {_fmt(eval_ms and eval_ms * 1e3, '9.2f'):>9} "
        f"{_fmt(r.get('evals') or None, 'd'):>6} {_fmt(r.get('passes'), 'd'):>6} "
        f"{_fmt(r.get('iters'), 'd'):>6} {_fmt(r.get('seconds'), '8.2f'):>8} "
        f"{_fmt(gap, '9.1e'):>9} {_fmt(r.get('peak'), '9.2f', 'n/a'):>9}  {note}"
    ).rstrip()


def header_lines(device):
    import torch

    return [
        f"device: {device.dev} = {device.name()}",
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, sklearn_softmax "
        f"{getattr(sklearn_softmax, '__version__', '?')}"
        f"{_git_commit(os.path.dirname(sklearn_softmax.__file__))}",
        f"C={C:g} (LogisticRegression C=sklearn_C), sklearn lbfgs max_iter="
        f"{SK_MAX_ITER}; host<->device traffic: not measured",
    ]


# -- one size ------------------------------------------------------------------
def bench_size(device, n, d, K, deadline, emit, seed=0):
    torch = device.torch
    size = f"{n}x{d} K={K}"
    free = device.free_bytes()
    if free is not None and 3 * n * d * 4 > 0.9 * free:  # X32 + X64
        note = f"skipped: the data need more than {free / 2**30:.0f} GiB free"
        emit(row(size, "all", "-", note=note))
        return
    start = time.perf_counter()
    X32, y = embeddings(device, n, d, K, seed=seed)
    device.sync()
    seconds = time.perf_counter() - start
    emit(f"# {size}: data generated on the device in {seconds:.1f} s")

    models, results = {}, {}

    def run(key, fit, dtype, X, make):
        base = kernel_seconds(device, X, K) * EXPECTED_EVALS[fit]
        # plus what the previous fit of this kind spent beyond its products
        # (per-call and host overheads, which the products do not show)
        estimate = 1.5 * base + CALIBRATION.get(fit, 0.0) + 0.5
        left = deadline - time.perf_counter()
        item = 4 if dtype == "float32" else 8
        # logits, probabilities / gradient of the scores, one more block
        need = 4 * n * K * item + 4 * K * d * 8
        free = device.free_bytes()
        if free is not None and need > 0.9 * free:
            note = f"skipped: ~{need / 2**30:.0f} GiB > free"
            results[key] = (fit, dtype, None, note)
            return
        if estimate > left:
            results[key] = (
                fit,
                dtype,
                None,
                f"skipped: ~{estimate:.0f} s estimated > {max(left, 0):.0f} s left",
            )
            return
        ms = make()
        try:
            r = timed_fits(device, ms, X, y)
        except torch.cuda.OutOfMemoryError:
            results[key] = (fit, dtype, None, "out of device memory")
            return
        models[key] = ms
        CALIBRATION[fit] = max(0.0, r["seconds"] - base)
        results[key] = (fit, dtype, r, "")

    def ours(**kw):
        return lambda: [SoftmaxRegression(C=C, verbose=1, **kw)]

    sk = lambda: [  # noqa: E731
        LogisticRegression(C=sklearn_C(C, K), solver="lbfgs", max_iter=SK_MAX_ITER)
    ]
    path = lambda: [  # noqa: E731
        SoftmaxRegression(C=c, warm_start=True, verbose=1) for c in PATH_CS
    ]

    run("ours32", "ours", "float32", X32, ours())
    run("sk32", "sklearn", "float32", X32, sk)
    run("path32", "path", "float32", X32, path)

    X64 = X32.double()
    del X32
    run("ours64", "ours", "float64", X64, ours())
    run("sk64", "sklearn", "float64", X64, sk)
    # f*: our float64 fit continued to tol=1e-8 (a cold fit where it was skipped)
    if "ours64" in models:
        ref = models["ours64"][0]
        # objective of ours64 before the continuation changes it
        f_ours64 = objective_on_device(device, X64, y, ref.coef_, ref.intercept_, C)
        ref.set_params(warm_start=True, tol=1e-8)
        make_ref = lambda: [ref]  # noqa: E731
    else:
        f_ours64 = None
        make_ref = ours(tol=1e-8)
    run("ref", "ref", "float64", X64, make_ref)

    values = {}
    for key, ms in models.items():
        if key == "path32":
            continue  # the path ends at C=100: another objective
        m = ms[-1]
        values[key] = (
            f_ours64
            if key == "ours64"
            else objective_on_device(device, X64, y, m.coef_, m.intercept_, C)
        )
    # f*: the reference fit, else the best fit there is (said in the table)
    f_star = min(values.values()) if values else None
    if f_star is not None and "ref" not in values:
        emit(f"# {size}: reference fit skipped, gaps against the best fit here")
    for key in ("ours32", "ours64", "sk32", "sk64", "ref", "path32"):
        if key not in results:
            continue
        fit, dtype, r, note = results[key]
        gap = None
        if f_star is not None and key in values:
            gap = (values[key] - f_star) / abs(f_star)
        if key == "path32" and r is not None:
            note = f"{len(PATH_CS)} C 1e-2..1e2, warm starts, sums; {r['solvers']}"
        if key == "ref" and r is not None:
            note = f"ours float64 continued to tol=1e-8: f*; {r['solvers']}"
        if key.startswith("ours") and r is not None:
            note = r["solvers"]
        if key.startswith("sk") and r is not None:
            note = "eval ms: fit s / iters"
            if r["iters"] >= SK_MAX_ITER:
                note += f"; stopped at max_iter={SK_MAX_ITER}"
        emit(row(size, fit, dtype, r, gap, note))
    del X64
    models.clear()
    if device.cuda:
        torch.cuda.empty_cache()


# -- main ----------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="all", choices=list(SIZES))
    parser.add_argument("--device", default=None, help="torch device (cuda/cpu)")
    parser.add_argument("--out", default="bench_gpu.txt")
    parser.add_argument(
        "--budget", type=float, default=420.0, help="seconds for all the fits"
    )
    parser.add_argument(
        "--n", type=int, default=None, help="override the rows of every size"
    )
    args = parser.parse_args(argv)

    import torch

    name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    device = Device(torch, name)
    deadline = time.perf_counter() + args.budget
    CALIBRATION.clear()
    lines = []

    def emit(line):
        print(line, flush=True)
        lines.append(line)

    for line in header_lines(device):
        emit(line)
    emit(HEADER)
    for n, d, K in SIZES[args.sizes]:
        bench_size(device, args.n or n, d, K, deadline, emit)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


if __name__ == "__main__":
    main()
