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
    print("GEMM rate, \(rows)×192 · 192×192: one core \(String(format: "%.1f", one)) GFLOP/s, \(threads) cores \(String(format: "%.1f", both)) GFLOP/s")
}
let tileRate192 = rates.map(\.2).max()!
print("reference (best, all cores): \(String(format: "%.1f", tileRate192)) GFLOP/s")
print("")

struct Row { let name: String; let b: Int; let k: Int; let d: Int; let flops: Double; let t: (median: Double, best: Double) }
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
    print("| \(r.name) | \(r.b) | \(r.k) | \(r.d) | \(String(format: "%.2f ms", r.t.median * 1e3)) (best \(String(format: "%.2f", r.t.best * 1e3))) | \(String(format: "%.3g", pairs / r.t.median)) | \(String(format: "%.1f", gflops)) | \(String(format: "%.0f%%", 100 * gflops / tileRate192)) |")
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
    let plain = time { _ = try! HeunSampler().run(count: count, model: oracle, path: path, noise: NoiseStream(seed: 1)) }
    let carried = time { _ = try! SamplerOutputDensity(model: model, sampler: HeunSampler(), path: path, count: count, seed: 1) }
    print("| \(d) | \(String(format: "%.2f µs", plain.median / calls * 1e6)) | \(String(format: "%.2f µs", carried.median / calls * 1e6)) | \(String(format: "%.1f×", carried.median / plain.median)) |")
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
    print("oracle.denoise, B = 16, D = 2, K = 8: \(String(format: "%.2f µs", small.median / Double(calls) * 1e6)) per call (best \(String(format: "%.2f", small.best / Double(calls) * 1e6)))")
    let path = try SamplingPath.make(.karras, schedule: .edm(), steps: 18)
    for batch in [256, 4096] {
        let run = time { _ = try! HeunSampler().run(count: 200_000, model: oracle, path: path, noise: NoiseStream(seed: 1), batchSize: batch) }
        print("heun, 18 steps, 200000 samples of ring8, batch \(batch): \(String(format: "%.3f s", run.median)) (best \(String(format: "%.3f", run.best)))")
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
                             xLabel: "work relative to B = 512, K = 8, D = 64 (B, K, D² ratios)", yLabel: "time per call (s)")
    for (label, p) in series { chart.series.append(.init(label: label, points: p)) }
    let start = series[0].1[0].y
    chart.series.append(.init(label: "linear scaling (slope 1)", points: [SIMD2(1, start), SIMD2(16, 16 * start)],
                              color: "#7f7f7f", isDashed: true))
    chart.caption = ["Full Λ_k and full Σ, α = σ = 0.7, median of \(repeats) calls after a warm-up; this machine, "
                     + "\(threads) cores. Log-log axes: a slope of 1 is time proportional to the work B K D²."]
    let url = URL(fileURLWithPath: "docs/scaling.svg")
    if FileManager.default.fileExists(atPath: "docs") { try? chart.write(to: url); print("  wrote docs/scaling.svg") }
}
