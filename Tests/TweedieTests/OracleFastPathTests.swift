import Foundation
import Testing
@testable import Tweedie

/// `Oracle.denoise` (the sampler's fast path, which folds back only the denoiser's sums) gives the
/// numbers of `evaluate(...).denoised` bit for bit, for every structure, on both sides of the
/// small-dimension loops, in batches that leave padded rows.
@Suite struct OracleFastPathTests {
    static func spd(_ d: Int, seed: Int) -> Matrix {
        var q = Matrix(rows: d, columns: d)
        for i in 0..<(d * d) { q.elements[i] = sin(Double(i * 7 + seed) * 1.3) }
        return (BLAS.product(q, .none, q, .transpose) / Double(d) + 0.3 * Matrix.identity(d)).symmetrized
    }

    static func models(_ d: Int) throws -> [MixtureModel] {
        let k = 5
        let means = Matrix(rows: k, columns: d, elements: (0..<(k * d)).map { cos(Double($0)) * 3 })
        let weights = [0.1, 0.2, 0.3, 0.15, 0.25]
        let noise = try NoiseCovariance(.full(spd(d, seed: 99)), dimension: d)
        return [
            try MixtureModel(prior: GaussianMixture(weights: weights, means: means, covariances: .full((0..<k).map { spd(d, seed: $0) })),
                             noise: noise),
            try MixtureModel(prior: GaussianMixture(weights: weights, means: means, covariances: .tied(spd(d, seed: 5)))),
            try MixtureModel(prior: GaussianMixture(weights: weights, means: means,
                                                    covariances: .spherical([0.2, 0.5, 1, 2, 0.1]))),
            try MixtureModel(prior: GaussianMixture(weights: weights, means: means, covariances: .dirac), noise: noise),
        ]
    }

    @Test(arguments: [3, 20])
    func denoiseEqualsEvaluate(_ d: Int) throws {
        for model in try Self.models(d) {
            let oracle = try Oracle(model)
            for b in [1, 13, 300] {
                var x = Matrix(rows: b, columns: d)
                for i in 0..<x.elements.count { x.elements[i] = 2 * sin(Double(i) * 0.37) }
                for level in [NoiseLevel(alpha: 0.9, sigma: 0.3), NoiseLevel(alpha: 0.3, sigma: 5)] {
                    let fast = try oracle.denoise(x, at: level)
                    let full = try oracle.evaluate(x, at: level).denoised
                    #expect(fast == full, "\(model.prior.covarianceType) D=\(d) B=\(b) σ=\(level.sigma)")
                }
            }
        }
    }
}
