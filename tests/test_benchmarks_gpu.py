"""benchmarks/bench_gpu.py runs end to end on torch's CPU, so it cannot rot."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from _oracle import objective

torch = pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_device_objective_is_the_host_objective():
    bench = load_bench()
    device = bench.Device(torch, "cpu")
    X, y = bench.embeddings(device, 300, 6, 4, chunk=128)
    rng = np.random.default_rng(0)
    coef, intercept = rng.normal(size=(4, 6)), rng.normal(size=4)
    f = bench.objective_on_device(device, X, y, coef, intercept, 0.5, chunk=100)
    Xh = X.numpy().astype(np.float64)
    assert f == pytest.approx(objective(Xh, y.numpy(), coef, intercept, 0.5), rel=1e-12)


def test_tiny_run(tmp_path):
    out = tmp_path / "bench_gpu.txt"
    lines = load_bench().main(
        ["--sizes", "tiny", "--device", "cpu", "--budget", "600", "--out", str(out)]
    )
    assert out.read_text().splitlines() == lines
    table = [line for line in lines if line.startswith("2000x16")]
    rows = {tuple(line.split()[2:4]): line for line in table}
    assert set(rows) == {
        (fit, dtype)
        for fit in ("ours", "sklearn", "path")
        for dtype in ("float32", "float64")
        if (fit, dtype) != ("path", "float64")
    } | {("ref", "float64")}
    assert "skipped" not in "".join(rows.values())
    # ours reaches f* to 1e-6 in both precisions
    for dtype in ("float32", "float64"):
        assert float(rows["ours", dtype].split()[9]) <= 1e-6
