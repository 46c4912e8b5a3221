import Foundation
import Testing
@testable import Tweedie

/// The exact reverse transition p(x_s | x_t) of a mixture prior.
@Suite struct OracleReverseTransitionTests {
    /// Mean and covariance of a Gaussian mixture.
    static func moments(_ m: GaussianMixture) -> (mean: [Double], covariance: Matrix) {
        let d = m.dimension
        let mean = m.mean
        var cov = Matrix(rows: d, columns: d)
        for k in 0..<m.componentCount {
            let c = m.covariance(of: k)
            for i in 0..<d { for j in 0..<d {
                cov[i, j] += m.weights[k] * (c[i, j] + (m.means[k, i] - mean[i]) * (m.means[k, j] - mean[j]))
            } }
        }
        return (mean, cov)
    }

    /// Draws from a mixture with TestRandom (test-only, via dense Cholesky factors).
    static func draw(_ m: GaussianMixture, count: Int, rng: inout TestRandom) -> Matrix {
        let d = m.dimension
        let factors = (0..<m.componentCount).map { k -> Matrix in
            let c = m.covariance(of: k)
            return (try? CholeskyFactor(c).lower) ?? Matrix(rows: d, columns: d)
        }
        var out = Matrix(rows: count, columns: d)
        for p in 0..<count {
            let u = rng.uniform()
            var k = 0, cumulative = 0.0
            for c in 0..<m.componentCount { k = c; cumulative += m.weights[c]; if u < cumulative { break } }
            let z = rng.normals(d)
            for i in 0..<d { out[p, i] = m.means[k, i] + (0...i).reduce(0.0) { $0 + factors[k][i, $1] * z[$1] } }
        }
        return out
    }

    static func sampleMoments(_ x: Matrix) -> (mean: [Double], covariance: Matrix) {
        let n = Double(x.rows), d = x.columns
        let mean = (0..<d).map { i in (0..<x.rows).reduce(0.0) { $0 + x[$1, i] } / n }
        var cov = Matrix(rows: d, columns: d)
        for p in 0..<x.rows { for i in 0..<d { for j in 0..<d { cov[i, j] += (x[p, i] - mean[i]) * (x[p, j] - mean[j]) / n } } }
        return (mean, cov)
    }

    @Test(arguments: [CovarianceType.full, .tied, .dirac])
    func lawHasTheMomentsOfTheDDPMPosteriorOverTheExactPosterior(type: CovarianceType) throws {
        let model = try OracleIdentityTests.randomModel(type, noise: "full", k: 3, d: 4, seed: 31)
        let oracle = try Oracle(model)
        var rng = TestRandom(seed: 2)
        let x = rng.matrix(3, 4, scale: 1.5)
        let (alphaT, sigmaT, alphaS, sigmaS) = (0.6, 0.8, 0.9, 0.43)
        let laws = try oracle.reverseTransitionLaw(from: x, at: NoiseLevel(alpha: alphaT, sigma: sigmaT), to: NoiseLevel(alpha: alphaS, sigma: sigmaS))
        let posterior = try oracle.evaluate(x, alpha: alphaT, sigma: sigmaT, including: .posteriorCovariance)
        let bridge = try DDPMPosterior(from: NoiseLevel(alpha: alphaT, sigma: sigmaT), to: NoiseLevel(alpha: alphaS, sigma: sigmaS))
        let coefficients = (a: bridge.xtCoefficient, b: bridge.x0Coefficient, c: bridge.variance)
        let sigmaMatrix = model.noise.denseMatrix
        for p in 0..<x.rows {
            let (mean, cov) = Self.moments(laws[p])
            let expectedMean = (0..<4).map { coefficients.a * x[p, $0] + coefficients.b * posterior.denoised[p, $0] }
            #expect(isClose(mean, expectedMean, rtol: 1e-10, atol: 1e-12))
            var expectedCov = Matrix(rows: 4, columns: 4)
            for i in 0..<16 {
                expectedCov.elements[i] = coefficients.c * sigmaMatrix.elements[i]
                    + coefficients.b * coefficients.b * posterior.posteriorCovariance![p].elements[i]
            }
            #expect(isClose(cov, expectedCov, rtol: 1e-9, atol: 1e-12))
        }
    }

    @Test func bridgeBetweenNoiseLevelsIsTheGaussianRegression() throws {
        // Independent route: for q(x_t|x_0) = N(α_t x_0, σ_t²) and q(x_s|x_0) = N(α_s x_0, σ_s²)
        // with x_t = α_{t|s} x_s + noise, the regression of x_s on (x_t, x_0) in the joint
        // Gaussian gives a = Cov(x_s,x_t|x_0)/Var(x_t|x_0) = α_{t|s}σ_s²/σ_t² and c = σ_s² − a²σ_t².
        let (alphaT, sigmaT, alphaS, sigmaS) = (0.5, 0.9, 0.8, 0.6)
        let bridge = try DDPMPosterior(from: NoiseLevel(alpha: alphaT, sigma: sigmaT), to: NoiseLevel(alpha: alphaS, sigma: sigmaS))
        let r = (a: bridge.xtCoefficient, b: bridge.x0Coefficient, c: bridge.variance)
        let alphaTS = alphaT / alphaS
        let a = alphaTS * sigmaS * sigmaS / (sigmaT * sigmaT)
        #expect(abs(r.a - a) < 1e-15)
        #expect(abs(r.c - (sigmaS * sigmaS - a * a * sigmaT * sigmaT)) < 1e-15)
        #expect(abs(r.b - (alphaS - a * alphaT)) < 1e-15)  // E[x_s|x_t,x_0] is unbiased for α_s x_0
        #expect(throws: ArgumentError.self) {
            try DDPMPosterior(from: NoiseLevel(alpha: alphaS, sigma: sigmaS), to: NoiseLevel(alpha: alphaT, sigma: sigmaT))
        }
    }

    @Test(arguments: [CovarianceType.full, .dirac])
    func samplesFollowTheLawAndKeepTheMarginals(type: CovarianceType) throws {
        let model = try OracleIdentityTests.randomModel(type, noise: "full", k: 3, d: 3, seed: 41)
        let oracle = try Oracle(model)
        var rng = TestRandom(seed: 4)
        let (alphaT, sigmaT, alphaS, sigmaS) = (0.5, 0.87, 0.9, 0.44)
        let n = 20_000
        // x_t ~ p_t = mixture with covariances α²Λ_k + σ²Σ; then x_s ~ p(x_s | x_t) must be ~ p_s.
        func marginal(_ alpha: Double, _ sigma: Double) throws -> GaussianMixture {
            let s = model.noise.denseMatrix
            var means = model.prior.means
            for i in 0..<means.elements.count { means.elements[i] *= alpha }
            let covs = (0..<model.componentCount).map { k -> Matrix in
                let l = model.prior.covariance(of: k)
                return Matrix(rows: 3, columns: 3, elements: (0..<9).map { alpha * alpha * l.elements[$0] + sigma * sigma * s.elements[$0] })
            }
            return try GaussianMixture(weights: model.prior.weights, means: means, covariances: .full(covs))
        }
        let xt = Self.draw(try marginal(alphaT, sigmaT), count: n, rng: &rng)
        let uniforms = (0..<n).map { _ in rng.uniform() }
        let normals = rng.matrix(n, 6)
        let xs = try oracle.sampleReverseTransition(from: xt, at: NoiseLevel(alpha: alphaT, sigma: sigmaT), to: NoiseLevel(alpha: alphaS, sigma: sigmaS),
                                                    uniforms: uniforms, normals: normals)
        let (mean, cov) = Self.moments(try marginal(alphaS, sigmaS))
        let (sampleMean, sampleCov) = Self.sampleMoments(xs)
        // 5 standard errors: se(mean_i) = √(C_ii/n), se(C_ij) ≤ √((C_ii C_jj + C_ij²)/n) for
        // Gaussian data; mixtures have heavier fourth moments, so allow a factor 2 on top.
        for i in 0..<3 {
            #expect(abs(sampleMean[i] - mean[i]) < 5 * (cov[i, i] / Double(n)).squareRoot(), "mean \(i)")
            for j in 0..<3 {
                let se = ((cov[i, i] * cov[j, j] + cov[i, j] * cov[i, j]) / Double(n)).squareRoot()
                #expect(abs(sampleCov[i, j] - cov[i, j]) < 10 * se, "cov \(i),\(j)")
            }
        }
        // One x_t many times: the draws follow that point's law.
        let point = Matrix(rows: n, columns: 3, elements: (0..<n).flatMap { _ in xt.row(0) })
        let repeated = try oracle.sampleReverseTransition(from: point, at: NoiseLevel(alpha: alphaT, sigma: sigmaT), to: NoiseLevel(alpha: alphaS, sigma: sigmaS),
                                                          uniforms: (0..<n).map { _ in rng.uniform() }, normals: rng.matrix(n, 6))
        let law = try oracle.reverseTransitionLaw(from: Matrix(rows: 1, columns: 3, elements: xt.row(0)),
                                                  at: NoiseLevel(alpha: alphaT, sigma: sigmaT),
                                                  to: NoiseLevel(alpha: alphaS, sigma: sigmaS))[0]
        let (lawMean, lawCov) = Self.moments(law)
        let (rMean, rCov) = Self.sampleMoments(repeated)
        for i in 0..<3 {
            #expect(abs(rMean[i] - lawMean[i]) < 5 * (lawCov[i, i] / Double(n)).squareRoot())
            for j in 0..<3 {
                let se = ((lawCov[i, i] * lawCov[j, j] + lawCov[i, j] * lawCov[i, j]) / Double(n)).squareRoot()
                #expect(abs(rCov[i, j] - lawCov[i, j]) < 10 * se)
            }
        }
    }
}
