// Oracle throughput benchmarks (issue: foundation). Run with
//   swift run -c release tweedie-benchmarks [--quick]
// Each figure is the median (and best) of several timed runs after one warm-up. The GEMM rate
// of this machine is measured in the same run, so each oracle figure reads as a fraction of
// what BLAS can do.
import Dispatch
import Foundation
import Tweedie

let quick = CommandLine.arguments.contains("--quick")
let repeats = quick ? 3 : 7

func time(_ body: () -> Void) -> (median: Double, best: Double) {
    body()  // warm-up
    var times: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    times.sort()
    return (times[times.count / 2], times[0])
}

struct Generator {
    var state: UInt64
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) * 0x1p-53 - 0.5
    }
    mutating func matrix(_ r: Int, _ c: Int) -> Matrix {
        Matrix(rows: r, columns: c, elements: (0..<(r * c)).map { _ in next() })
    }
    mutating func spd(_ n: Int) -> Matrix {
        let a = matrix(n, n)
        var s = BLAS.product(a, .none, a, .transpose)
        for i in 0..<n { s[i, i] += 0.5 }
        return s.symmetrized
    }
}

var rng = Generator(state: 42)
let threads = ProcessInfo.processInfo.activeProcessorCount
print("Tweedie oracle benchmarks — \(threads) cores, OpenBLAS core \(openBLASCoreName())")
print("")

// 1. GEMM rate for the shape of the oracle's hot loop: a tile of rows times a D×D basis,
//    one sequence of calls per core (as the oracle runs), and on one core alone.
func gemmRate(rows: Int, d: Int) -> Double {
    var rng = Generator(state: 7)
    let a = rng.matrix(rows, d), u = rng.matrix(d, d)
    let calls = max(1, Int(2e9 / (2 * Double(rows * d * d))))
    let work = Double(calls) * 2 * Double(rows * d * d) * Double(threads)
    // One piece per core, each its own sequence of GEMMs (as the oracle's tiles run).
    let t = time {
        Parallel.forEach(threads) { _ in  // with maximumThreads = 1 the pieces run one after another
            var c = [Double](repeating: 0, count: rows * d)
            a.elements.withUnsafeBufferPointer { pa in u.elements.withUnsafeBufferPointer { pu in
                c.withUnsafeMutableBufferPointer { pc in
                    for _ in 0..<calls {
                        BLAS.gemm(m: rows, n: d, k: d, a: pa.baseAddress!, lda: d, b: pu.baseAddress!, ldb: d,
                                  c: pc.baseAddress!, ldc: d)
                    }
                }
            } }
        }
    }
    return work / t.median / 1e9
}
// The reference is the best of the tile shapes the oracle uses (64 and 256 rows).
let rates = [64, 256].map { rows -> (Int, Double, Double) in
    let both = gemmRate(rows: rows, d: 192)
    let saved = Parallel.maximumThreads
    Parallel.maximumThreads = 1
    let one = gemmRate(rows: rows, d: 192)
    Parallel.maximumThreads = saved
    return (rows, one, both)
}
for (rows, one, both) in rates {
    print("GEMM rate, \(rows)×192 · 192×192: one core \(String(format: "%.1f", one)) GFLOP/s, "
          + "\(threads) cores \(String(format: "%.1f", both)) GFLOP/s")
}
let tileRate192 = rates.map(\.2).max()!
print("reference (best, all cores): \(String(format: "%.1f", tileRate192)) GFLOP/s")
print("")
// `--dataset`: the ideal denoiser at CIFAR-10 scale, exact and pruned (DataSetBenchmark.swift), alone.
if CommandLine.arguments.contains("--dataset") {
    try dataSetBenchmark(gemmRate: tileRate192 * 1e9)
    exit(0)
}

// Every field against the denoiser alone (docs/math.md §3.4), and each against its physical limit:
// `evaluate` (log p_t, responsibilities, score, E[ε], tr(ΣH)) should cost little more than
// `denoise` on the same call. Queries are points of p_t, x_t = α x_0 + σ R z with x_0 from the
// model's data (and, for data sets, points far out or independent of the data). The bound of a
// call is its least arithmetic at this machine's rates, measured in the same run: the GEMM flops
// per (point, component) at the GEMM rate where products dominate, or the exponentials per
// (point, component) at glibc's exp throughput where they do (small D, shared bases).
struct EvaluateCase {
    let name: String, oracle: Oracle, x: Matrix, level: NoiseLevel
    /// Bounds of one call, in seconds, for `denoise` and `evaluate`, and what sets them.
    let bounds: (denoise: Double, evaluate: Double, limit: String)
}

/// glibc's exp on all cores, exponentials per second (the best of the timed runs).
func expRate() -> Double {
    let count = 1 << 22
    let arguments = (0..<count).map { -40 * Double($0) / Double(count) }
    let t = time {
        Parallel.forEach(threads) { piece in
            var sum = 0.0
            for i in stride(from: piece, to: count, by: threads) { sum += exp(arguments[i]) }
            if sum == 42 { print("") }  // keeps the loop
        }
    }
    return Double(count) / t.best
}

@MainActor func evaluateAgainstDenoise(gemmRate: Double) throws {
    func uniformData(_ k: Int, _ d: Int) -> Matrix {  // synthetic, in [-1, 1] as image data scaled for EDM
        var m = rng.matrix(k, d)
        for i in m.elements.indices { m.elements[i] *= 2 }
        return m
    }
    func queries(_ data: Matrix, count b: Int, alpha: Double, sigma: Double, scale: Double = 1) -> Matrix {
        var x = Matrix(rows: b, columns: data.columns)
        for r in 0..<b {
            let source = (r * 7919) % data.rows
            for i in 0..<data.columns { x[r, i] = scale * (alpha * data[source, i] + sigma * 3.4641 * rng.next()) }
        }
        return x
    }
    let exps = expRate()
    /// Bounds from flops (GEMM) or exponentials per (point, component).
    func gemm(_ b: Int, _ k: Int, denoise: Double, evaluate: Double) -> (Double, Double, String) {
        let pairs = Double(b * k)
        return (pairs * denoise / gemmRate, pairs * evaluate / gemmRate, "GEMM")
    }
    func exponentials(_ b: Int, _ k: Int, denoise: Double, evaluate: Double) -> (Double, Double, String) {
        let pairs = Double(b * k)
        return (pairs * denoise / exps, pairs * evaluate / exps, "exp")
    }
    var cases: [EvaluateCase] = []
    let level = NoiseLevel(alpha: 0.8, sigma: 0.6)
    let data = uniformData(20000, 784)
    let identity = try MixtureModel(prior: GaussianMixture(weights: [Double](repeating: 1.0 / 20000, count: 20000),
                                                            means: data, covariances: .dirac))
    let x = queries(data, count: 256, alpha: 0.8, sigma: 0.6)
    // Σ = I: 2D flops for the distances and 2D for the sums of μ, for both calls.
    let setBound = gemm(256, 20000, denoise: 4 * 784, evaluate: 4 * 784)
    cases.append(EvaluateCase(name: "data set, Σ = I, K = 20000, D = 784, B = 256, points of p_t",
                              oracle: try Oracle(identity), x: x, level: level, bounds: setBound))
    cases.append(EvaluateCase(name: "  the same, points 100× farther out", oracle: try Oracle(identity),
                              x: queries(data, count: 256, alpha: 0.8, sigma: 0.6, scale: 100), level: level,
                              bounds: setBound))
    // Float32: the denoiser's products at twice the rate; evaluate stays Float64.
    cases.append(EvaluateCase(name: "  the same, Float32 oracle", oracle: try Oracle(identity, precision: .float32),
                              x: x, level: level, bounds: (setBound.0 / 2, setBound.1, "GEMM")))
    // The case that was 18× slower than the denoiser (the divergence's old second pass): data with
    // unit-variance coordinates and query points drawn independently of it, N(0, I) (not points of p_t).
    var gaussian = rng.matrix(20000, 784)
    for i in gaussian.elements.indices { gaussian.elements[i] *= 3.4641 }
    let gaussianModel = try MixtureModel(prior: GaussianMixture(weights: [Double](repeating: 1.0 / 20000, count: 20000),
                                                                means: gaussian, covariances: .dirac))
    var standard = rng.matrix(256, 784)
    for i in standard.elements.indices { standard.elements[i] *= 3.4641 }
    cases.append(EvaluateCase(name: "data set, Σ = I, points of N(0, I) independent of the data",
                              oracle: try Oracle(gaussianModel), x: standard, level: level, bounds: setBound))
    let small = uniformData(5000, 256)
    let correlated = try MixtureModel(prior: GaussianMixture(weights: [Double](repeating: 1.0 / 5000, count: 5000),
                                                              means: small, covariances: .dirac),
                                      noise: NoiseCovariance(.full(rng.spd(256)), dimension: 256))
    // Correlated Σ: the sums carry [μ | ν], 2D + 4D flops.
    cases.append(EvaluateCase(name: "data set, full Σ, K = 5000, D = 256, B = 256", oracle: try Oracle(correlated),
                              x: queries(small, count: 256, alpha: 0.8, sigma: 0.6), level: level,
                              bounds: gemm(256, 5000, denoise: 6 * 256, evaluate: 6 * 256)))
    let d = 192, k = 32
    let full = try MixtureModel(prior: GaussianMixture(weights: [Double](repeating: 1.0 / Double(k), count: k),
                                                        means: rng.matrix(k, d),
                                                        covariances: .full((0..<k).map { _ in rng.spd(d) })),
                                noise: NoiseCovariance(.full(rng.spd(d)), dimension: d))
    // Full Λ_k: z_k = U_kᵀ(y − αν_k) and the fold-back, 4D²; evaluate adds the score's fold-back, 6D².
    cases.append(EvaluateCase(name: "full Λ_k, full Σ, K = 32, D = 192, B = 4096", oracle: try Oracle(full),
                              x: rng.matrix(4096, d), level: NoiseLevel(alpha: 0.7, sigma: 0.7),
                              bounds: gemm(4096, k, denoise: 4 * Double(d * d), evaluate: 6 * Double(d * d))))
    let variances = Matrix(rows: 64, columns: 64, elements: (0..<4096).map { _ in 0.6 + rng.next() })
    let diagonal = try MixtureModel(prior: GaussianMixture(weights: [Double](repeating: 1.0 / 64, count: 64),
                                                            means: rng.matrix(64, 64),
                                                            covariances: .diagonal(variances)))
    // Shared basis (U = I): element-wise work per pair, at least 4D flops (6D with the score's sums),
    // bounded by the machine's FMA rate (the GEMM rate).
    let elementwise = gemm(4096, 64, denoise: 4 * 64, evaluate: 6 * 64)
    cases.append(EvaluateCase(name: "diagonal Λ_k, Σ = I, K = 64, D = 64, B = 4096", oracle: try Oracle(diagonal),
                              x: rng.matrix(4096, 64), level: NoiseLevel(alpha: 0.7, sigma: 0.7),
                              bounds: (elementwise.0, elementwise.1, "FMA rate")))
    // Small D: one exponential per pair; evaluate, two (responsibilities).
    cases.append(EvaluateCase(name: "ring8 (D = 2, K = 8), B = 4096", oracle: try Oracle(BuiltinModels.ring8()),
                              x: rng.matrix(4096, 2), level: NoiseLevel(alpha: 1, sigma: 0.7),
                              bounds: exponentials(4096, 8, denoise: 1, evaluate: 2)))
    print(String(format: "Every field against the denoiser alone, and each against its bound (GEMM %.1f GFLOP/s, "
                 + "exp %.0f M/s on %d cores; median of %d calls after a warm-up):", gemmRate / 1e9, exps / 1e6,
                 threads, repeats))
    print("")
    print("| workload | denoise | of bound | evaluate | of bound | bound set by | evaluate / denoise |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for c in cases {
        let denoise = time { _ = try! c.oracle.denoise(c.x, at: c.level) }
        let evaluate = time { _ = try! c.oracle.evaluate(c.x, at: c.level) }
        func ms(_ t: (median: Double, best: Double)) -> String {
            String(format: "%.1f ms (best %.1f)", t.median * 1e3, t.best * 1e3)
        }
        func share(_ bound: Double, _ t: (median: Double, best: Double)) -> String {
            String(format: "%.0f%%", 100 * bound / t.median)
        }
        let ratio = String(format: "%.2f× (best %.2f×)", evaluate.median / denoise.median, evaluate.best / denoise.best)
        print("| \(c.name) | \(ms(denoise)) | \(share(c.bounds.denoise, denoise)) | \(ms(evaluate)) | "
              + "\(share(c.bounds.evaluate, evaluate)) | \(c.bounds.limit) | \(ratio) |")
    }
    print("")
}
// `--evaluate`: this table alone.
try evaluateAgainstDenoise(gemmRate: tileRate192 * 1e9)
if CommandLine.arguments.contains("--evaluate") { exit(0) }

struct Row {
    let name: String; let b: Int; let k: Int; let d: Int; let flops: Double; let t: (median: Double, best: Double)
}
var rows: [Row] = []

// 2. Full-covariance mixture, D = 192, K = 32, full Σ. Per (point, component): a D×D product
//    for z_k and a 2D×D product for the sums: 6D² flops.
do {
    let d = 192, k = 32
    let covariances = (0..<k).map { _ in rng.spd(d) }
    let prior = try GaussianMixture(weights: [Double](repeating: 1.0 / Double(k), count: k),
                                    means: rng.matrix(k, d), covariances: .full(covariances))
    let model = try MixtureModel(prior: prior, noise: NoiseCovariance(.full(rng.spd(d)), dimension: d))
    var oracle: Oracle?
    let setup = time { oracle = try! Oracle(model) }
    print("set-up (whitening + \(k) eigendecompositions, D=\(d)): \(String(format: "%.3f", setup.median)) s")
    for b in [4096, 16] {
        let x = rng.matrix(b, d)
        let t = time { _ = try! oracle!.evaluate(x, alpha: 0.7, sigma: 0.7) }
        rows.append(Row(name: "full Λ_k, full Σ", b: b, k: k, d: d, flops: 6 * Double(d * d), t: t))
    }
}

// 3. Dirac mixture (a data set), K = 20000, D = 784, identity Σ. Per (point, component): 2D for
//    the distances and 2D for the sums of μ (with Σ = I, ν = μ is not summed twice).
do {
    let d = 784, k = 20000, b = 256
    let prior = try GaussianMixture(weights: [Double](repeating: 1.0 / Double(k), count: k),
                                    means: rng.matrix(k, d), covariances: .dirac)
    let oracle = try Oracle(MixtureModel(prior: prior))
    let x = rng.matrix(b, d)
    let t = time { _ = try! oracle.evaluate(x, alpha: 0.9, sigma: 0.5) }
    rows.append(Row(name: "Dirac (data set)", b: b, k: k, d: d, flops: 4 * Double(d), t: t))
}

print("")
print("| model | B | K | D | median time | points×components/s | GFLOP/s | of GEMM rate |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows {
    let pairs = Double(r.b * r.k)
    let gflops = pairs * r.flops / r.t.median / 1e9
    print("| \(r.name) | \(r.b) | \(r.k) | \(r.d) | \(String(format: "%.2f ms", r.t.median * 1e3)) "
          + "(best \(String(format: "%.2f", r.t.best * 1e3))) | \(String(format: "%.3g", pairs / r.t.median)) | "
          + "\(String(format: "%.1f", gflops)) | \(String(format: "%.0f%%", 100 * gflops / tileRate192)) |")
}

// 4. The cost of carrying Jacobians (docs/math.md §12.1): heun, 16 steps (31 model calls), 256
//    samples of a K = 4 full-covariance mixture, plain run against the run with each sample's
//    Jacobian, per sample and model call.
print("")
print("Carrying Jacobians (heun, 16 steps = 31 model calls, 256 samples, K = 4 full Λ_k, full Σ):")
print("")
print("| D | plain, per sample per call | with Jacobian, per sample per call | ratio |")
print("|---:|---:|---:|---:|")
for d in quick ? [2, 16] : [2, 8, 16, 32, 64] {
    let k = 4, count = 256
    let covariances = (0..<k).map { _ in rng.spd(d) }
    let prior = try GaussianMixture(weights: [Double](repeating: 1.0 / Double(k), count: k),
                                    means: rng.matrix(k, d), covariances: .full(covariances))
    let model = try MixtureModel(prior: prior, noise: NoiseCovariance(.full(rng.spd(d)), dimension: d))
    let oracle = try Oracle(model)
    let path = try SamplingPath.make(.karras, schedule: .edm(), steps: 16)
    let calls = 31.0 * Double(count)
    let plain = time {
        _ = try! HeunSampler().run(count: count, model: oracle, path: path, noise: NoiseStream(seed: 1))
    }
    let carried = time {
        _ = try! SamplerOutputDensity(model: model, sampler: HeunSampler(), path: path, count: count, seed: 1)
    }
    print("| \(d) | \(String(format: "%.2f µs", plain.median / calls * 1e6)) | "
          + "\(String(format: "%.2f µs", carried.median / calls * 1e6)) | "
          + "\(String(format: "%.1f×", carried.median / plain.median)) |")
}

// 5. Small calls, where per-call overhead and not arithmetic is the cost (issue: small D): the
//    oracle's denoiser on B = 16 points of ring8 (D = 2, K = 8), and heun on 18 steps (35 model
//    calls) for 200 000 samples of ring8 at batch sizes 256 and 4096 (the default at D = 2).
do {
    let oracle = try Oracle(BuiltinModels.ring8())
    let x = rng.matrix(16, 2)
    let level = NoiseLevel(alpha: 1, sigma: 0.7)
    let calls = 2000
    let small = time { for _ in 0..<calls { _ = try! oracle.denoise(x, at: level) } }
    print("")
    print("oracle.denoise, B = 16, D = 2, K = 8: \(String(format: "%.2f µs", small.median / Double(calls) * 1e6)) "
          + "per call (best \(String(format: "%.2f", small.best / Double(calls) * 1e6)))")
    let path = try SamplingPath.make(.karras, schedule: .edm(), steps: 18)
    for batch in [256, 4096] {
        let run = time {
            _ = try! HeunSampler().run(count: 200_000, model: oracle, path: path, noise: NoiseStream(seed: 1),
                                       batchSize: batch)
        }
        print("heun, 18 steps, 200000 samples of ring8, batch \(batch): \(String(format: "%.3f s", run.median)) "
              + "(best \(String(format: "%.3f", run.best)))")
    }
}

// 6. Scaling (full runs only): the denoiser of a full-covariance mixture (full Σ) against B, K
//    and D, one at a time from B = 512, K = 8, D = 64, as time against the growth of the work
//    (B/B₀, K/K₀ and (D/D₀)², the flops scaling as B K D²). Linear scaling is a line of slope 1.
//    Written to docs/scaling.svg when run from the repository root.
if !quick {
    func mixture(k: Int, d: Int) throws -> Oracle {
        let prior = try GaussianMixture(weights: [Double](repeating: 1.0 / Double(k), count: k),
                                        means: rng.matrix(k, d), covariances: .full((0..<k).map { _ in rng.spd(d) }))
        return try Oracle(MixtureModel(prior: prior, noise: NoiseCovariance(.full(rng.spd(d)), dimension: d)))
    }
    let level = NoiseLevel(alpha: 0.7, sigma: 0.7)
    var series: [(String, [SIMD2<Double>])] = []
    print("")
    print("Scaling of the denoiser (full Λ_k and Σ), from B = 512, K = 8, D = 64:")
    var points: [SIMD2<Double>] = []
    let base = try mixture(k: 8, d: 64)
    for b in [512, 1024, 2048, 4096, 8192] {
        let x = rng.matrix(b, 64)
        let t = time { _ = try! base.denoise(x, at: level) }
        points.append(SIMD2(Double(b) / 512, t.median))
        print("  B = \(b): \(String(format: "%.2f ms", t.median * 1e3))")
    }
    series.append(("B (K = 8, D = 64)", points))
    points = []
    let x512 = rng.matrix(512, 64)
    for k in [8, 16, 32, 64, 128] {
        let oracle = try mixture(k: k, d: 64)
        let t = time { _ = try! oracle.denoise(x512, at: level) }
        points.append(SIMD2(Double(k) / 8, t.median))
        print("  K = \(k): \(String(format: "%.2f ms", t.median * 1e3))")
    }
    series.append(("K (B = 512, D = 64)", points))
    points = []
    for d in [64, 96, 128, 192, 256] {
        let oracle = try mixture(k: 8, d: d)
        let x = rng.matrix(512, d)
        let t = time { _ = try! oracle.denoise(x, at: level) }
        points.append(SIMD2(Double(d * d) / Double(64 * 64), t.median))
        print("  D = \(d): \(String(format: "%.2f ms", t.median * 1e3))")
    }
    series.append(("D (B = 512, K = 8), against (D/64)²", points))
    var chart = SVGLineChart(title: "Tweedie's denoiser: time against the size of the work",
                             xLabel: "work relative to B = 512, K = 8, D = 64 (B, K, D² ratios)",
                             yLabel: "time per call (s)")
    for (label, p) in series { chart.series.append(.init(label: label, points: p)) }
    let start = series[0].1[0].y
    chart.series.append(.init(label: "linear scaling (slope 1)", points: [SIMD2(1, start), SIMD2(16, 16 * start)],
                              color: "#7f7f7f", isDashed: true))
    chart.caption = ["Full Λ_k and full Σ, α = σ = 0.7, median of \(repeats) calls after a warm-up; this machine, "
                     + "\(threads) cores. Log-log axes: a slope of 1 is time proportional to the work B K D²."]
    let url = URL(fileURLWithPath: "docs/scaling.svg")
    if FileManager.default.fileExists(atPath: "docs") { try? chart.write(to: url); print("  wrote docs/scaling.svg") }
}
