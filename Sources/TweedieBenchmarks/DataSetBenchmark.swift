import Dispatch
import Foundation
import Tweedie

// The ideal denoiser of a data set at CIFAR-10 scale (K = 50 000, D = 3072): 256 samples with
// heun on the EDM schedule, 18 steps (35 model calls), exact Float64 against certified pruning at
// ε = 1e-8 (each call within 1e-8 ‖x_t‖ of the exact one, certified; docs/math.md §2.8).
//
// Two synthetic sets of CIFAR-10's shape, labelled as such:
// - "image-like": 32×32×3 images with the power spectrum of natural images (DCT coefficients of
//   variance ∝ 1/(1 + u² + v²), channels sharing most of their luminance), scaled to about [-1, 1];
// - "random": independent uniform pixels in [-1, 1], where a low-dimensional screen sees nothing.

/// A CIFAR-shaped data set: `count` images of 32×32×3, rows of 3072 numbers in (H, W, C) order.
func cifarShapedSet(count: Int, imageLike: Bool, seed: UInt64) -> Matrix {
    var rng = Generator(state: seed)
    let side = 32, pixels = side * side, d = 3 * pixels
    if !imageLike {
        return Matrix(rows: count, columns: d, elements: (0..<(count * d)).map { _ in 2 * rng.next() })
    }
    // The 2-D DCT-II basis on 32×32: row (u, v), column (x, y).
    var basis = Matrix(rows: pixels, columns: pixels)
    for u in 0..<side { for v in 0..<side { for x in 0..<side { for y in 0..<side {
        basis[u * side + v, x * side + y] = cos(Double.pi * Double(2 * x + 1) * Double(u) / Double(2 * side))
            * cos(Double.pi * Double(2 * y + 1) * Double(v) / Double(2 * side)) / Double(side)
    } } } }
    let scales = (0..<pixels).map { i -> Double in
        let (u, v) = (Double(i / side), Double(i % side))
        return 6 / (1 + u * u + v * v).squareRoot()
    }
    // Luminance and two weaker chroma fields per image, each with the 1/f amplitude spectrum.
    func field(_ weight: Double) -> Matrix {
        var c = Matrix(rows: count, columns: pixels)
        for r in 0..<count {
            for i in 0..<pixels { c.elements[r * pixels + i] = weight * scales[i] * 3.46 * rng.next() }
        }
        return BLAS.product(c, basis)
    }
    let luminance = field(1), red = field(0.3), blue = field(0.3)
    var images = Matrix(rows: count, columns: d)
    for r in 0..<count {
        for p in 0..<pixels {
            let l = luminance.elements[r * pixels + p]
            let channels = [l + red.elements[r * pixels + p], l, l + blue.elements[r * pixels + p]]
            for c in 0..<3 { images.elements[r * d + 3 * p + c] = max(-1, min(1, channels[c])) }
        }
    }
    return images
}

/// One denoiser call of 256 points of p_t at each σ of the EDM grid: exact against pruned.
@MainActor func perLevelTable(_ model: MixtureModel, gemmRate: Double) throws {
    let oracle = try Oracle(model)
    let pruned = try PrunedDataSetDenoiser(oracle, tolerance: 1e-8)
    let (k, d, b) = (model.componentCount, model.dimension, 256)
    var rng = Generator(state: 5)
    let path = try SamplerConfiguration(parsing: "heun").path(schedule: Schedule.named("edm"), grid: nil, steps: 18)
    print(String(format: "K = %d, D = %d; 1%% quantile of the distances between atoms: %.4g", k, d, pruned.typicalGap))
    print("")
    print("| σ | exact | of GEMM bound | pruned | pairs weighed | exact points | bound / ‖x_t‖ |")
    print("|---|---|---|---|---|---|---|")
    for level in path.levels {
        var x = Matrix(rows: b, columns: d)
        for i in 0..<b {
            let atom = (i * 7919) % k
            for j in 0..<d {
                x.elements[i * d + j] = level.alpha * model.prior.means[atom, j] + level.sigma * 3.46 * rng.next()
            }
        }
        let exact = time { _ = try! oracle.denoise(x, at: level) }
        var certified: PrunedDataSetDenoiser.Certified?
        let fast = time { certified = try! pruned.denoiseCertified(x, at: level) }
        let c = certified!
        let kept = zip(c.keptCounts, c.answeredExactly).filter { !$0.1 }.map(\.0).reduce(0, +)
        let prunedPoints = c.answeredExactly.filter { !$0 }.count
        let norms = (0..<b).map { i in (0..<d).reduce(0.0) { $0 + x[i, $1] * x[i, $1] }.squareRoot() }
        let relative = zip(c.errorBounds, norms).map { $0 / $1 }.max() ?? 0
        let bound = 4 * Double(k * d * b) / gemmRate
        print(String(format: "| %.4g | %.1f ms | %.0f%% | %.1f ms | %.3g%% | %d | %.1e |", level.sigma,
                     exact.median * 1e3, 100 * bound / exact.median, fast.median * 1e3,
                     100 * Double(kept) / Double(max(prunedPoints, 1) * k), b - prunedPoints, relative))
    }
    print("")
}

@MainActor func dataSetBenchmark(gemmRate: Double) throws {
    let count = quick ? 5000 : 50_000
    let samples = 256
    if CommandLine.arguments.contains("--levels") {
        let data = cifarShapedSet(count: count, imageLike: true, seed: 11)
        let prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(count), count: count),
                                        means: data, covariances: .dirac)
        try perLevelTable(try MixtureModel(prior: prior), gemmRate: gemmRate)
        return
    }
    print("## The ideal denoiser at CIFAR-10 scale (K = \(count), D = 3072; heun, edm, 18 steps, \(samples) samples)")
    print("")
    print("| set | run | time | samples/s | calls | pruned calls: share of pairs weighed | certified bound | "
          + "exact / pruned |")
    print("|---|---|---|---|---|---|---|---|")
    for imageLike in [true, false] {
        let data = cifarShapedSet(count: count, imageLike: imageLike, seed: imageLike ? 11 : 12)
        let prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(count), count: count),
                                        means: data, covariances: .dirac)
        let model = try MixtureModel(prior: prior, shape: [32, 32, 3],
                                     name: imageLike ? "image-like (synthetic)" : "random (synthetic)")
        var times: [Double] = []
        for prune in [nil, 1e-8] as [Double?] {
            let request = SampleRequest(sampler: try SamplerConfiguration(parsing: "heun"), schedule: "edm",
                                        steps: 18, count: samples, seed: 1, batchSize: samples, prune: prune)
            let setupStart = DispatchTime.now().uptimeNanoseconds
            let setup = try request.prepare(model: model)
            let setupTime = Double(DispatchTime.now().uptimeNanoseconds - setupStart) * 1e-9
            let start = DispatchTime.now().uptimeNanoseconds
            let run = try setup.run()
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            times.append(elapsed)
            let flops = 4 * Double(count) * 3072 * Double(samples) * Double(run.batchedModelCalls)
            var pruning = "—", bound = "exact"
            if let c = setup.certificates?.summary {
                pruning = String(format: "%.3g%% (%d of %d point-calls exact)",
                                 100 * c.keptPairs / max(c.prunedPairs, 1), c.exactPoints, c.points)
                bound = String(format: "%.2e ‖x_t‖ (mass %.1e)", c.largestRelativeErrorBound, c.largestNeglectedMass)
            }
            let ratio = times.count == 2 ? String(format: "%.2f×", times[0] / times[1]) : ""
            let runName = prune == nil ? String(format: "exact Float64 (%.0f%% of the GEMM bound)",
                                                100 * flops / gemmRate / elapsed)
                : String(format: "pruned, ε = 1e-8 (set-up %.2f s)", setupTime)
            print("| \(model.name!) | \(runName) | \(String(format: "%.1f s", elapsed)) | "
                  + "\(String(format: "%.2f", Double(samples) / elapsed)) | \(run.batchedModelCalls) | \(pruning) | "
                  + "\(bound) | \(ratio) |")
        }
    }
    print("")
}
