import Foundation
import Testing
@testable import Tweedie

/// Tweedie's formula (docs/math.md §3) with the exact oracle: the first-order formula and
/// its inverse reproduce the oracle's denoiser and score, the second-order formula its
/// posterior covariance, and the small-noise posterior converges to the exact one as O(σ⁴).
@Suite struct TweedieFormulaTests {
    static let cases: [(CovarianceType, String)] = [
        (.full, "full"), (.diag, "diagonal"), (.tied, "kronecker"), (.spherical, "identity"), (.dirac, "full"),
    ]

    /// x̂_0 = (x + σ²Σ s)/α with the oracle's score is the oracle's denoiser, and
    /// s = (σ²Σ)⁻¹(α x̂_0 − x) with its denoiser is its score. Tolerance 1e-9 relative.
    @Test(arguments: cases)
    func firstOrderReproducesTheOracle(type: CovarianceType, noise: String) throws {
        let model = try OracleIdentityTests.randomModel(type, noise: noise)
        let oracle = try Oracle(model)
        var rng = TestRandom(seed: 17)
        let x = rng.matrix(6, 4, scale: 1.5)
        for (alpha, sigma) in [(0.9, 0.3), (0.5, 0.8), (1.0, 2.0)] {
            let result = try oracle.evaluate(x, alpha: alpha, sigma: sigma)
            let denoised = try TweedieFormula.denoised(x, score: result.score, alpha: alpha, sigma: sigma, noise: model.noise)
            #expect(isClose(denoised, result.denoised, rtol: 1e-9, atol: 1e-9), "\(type) \(noise) α=\(alpha)")
            let score = try TweedieFormula.score(x, denoised: result.denoised, alpha: alpha, sigma: sigma, noise: model.noise)
            let scale = result.score.elements.map(abs).max()!
            #expect(isClose(score, result.score, rtol: 1e-8, atol: 1e-9 * scale), "\(type) \(noise) α=\(alpha)")
        }
    }

    /// The closure forms with a schedule: denoiser(score:) and scoreFunction(denoiser:) built on
    /// the oracle reproduce the oracle at t.
    @Test func closureFormsFollowTheSchedule() throws {
        let model = try OracleIdentityTests.randomModel(.full, noise: "full")
        let oracle = try Oracle(model)
        let schedule = Schedule.vpCosine()
        let score: ScoreFunction = { x, t in try oracle.evaluate(x, at: t, schedule: schedule).score }
        let denoiser: DenoiserFunction = { x, t in try oracle.evaluate(x, at: t, schedule: schedule).denoised }
        var rng = TestRandom(seed: 3)
        let x = rng.matrix(5, 4)
        for t in [0.1, 0.5, 0.9] {
            let reference = try oracle.evaluate(x, at: t, schedule: schedule)
            let fromScore = try TweedieFormula.denoiser(score: score, schedule: schedule, noise: model.noise)(x, t)
            let fromDenoiser = try TweedieFormula.scoreFunction(denoiser: denoiser, schedule: schedule, noise: model.noise)(x, t)
            #expect(isClose(fromScore, reference.denoised, rtol: 1e-8, atol: 1e-8))
            let scale = reference.score.elements.map(abs).max()!
            #expect(isClose(fromDenoiser, reference.score, rtol: 1e-7, atol: 1e-9 * scale))
        }
        #expect(throws: ScheduleError.self) { try TweedieFormula.denoiser(score: score, schedule: schedule, noise: model.noise)(x, 2) }
    }

    /// Second order with the exact Hessian of a single Gaussian, H = −C⁻¹ (C = α²Λ + σ²Σ):
    /// (σ²/α²)(Σ + σ²ΣHΣ) equals Gaussian conditioning's Λ − α²ΛC⁻¹Λ and the oracle's
    /// posterior covariance. Tolerance 1e-10 relative to ‖Λ‖.
    @Test func secondOrderForAGaussian() throws {
        let (model, _, lambda) = try SDETests.gaussianModel()
        let oracle = try Oracle(model)
        let sigmaMatrix = model.noise.denseMatrix
        let x = Matrix([[0.3, 0.1, -0.5]])
        for (alpha, sigma) in [(0.9, 0.2), (0.6, 0.8), (0.2, 1.5)] {
            let c = ClosedFormSupport.sum(ClosedFormSupport.scaled(lambda, alpha * alpha),
                                          ClosedFormSupport.scaled(sigmaMatrix, sigma * sigma))
            let cInverse = try CholeskyFactor(c).inverse()
            let covariance = try TweedieFormula.posteriorCovariance(hessian: ClosedFormSupport.scaled(cInverse, -1),
                                                                    alpha: alpha, sigma: sigma, noise: model.noise)
            let conditioning = ClosedFormSupport.sum(
                lambda, ClosedFormSupport.scaled(BLAS.product(BLAS.product(lambda, cInverse), lambda), -alpha * alpha))
            let fromOracle = try oracle.evaluate(x, alpha: alpha, sigma: sigma, including: .posteriorCovariance)
                .posteriorCovariance![0]
            let scale = lambda.elements.map(abs).max()!
            #expect(isClose(covariance, conditioning, rtol: 0, atol: 1e-10 * scale), "α=\(alpha) σ=\(sigma)")
            #expect(isClose(covariance, fromOracle, rtol: 0, atol: 1e-10 * scale), "α=\(alpha) σ=\(sigma)")
        }
    }

    /// Second order for mixtures with the Hessian from central differences of the oracle's score
    /// (step 1e-5): matches the oracle's Σ_k r_k(V_k + m_k m_kᵀ) − x̂_0 x̂_0ᵀ. Tolerance 1e-6
    /// relative to the largest entry (the differences' truncation and rounding error).
    @Test(arguments: cases)
    func secondOrderReproducesTheOracle(type: CovarianceType, noise: String) throws {
        let model = try OracleIdentityTests.randomModel(type, noise: noise)
        let oracle = try Oracle(model)
        var rng = TestRandom(seed: 23)
        let x = rng.matrix(3, 4, scale: 1.5)
        let (alpha, sigma) = (0.8, 0.7)
        let reference = try oracle.evaluate(x, alpha: alpha, sigma: sigma, including: .posteriorCovariance)
        for b in 0..<x.rows {
            let hessian = try OracleIdentityTests.scoreJacobian(oracle, at: x.row(b), alpha: alpha, sigma: sigma)
            let covariance = try TweedieFormula.posteriorCovariance(hessian: hessian.symmetrized, alpha: alpha, sigma: sigma,
                                                                    noise: model.noise)
            let expected = reference.posteriorCovariance![b]
            let scale = max(expected.elements.map(abs).max()!, 1e-3)
            #expect(isClose(covariance, expected, rtol: 0, atol: 1e-6 * scale), "\(type) \(noise) row \(b)")
        }
    }

    /// Seed 004's small-noise posterior N(y + σ²Σ∇log p_0(y), σ²Σ) against the exact posterior of
    /// a Gaussian prior N(μ, Λ): mean μ + Λ(Λ + σ²Σ)⁻¹(y − μ), covariance Λ − Λ(Λ + σ²Σ)⁻¹Λ. Both
    /// errors are O(σ⁴): halving σ divides them by 16 (checked within 12–20), and error/σ⁴ stays
    /// bounded.
    @Test func smallNoisePosteriorIsAccurateToFourthOrder() throws {
        let (model, mu, lambda) = try SDETests.gaussianModel()
        let sigmaMatrix = model.noise.denseMatrix
        let lambdaInverse = try CholeskyFactor(lambda).inverse()
        let y = [0.9, -0.6, 1.1]
        // ∇log p_0(y) = −Λ⁻¹(y − μ).
        let score = Matrix(rows: 1, columns: 3, elements: (0..<3).map { i in
            -(0..<3).reduce(0) { $0 + lambdaInverse[i, $1] * (y[$1] - mu[$1]) }
        })
        var errors: [(mean: Double, covariance: Double)] = []
        let sigmas = [0.1, 0.05, 0.025]
        for sigma in sigmas {
            let approximation = try TweedieFormula.smallNoisePosterior(Matrix(rows: 1, columns: 3, elements: y), score: score,
                                                                       sigma: sigma, noise: model.noise)
            let c = ClosedFormSupport.sum(lambda, ClosedFormSupport.scaled(sigmaMatrix, sigma * sigma))
            let gain = BLAS.product(lambda, try CholeskyFactor(c).inverse())
            let exactMean = (0..<3).map { i in mu[i] + (0..<3).reduce(0) { $0 + gain[i, $1] * (y[$1] - mu[$1]) } }
            let exactCovariance = ClosedFormSupport.sum(lambda, ClosedFormSupport.scaled(BLAS.product(gain, lambda), -1))
            let approximateCovariance = ClosedFormSupport.scaled(sigmaMatrix, approximation.variance)
            errors.append((maxAbsDifference(approximation.mean.elements, exactMean),
                           maxAbsDifference(approximateCovariance.elements, exactCovariance.elements)))
        }
        for k in 1..<errors.count {
            let meanRatio = errors[k - 1].mean / errors[k].mean
            let covarianceRatio = errors[k - 1].covariance / errors[k].covariance
            #expect(meanRatio > 12 && meanRatio < 20, "mean error ratio \(meanRatio): \(errors)")
            #expect(covarianceRatio > 12 && covarianceRatio < 20, "covariance error ratio \(covarianceRatio): \(errors)")
        }
        for (sigma, error) in zip(sigmas, errors) {
            #expect(error.mean / pow(sigma, 4) < 100 && error.covariance / pow(sigma, 4) < 100, "σ = \(sigma): \(error)")
        }
    }

    @Test func invalidArguments() throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        let x = Matrix([[1.0, 2.0]])
        #expect(throws: ArgumentError.self) { try TweedieFormula.denoised(x, score: x, alpha: 0, sigma: 1, noise: noise) }
        #expect(throws: ArgumentError.self) { try TweedieFormula.score(x, denoised: x, alpha: 1, sigma: 0, noise: noise) }
        #expect(throws: ArgumentError.self) { try TweedieFormula.denoised(x, score: Matrix([[1.0]]), alpha: 1, sigma: 1, noise: noise) }
        #expect(throws: ArgumentError.self) {
            try TweedieFormula.posteriorCovariance(hessian: .identity(3), alpha: 1, sigma: 1, noise: noise)
        }
        // α = 0 is allowed for the score: s = −Σ⁻¹x/σ², the score of N(0, σ²Σ).
        let s = try TweedieFormula.score(x, denoised: x, alpha: 0, sigma: 2, noise: noise)
        let expected = noise.applyingInverseCovariance(to: x).elements.map { -$0 / 4 }
        #expect(isClose(s.elements, expected, rtol: 1e-14))
    }
}
