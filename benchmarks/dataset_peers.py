#!/usr/bin/env python3
"""EDM's Heun sampler on the ideal denoiser of a CIFAR-10-shaped data set (N × 32×32×3): Tweedie
against the ways it is usually computed in Python, in one run (`make bench-dataset`; the table goes
in BENCHMARKS.md with the command printed at its top).

Two data sets of N items (default 50 000, D = 3072), uint8 pixels imported with
`tweedie dataset import X.npy --scale edm` (x/127.5 − 1):

1. photo patches (real, scikit-learn's sample images): 32×32 RGB patches cut on a fixed stride grid
   from china.jpg and flower.jpg (`sklearn.datasets.load_sample_images()`, 427×640×3 each); the
   largest stride that yields N patches is used and N of them are taken evenly from the grid.
2. random pixels (synthetic): uniform uint8 pixels.

Each method draws `--count` samples (default 256) with Heun's method as EDM (Karras et al. 2022,
Algorithm 1 without churn): σ_i = (σ_max^(1/ρ) + i/(N−1)(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ, i < 18,
σ_18 = 0 (σ_max = 80, σ_min = 0.002, ρ = 7), d = (x − D(x, σ))/σ, an Euler step and the
trapezoidal correction except on the last step: 35 denoiser calls. Every method starts from the
same x = σ_max z, z ~ N(0, I) drawn here with numpy (seeded) and handed to Tweedie with --init.
The ideal denoiser is D(x, σ) = Σ_i w_i x_i, w ∝ exp(−‖x − x_i‖²/(2σ²)) (α = 1).

- Tweedie exact: `tweedie sample --sampler heun --schedule edm --steps 18 --batch-size count`, the
  exact denoiser in Float64; the time is the report's "wall time" (the sampling only: it leaves
  out the model load and the report, which the note gives as the whole process's time).
- Tweedie pruned: the same with `--prune 1e-8` (each call certified within ε‖x_t‖ of the exact
  one); the report's "pruning certified" line is printed below the table.
- numpy float64: the same loop with the exact denoiser by the Gram form, in blocks of 4096 items
  with a running log-sum-exp maximum (memory B × block, never B × N × D). Before anything of
  numpy's is timed, it must agree with Tweedie exact along the whole trajectory (the 19 states,
  from `tweedie sample --trajectory`) of the first 4 samples, and the grids must agree; the run
  stops otherwise. Its timed samples are checked again against all of Tweedie's.
- torch float32: the memorization-study recipe (Gu et al.): torch.cdist(x, data) in float32,
  softmax of −d²/(2σ²) over all N, the weighted sum; the state in float32; 2 threads.
- faiss top-k: IndexFlatL2 on the float32 data, the k = 2048 nearest items per query, softmax over
  those k only (the truncation of the nearest-neighbour score estimators); the weighted sum of the
  k gathered items with torch (bmm); the Heun state in float64.

Each method runs once (35 calls is long enough to time); the set-up (data conversions, ‖x_i‖²,
the faiss index) is not timed for anyone. "max |Δ|" is the largest coordinate difference from
Tweedie's exact samples divided by the data's range (2 for --scale edm); the samples end on (or next
to) training items, so the note also counts the samples that end more than 1e-3 of the range from
Tweedie exact's, on another item ("end elsewhere"). The GEMM bound is the
time numpy's float64 GEMM rate needs for the exact denoiser's least arithmetic, 4·N·D·B flops a
call (the distance GEMM and the weighted-sum GEMM), for the 35 calls; the note gives each method's
time as a share of it (float32 methods can exceed 100%).

--quick (items 1000, count 8, k 250) is for testing the script, not for figures.
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIGMA_MAX, SIGMA_MIN, RHO, STEPS = 80.0, 0.002, 7.0, 18
SIDE, CHANNELS = 32, 3
D = SIDE * SIDE * CHANNELS
DEFAULT_TWEEDIE = str(Path(__file__).resolve().parent.parent / ".build" / "release" / "tweedie")
CHECK_SAMPLES = 4
CHECK_TOLERANCE = 1e-6  # numpy float64 against Tweedie exact, relative to the data's range


# ---------------------------------------------------------------------------------------------
# The sampler


def edm_sigmas(steps=STEPS, sigma_min=SIGMA_MIN, sigma_max=SIGMA_MAX, rho=RHO):
    i = np.arange(steps, dtype=np.float64)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return np.append((a + i / (steps - 1) * (b - a)) ** rho, 0.0)


def heun(denoise, x, sigmas, trajectory=None):
    """EDM's Algorithm 1 (S_churn = 0); works on numpy arrays and torch tensors alike. With a list
    `trajectory`, appends the state at each grid time and the result."""
    for t, t_next in zip(sigmas[:-1], sigmas[1:]):
        if trajectory is not None:
            trajectory.append(x)
        t, t_next = float(t), float(t_next)
        d = (x - denoise(x, t)) / t
        x_next = x + (t_next - t) * d
        if t_next != 0:
            d_next = (x_next - denoise(x_next, t_next)) / t_next
            x_next = x + (t_next - t) * (0.5 * d + 0.5 * d_next)
        x = x_next
    if trajectory is not None:
        trajectory.append(x)
    return x


class Counted:
    """A denoiser that counts its calls (35 for heun, 18 steps)."""

    def __init__(self, denoise):
        self.denoise, self.calls = denoise, 0

    def __call__(self, x, sigma):
        self.calls += 1
        return self.denoise(x, sigma)


# ---------------------------------------------------------------------------------------------
# The peers' denoisers


class NumpyExact:
    """The exact ideal denoiser in float64: logits (x·y_i − ‖y_i‖²/2)/σ² by a GEMM per block of
    items, a running maximum and sum (log-sum-exp), the weighted sum by a second GEMM."""

    def __init__(self, data, block=4096):
        self.data, self.block = data, block
        self.half_norms = 0.5 * np.einsum("ij,ij->i", data, data)

    def __call__(self, x, sigma):
        inverse = 1.0 / (sigma * sigma)
        m = np.full(x.shape[0], -np.inf)
        s = np.zeros(x.shape[0])
        numerator = np.zeros_like(x)
        for j in range(0, self.data.shape[0], self.block):
            y = self.data[j:j + self.block]
            logits = x @ y.T
            logits -= self.half_norms[j:j + self.block]
            logits *= inverse
            m_new = np.maximum(m, logits.max(axis=1))
            shrink = np.exp(m - m_new)
            logits -= m_new[:, None]
            np.exp(logits, out=logits)
            s *= shrink
            s += logits.sum(axis=1)
            numerator *= shrink[:, None]
            numerator += logits @ y
            m = m_new
        return numerator / s[:, None]


class TorchCdist:
    """float32 torch.cdist to every item (in blocks of items, concatenated), softmax of
    −d²/(2σ²) over all N, the weighted sum."""

    def __init__(self, torch, data32, block=8192):
        self.torch, self.data, self.block = torch, torch.from_numpy(data32), block

    def __call__(self, x, sigma):
        torch = self.torch
        n = self.data.shape[0]
        logits = torch.empty((x.shape[0], n), dtype=torch.float32)
        scale = -1.0 / (2.0 * sigma * sigma)
        for j in range(0, n, self.block):
            d = torch.cdist(x, self.data[j:j + self.block])
            logits[:, j:j + self.block] = d.square_().mul_(scale)
        return torch.softmax(logits, dim=1) @ self.data


class FaissTopK:
    """faiss IndexFlatL2 (float32, exhaustive): the k nearest items of each query, softmax over
    those k only (in float64 from faiss's float32 squared distances), the weighted sum of the k
    gathered items (torch bmm, in chunks of queries so that chunk × k × D stays ~400 MB)."""

    def __init__(self, faiss, torch, data32, k):
        self.torch = torch
        self.index = faiss.IndexFlatL2(data32.shape[1])
        self.index.add(data32)
        self.data = torch.from_numpy(data32)
        self.k = k
        self.chunk = max(1, (400 << 20) // (4 * k * data32.shape[1]))
        self.search_time = 0.0

    def __call__(self, x, sigma):
        torch = self.torch
        start = time.perf_counter()
        squared, index = self.index.search(np.ascontiguousarray(x, dtype=np.float32), self.k)
        self.search_time += time.perf_counter() - start
        logits = -(squared.astype(np.float64) - squared.min(axis=1, keepdims=True)) / (2 * sigma * sigma)
        w = np.exp(logits)
        w /= w.sum(axis=1, keepdims=True)
        w = torch.from_numpy(w.astype(np.float32))
        index = torch.from_numpy(index)
        out = torch.empty((x.shape[0], self.data.shape[1]), dtype=torch.float32)
        for i in range(0, x.shape[0], self.chunk):
            rows = index[i:i + self.chunk]
            gathered = self.data.index_select(0, rows.reshape(-1)).view(rows.shape[0], self.k, -1)
            out[i:i + self.chunk] = torch.bmm(w[i:i + self.chunk].unsqueeze(1), gathered).squeeze(1)
        return out.numpy().astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Data sets


def photo_patches(n):
    """n 32×32 RGB patches of scikit-learn's two sample photographs, on the largest stride grid
    (the same stride in both directions and both images) that holds n, taken evenly from it."""
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images  # china.jpg, flower.jpg: 427×640×3 uint8
    def grid(stride):
        return sum(((h - SIDE) // stride + 1) * ((w - SIDE) // stride + 1) for h, w, _ in
                   (im.shape for im in images))
    stride = max((s for s in range(1, 64) if grid(s) >= n), default=None)
    if stride is None:
        raise SystemExit(f"--items {n}: the two photographs hold only {grid(1)} patches")
    patches = []
    for im in images:
        windows = np.lib.stride_tricks.sliding_window_view(im, (SIDE, SIDE), axis=(0, 1))
        windows = windows[::stride, ::stride]  # (rows, cols, 3, 32, 32)
        patches.append(windows.transpose(0, 1, 3, 4, 2).reshape(-1, SIDE, SIDE, CHANNELS))
    patches = np.concatenate(patches)
    pick = np.unique(np.round(np.linspace(0, len(patches) - 1, n)).astype(np.int64))
    assert len(pick) == n
    return np.ascontiguousarray(patches[pick]), f"stride {stride} px, {n} of {len(patches)} grid patches"


def random_pixels(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, SIDE, SIDE, CHANNELS), dtype=np.uint8), \
        "uniform uint8"


def model_values(path):
    """The items exactly as Tweedie holds them (offset + scale · v for 8-bit storage), (N, D)."""
    with np.load(path) as z:
        means = z["means"]
        values = means.reshape(means.shape[0], -1).astype(np.float64)
        if "means_scale" in z.files:
            values = float(z["means_offset"]) + float(z["means_scale"]) * values
    return values


# ---------------------------------------------------------------------------------------------
# Tweedie


def run(cmd):
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed ({result.returncode}): {shlex.join(cmd)}")
    return result.stdout, elapsed


def sample_command(binary, model, init, out, count):
    return [binary, "sample", "--model", model, "--schedule", "edm", "--sampler", "heun", "--steps",
            str(STEPS), "--count", str(count), "--seed", "1", "--batch-size", str(count), "--init", init,
            "--out", out]


def tweedie_trajectory(binary, model, init, work, stem):
    """Tweedie exact's grid times and states (N + 1 × C × D) from the starting normals `init`."""
    out, path = work / f"{stem}-check.npy", work / f"{stem}-check.npz"
    run(sample_command(binary, model, str(init), str(out), np.load(init).shape[0])
        + ["--trajectory", str(path), "--quiet"])
    with np.load(path) as t:
        return t["times"], t["x"].reshape(t["x"].shape[0], t["x"].shape[1], -1)


def tweedie_sample(binary, model, init, out, count, prune=None):
    cmd = sample_command(binary, model, init, out, count)
    if prune is not None:
        cmd += ["--prune", number(prune)]
    report, process = run(cmd)
    wall = re.search(r"wall time ([0-9.eE+-]+) s", report)
    calls = re.search(r"model calls ([0-9.]+) per sample", report)
    if wall is None or calls is None:
        sys.stderr.write(report)
        raise SystemExit("no 'wall time' or 'model calls' in tweedie sample's report")
    certified = next((line.strip() for line in report.splitlines() if line.startswith("pruning certified")),
                     None)
    samples = np.load(out)
    return dict(time=float(wall.group(1)), process=process, calls=float(calls.group(1)),
                certified=certified, samples=samples.reshape(samples.shape[0], -1).astype(np.float64))


# ---------------------------------------------------------------------------------------------


def gemm_rate(dtype, repeats):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, D)).astype(dtype)
    b = rng.standard_normal((D, 4096)).astype(dtype)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * 4096 * D * 4096 / best


def progress(text):
    """What runs now, on stderr (the table on stdout stays clean for pasting)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def number(x):
    """1e-08 → 1e-8."""
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{x:g}").replace("e+", "e")


def fmt_time(seconds):
    return f"{seconds:.2f} s" if seconds >= 1 else f"{1000 * seconds:.0f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, help="samples per method (default 256; --quick 8)")
    parser.add_argument("--items", type=int, help="training items N per data set (default 50000; --quick 1000)")
    parser.add_argument("--k", type=int, help="faiss: nearest items per query (default 2048; --quick 250)")
    parser.add_argument("--prune", type=float, default=1e-8, help="Tweedie pruned: ε (default 1e-8)")
    parser.add_argument("--seed", type=int, default=1, help="seed of z and of the random-pixel data set")
    parser.add_argument("--quick", action="store_true", help="small sizes, for testing the script")
    parser.add_argument("--tweedie", default=DEFAULT_TWEEDIE, help=f"the CLI (default {DEFAULT_TWEEDIE})")
    parser.add_argument("--work", help="directory for the .npy/.npz files (default: a temporary one, removed)")
    args = parser.parse_args()
    count = args.count or (8 if args.quick else 256)
    items = args.items or (1000 if args.quick else 50000)
    k = min(args.k or (250 if args.quick else 2048), items)

    import faiss
    import sklearn
    import torch

    torch.set_num_threads(2)
    python = sys.executable
    if python.startswith(os.getcwd() + os.sep):
        python = os.path.relpath(python)
    print(f"$ {shlex.join([python] + sys.argv)}")
    print()
    print(f"{os.cpu_count()} cores; numpy {np.__version__} (its BLAS on all cores), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads), "
          f"scikit-learn {sklearn.__version__}; tweedie: {args.tweedie}")
    if args.quick:
        print("QUICK MODE: sizes for testing the script, not figures")
    print()

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="tweedie-dataset-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        report(args, work, count, items, k, torch, faiss)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def report(args, work, count, items, k, torch, faiss):
    sigmas = edm_sigmas()
    z = np.random.default_rng(args.seed).standard_normal((count, D))
    init = work / "z.npy"
    np.save(init, z)
    x0 = SIGMA_MAX * z

    rate64 = gemm_rate(np.float64, 1 if args.quick else 3)
    rate32 = gemm_rate(np.float32, 1 if args.quick else 3)
    flops_call = 4.0 * items * D * count
    calls = 2 * STEPS - 1
    bound = calls * flops_call / rate64

    datasets = [("photo patches (real, scikit-learn's sample images)", "patches", lambda: photo_patches(items)),
                ("random pixels (synthetic)", "random", lambda: random_pixels(items, args.seed))]
    rows, details = [], []
    for label, stem, make in datasets:
        pixels, how = make()
        npy, npz = work / f"{stem}.npy", work / f"{stem}.npz"
        np.save(npy, pixels)
        run([args.tweedie, "dataset", "import", str(npy), "--out", str(npz), "--scale", "edm"])
        data = model_values(npz)
        span = float(data.max() - data.min())
        details.append(f"- {label}: N = {items}, D = {D} ({how}); values in [{data.min():g}, {data.max():g}]")
        print(f"{label}: {how}", flush=True)

        progress(f"{label}: Tweedie exact, then pruned")
        exact = tweedie_sample(args.tweedie, str(npz), str(init), str(work / f"{stem}-exact.npy"), count)
        pruned = tweedie_sample(args.tweedie, str(npz), str(init), str(work / f"{stem}-pruned.npy"), count,
                                prune=args.prune)
        for name, r in (("exact", exact), ("pruned", pruned)):
            if r["calls"] != calls:
                raise SystemExit(f"tweedie {name}: {r['calls']} model calls per sample, expected {calls}")
        reference = exact["samples"]

        def delta(samples):
            return float(np.abs(np.asarray(samples, dtype=np.float64).reshape(count, -1) - reference).max()) / span

        def elsewhere(samples):
            """Samples that end more than 1e-3 of the range from Tweedie exact's (on another item)."""
            d = np.abs(np.asarray(samples, dtype=np.float64).reshape(count, -1) - reference).max(axis=1) / span
            return f"{int((d > 1e-3).sum())} of {count} samples end elsewhere"

        # numpy float64: agreement with Tweedie exact along the whole trajectory of a few samples
        # (the grid and every state, not only the end, which snaps onto a training item), before
        # anything of numpy's is timed; then the timed run, checked again on every sample.
        progress(f"{label}: numpy float64, the agreement check then the timed run")
        numpy_denoiser = NumpyExact(data)
        c = min(CHECK_SAMPLES, count)
        check_init = work / "z-check.npy"
        np.save(check_init, z[:c])
        times, states = tweedie_trajectory(args.tweedie, str(npz), check_init, work, stem)
        grid_delta = float(np.abs(times / sigmas[:-1] - 1).max())
        if not grid_delta <= 1e-12:
            raise SystemExit(f"the EDM grid here differs from Tweedie's by {grid_delta:.3g} (relative)")
        mine = []
        heun(numpy_denoiser, x0[:c].copy(), sigmas, trajectory=mine)
        check_delta = float(np.abs(np.stack(mine) - states).max()) / span
        if not check_delta <= CHECK_TOLERANCE:
            raise SystemExit(f"{label}: numpy float64 differs from Tweedie exact by {check_delta:.3g} of the range "
                             f"along the trajectories of the first {c} samples (tolerance {CHECK_TOLERANCE:g}): "
                             "not timing")
        details.append(f"  - numpy float64 against Tweedie exact before timing: the {STEPS + 1} states of the first "
                       f"{c} samples within {check_delta:.1e} of the range; the grids within {grid_delta:.1e} "
                       "(relative)")
        counted = Counted(numpy_denoiser)
        numpy_samples, numpy_time = timed(lambda: heun(counted, x0.copy(), sigmas))
        assert counted.calls == calls
        numpy_delta = delta(numpy_samples)
        if not numpy_delta <= CHECK_TOLERANCE:
            raise SystemExit(f"{label}: numpy float64 differs from Tweedie exact by {numpy_delta:.3g} of the range")

        progress(f"{label}: torch float32, then faiss top-{k}")
        data32 = data.astype(np.float32)
        with torch.inference_mode():
            counted = Counted(TorchCdist(torch, data32))
            x32 = torch.from_numpy(x0.astype(np.float32))
            torch_samples, torch_time = timed(lambda: heun(counted, x32, sigmas))
            assert counted.calls == calls
            torch_samples = torch_samples.numpy()

            faiss_denoiser = FaissTopK(faiss, torch, data32, k)
            counted = Counted(faiss_denoiser)
            faiss_samples, faiss_time = timed(lambda: heun(counted, x0.copy(), sigmas))
            assert counted.calls == calls

        t0 = exact["time"]
        def share(seconds):
            return f"{100 * bound / seconds:.0f}% of the float64 GEMM bound"
        rows += [
            (label, "Tweedie exact (Float64)", t0, 0.0,
             f"the CLI's wall time (sampling); whole process {exact['process']:.2f} s with load and report; "
             + share(t0)),
            (label, f"Tweedie pruned (--prune {number(args.prune)})", pruned["time"], delta(pruned["samples"]),
             f"exact/pruned = {t0 / pruned['time']:.2f}×; certified (below); whole process "
             f"{pruned['process']:.2f} s; {elsewhere(pruned['samples'])}; {share(pruned['time'])}"),
            (label, "numpy float64 (Gram form, blocks of 4096, log-sum-exp)", numpy_time, numpy_delta,
             f"{elsewhere(numpy_samples)}; {share(numpy_time)}"),
            (label, "torch float32 cdist + softmax (2 threads)", torch_time, delta(torch_samples),
             f"{elsewhere(torch_samples)}; {share(torch_time)}"),
            (label, f"faiss IndexFlatL2 top-{k} + softmax over k", faiss_time, delta(faiss_samples),
             f"search {100 * faiss_denoiser.search_time / faiss_time:.0f}% of the time"
             + ("; k = N: no truncation" if k >= items else f"; softmax over {k} of {items}")
             + f"; {elsewhere(faiss_samples)}; {share(faiss_time)}"),
        ]
        details.append(f"  - Tweedie pruned: {pruned['certified'] or '(no pruning certified line)'}")

    print()
    print(f"EDM Heun, 18 steps ({calls} denoiser calls), {count} samples, N = {items} items of D = {D} "
          f"(CIFAR-10's shape), from the same x = 80 z; one run each, set-up not timed.")
    print()
    print("| data set | method | time | samples/s | vs Tweedie exact | max \\|Δ\\| vs Tweedie exact | note |")
    print("|---|---|---|---|---|---|---|")
    for label, method, seconds, d, note in rows:
        exact_time = next(r[2] for r in rows if r[0] == label and r[1].startswith("Tweedie exact"))
        ratio = "1.00×" if method.startswith("Tweedie exact") else f"{seconds / exact_time:.2f}× the time"
        dtext = "—" if method.startswith("Tweedie exact") else f"{d:.1e}"
        print(f"| {label} | {method} | {fmt_time(seconds)} | {count / seconds:.1f} | {ratio} | {dtext} | {note} |")
    print()
    print(f"GEMM rate of numpy float64 (4096×{D} · {D}×4096, best of {1 if args.quick else 3}): "
          f"{rate64 / 1e9:.1f} GFLOP/s (float32: {rate32 / 1e9:.1f} GFLOP/s). The exact ideal denoiser needs "
          f"4·N·D·B = {flops_call / 1e9:.1f} GFLOP a call, {calls * flops_call / 1e9:.0f} GFLOP for the {calls} "
          f"calls: GEMM bound {fmt_time(bound)} ({count / bound:.1f} samples/s) in float64, "
          f"{fmt_time(calls * flops_call / rate32)} at the float32 rate.")
    print("max |Δ|: the largest coordinate difference from Tweedie's exact samples, relative to the data's range.")
    print()
    for line in details:
        print(line)


if __name__ == "__main__":
    main()
