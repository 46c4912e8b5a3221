import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle

/// What the approximate ideal denoisers of the literature drop, measured against the exact one
/// (docs/math.md §2.9): for a data set p_0 = Σ_k π_k δ(x − μ_k) and points x_t of p_t at each noise
/// level,
///
/// - **top-k truncation** (the k nearest atoms only, renormalized; k = 2000 or 2048 in published
///   codes): the posterior mass it neglects, Σ_{k ∉ top} r_k, and the error of its denoiser,
///   ‖x̂_top − x̂_0‖;
/// - **single-precision distances** (a Float32 `cdist` in the Gram form, then a Float32 softmax and
///   weighted sum, as in published memorization code): the total-variation distance of its weights
///   from the exact ones, ½Σ_k |r̃_k − r_k|, and the error of its denoiser.
///
/// The neglected mass is summed from the small weights themselves, never as 1 − Σ_top r_k, so it is
/// exact down to the smallest normal number; x̂_top − x̂_0 is formed as m x̂_top − Σ_{k∉top} r_k μ_k
/// (m the neglected mass), which cannot cancel.
public struct TruncationStudy: Sendable {
    /// Mean and largest value of a figure over the points of one level.
    public struct Figure: Sendable, Equatable {
        public let mean: Double
        public let largest: Double

        init(_ values: [Double]) {
            mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
            largest = values.max() ?? 0
        }
    }

    /// One noise level's figures.
    public struct Level: Sendable {
        public let level: NoiseLevel
        /// The neglected posterior mass of each top-k truncation, in the order of ``TruncationStudy/ks``.
        public let neglectedMass: [Figure]
        /// ‖x̂_top − x̂_0‖ of each top-k truncation.
        public let truncationError: [Figure]
        /// ½Σ|r̃_k − r_k| of the single-precision weights.
        public let singlePrecisionWeightDistance: Figure
        /// ‖x̃_0 − x̂_0‖ of the single-precision denoiser.
        public let singlePrecisionError: Figure
    }

    public let ks: [Int]
    public let count: Int
    public let levels: [Level]
    /// R = max_k ‖μ_k − μ̄‖, the data's radius (errors read against it).
    public let radius: Double

    /// - Parameters:
    ///   - ks: the truncations (each at least 1; k ≥ K is the exact sum).
    ///   - count: points of p_t per level, x_t = α μ_k + σ z with k drawn from π (seeded).
    public init(model: MixtureModel, levels: [NoiseLevel], ks: [Int], count: Int, seed: UInt64) throws {
        guard case .dirac = model.prior.covariances else {
            throw ArgumentError("model", "the study needs a data set (Dirac components); this model's components "
                                + "are \(model.prior.covarianceType.rawValue)")
        }
        guard model.noise.isIdentity else {
            throw ArgumentError("model", "the study needs Σ = I (the published codes' noise)")
        }
        guard !ks.isEmpty, ks.allSatisfy({ $0 >= 1 }) else {
            throw ArgumentError("k", "each k must be at least 1, got \(ks)")
        }
        guard count >= 1 else { throw ArgumentError("count", "must be at least 1, got \(count)") }
        let (k, d) = (model.componentCount, model.dimension)
        try MemoryBudget.require("count", "the weights of \(count) points over K = \(k) atoms", elements: [count, k, 3])
        try MemoryBudget.require("model", "a Float32 copy of the atoms (K = \(k), D = \(d))", elements: [k, d],
                                 bytesEach: 8)
        let oracle = try Oracle(model)
        let means = model.prior.means
        let atoms32 = means.elements.map { Float($0) }
        var atomsTransposed32 = [Float](repeating: 0, count: k * d)
        for c in 0..<k { for j in 0..<d { atomsTransposed32[j * k + c] = atoms32[c * d + j] } }
        let atomNorms32 = (0..<k).map { c in
            (0..<d).reduce(Float(0)) { $0 + atoms32[c * d + $1] * atoms32[c * d + $1] }
        }
        let centre = means.columnMeans
        radius = (0..<k).map { c in
            (0..<d).reduce(0.0) { $0 + pow(means[c, $1] - centre[$1], 2) }.squareRoot()
        }.max() ?? 0

        var results: [Level] = []
        for (index, level) in levels.enumerated() {
            let x = try model.sampleMarginal(count: count, alpha: level.alpha, sigma: level.sigma,
                                             seed: derivedSeed(seed, purpose: 20 + UInt64(index))).points
            let exact = try oracle.evaluate(x, at: level)
            // Per point: (neglected mass, error) of each truncation, on all cores.
            let perPoint: [[(Double, Double)]] = means.elements.withUnsafeBufferPointer { mu in
                exact.responsibilities.elements.withUnsafeBufferPointer { all in
                    let (mu, all) = (UncheckedSendable(mu), UncheckedSendable(all))
                    return Parallel.array(count: count, chunk: 8) { rows in
                        rows.map { b in
                            Self.truncations(weights: UnsafeBufferPointer(rebasing: all.value[(b * k)..<((b + 1) * k)]),
                                             atoms: mu.value, dimension: d, ks: ks)
                        }
                    }
                }
            }
            let masses = ks.indices.map { i in perPoint.map { $0[i].0 } }
            let errors = ks.indices.map { i in perPoint.map { $0[i].1 } }
            // Single precision, as a Float32 cdist (Gram form), softmax and weighted sum compute it.
            let x32 = x.elements.map { Float($0) }
            var gram = [Float](repeating: 0, count: count * k)
            BLAS.gemm(m: count, n: k, k: d, a: x32, lda: d, b: atomsTransposed32, ldb: k, c: &gram, ldc: k)
            let (alpha32, twoSigma2) = (Float(level.alpha), Float(2 * level.sigma * level.sigma))
            var weights32 = [Float](repeating: 0, count: count * k)
            var distances: [Double] = [], denoiserErrors: [Double] = []
            for b in 0..<count {
                let xNorm = (0..<d).reduce(Float(0)) { $0 + x32[b * d + $1] * x32[b * d + $1] }
                var largest = -Float.infinity
                for c in 0..<k {
                    let dist = max(xNorm - 2 * alpha32 * gram[b * k + c] + alpha32 * alpha32 * atomNorms32[c], 0)
                    weights32[b * k + c] = -dist / twoSigma2
                    largest = max(largest, weights32[b * k + c])
                }
                var total = Float(0)
                for c in 0..<k {
                    weights32[b * k + c] = Foundation.exp(weights32[b * k + c] - largest)
                    total += weights32[b * k + c]
                }
                var tv = 0.0
                for c in 0..<k {
                    weights32[b * k + c] /= total
                    tv += abs(Double(weights32[b * k + c]) - exact.responsibilities[b, c])
                }
                distances.append(tv / 2)
            }
            var denoised32 = [Float](repeating: 0, count: count * d)
            BLAS.gemm(m: count, n: d, k: k, a: weights32, lda: k, b: atoms32, ldb: d, c: &denoised32, ldc: d)
            for b in 0..<count {
                denoiserErrors.append((0..<d).reduce(0.0) { sum, j in
                    let e = Double(denoised32[b * d + j]) - exact.denoised[b, j]
                    return sum + e * e
                }.squareRoot())
            }
            results.append(Level(level: level, neglectedMass: masses.map(Figure.init),
                                 truncationError: errors.map(Figure.init),
                                 singlePrecisionWeightDistance: Figure(distances),
                                 singlePrecisionError: Figure(denoiserErrors)))
        }
        self.ks = ks
        self.count = count
        self.levels = results
    }

    /// The neglected mass and the denoiser's error of each top-k truncation of one point's weights.
    public static func truncations(weights r: UnsafeBufferPointer<Double>, atoms mu: UnsafeBufferPointer<Double>,
                            dimension d: Int, ks: [Int]) -> [(Double, Double)] {
        let k = r.count
        let order = (0..<k).sorted { r[$0] > r[$1] || (r[$0] == r[$1] && $0 < $1) }
        return ks.map { top in
            guard top < k else { return (0, 0) }
            var neglected = 0.0, keptMass = 0.0
            var kept = [Double](repeating: 0, count: d), dropped = kept
            for (rank, c) in order.enumerated() {
                let w = r[c]
                guard w > 0 else { continue }
                let atom = mu.baseAddress! + c * d
                if rank < top {
                    keptMass += w
                    for j in 0..<d { kept[j] += w * atom[j] }
                } else {
                    neglected += w
                    for j in 0..<d { dropped[j] += w * atom[j] }
                }
            }
            // x̂_top − x̂_0 = m x̂_top − Σ_{k∉top} r_k μ_k.
            let error = (0..<d).reduce(0.0) { sum, j in
                let e = neglected * kept[j] / keptMass - dropped[j]
                return sum + e * e
            }.squareRoot()
            return (neglected, error)
        }
    }
}
