import Foundation
import Testing
@testable import Tweedie

/// Oracle quantities checked against independent routes: finite differences of log p_t, the
/// Tweedie identities of docs/math.md §3, and the closed form of a single Gaussian.
@Suite struct OracleIdentityTests {
    static func randomModel(_ type: CovarianceType, noise: String, k: Int = 3, d: Int = 4,
                            seed: UInt64 = 1) throws -> MixtureModel {
        var rng = TestRandom(seed: seed)
        let means = rng.matrix(k, d, scale: 2)
        let covariances: ComponentCovariances
        switch type {
        case .full: covariances = .full((0..<k).map { _ in rng.spd(d) })
        case .tied: covariances = .tied(rng.spd(d))
        case .diag: covariances = .diagonal(Matrix(rows: k, columns: d, elements: (0..<(k * d)).map { _ in 0.1 + rng.uniform() }))
        case .spherical: covariances = .spherical((0..<k).map { _ in 0.1 + rng.uniform() })
        case .dirac: covariances = .dirac
        }
        let prior = try GaussianMixture(weights: rng.weights(k), means: means, covariances: covariances)
        let structure: NoiseCovariance.Structure
        switch noise {
        case "identity": structure = .identity
        case "diagonal": structure = .diagonal((0..<d).map { _ in 0.3 + rng.uniform() })
        case "full": structure = .full(rng.spd(d))
        default: structure = .kronecker(rng.spd(d / 2), blockSize: 2)
        }
        return try MixtureModel(prior: prior, noise: NoiseCovariance(structure, dimension: d))
    }

    static let cases: [(CovarianceType, String)] = CovarianceType.allCases.flatMap { type in
        ["identity", "diagonal", "full", "kronecker"].map { (type, $0) }
    }

    /// H[i][j] = ∂score_i/∂x_j by central differences (step 1e-5).
    static func scoreJacobian(_ oracle: Oracle, at point: [Double], alpha: Double, sigma: Double) throws -> Matrix {
        let d = point.count, h = 1e-5
        var jacobian = Matrix(rows: d, columns: d)
        for j in 0..<d {
            var plus = Matrix(rows: 1, columns: d, elements: point), minus = plus
            plus[0, j] += h
            minus[0, j] -= h
            let sp = try oracle.evaluate(plus, alpha: alpha, sigma: sigma).score
            let sm = try oracle.evaluate(minus, alpha: alpha, sigma: sigma).score
            for i in 0..<d { jacobian[i, j] = (sp[0, i] - sm[0, i]) / (2 * h) }
        }
        return jacobian
    }

    @Test(arguments: cases)
    func scoreIsTheGradientOfLogDensity(type: CovarianceType, noise: String) throws {
        let model = try Self.randomModel(type, noise: noise)
        let oracle = try Oracle(model)
        var rng = TestRandom(seed: 7)
        let x = rng.matrix(5, 4, scale: 1.5)
        let (alpha, sigma) = (0.8, 0.6)
        let result = try oracle.evaluate(x, alpha: alpha, sigma: sigma)
        let h = 1e-5
        for b in 0..<x.rows {
            for i in 0..<x.columns {
                var plus = Matrix(rows: 1, columns: 4, elements: x.row(b)), minus = plus
                plus[0, i] += h
                minus[0, i] -= h
                let fd = (try oracle.evaluate(plus, alpha: alpha, sigma: sigma).logDensity[0]
                    - oracle.evaluate(minus, alpha: alpha, sigma: sigma).logDensity[0]) / (2 * h)
                #expect(abs(fd - result.score[b, i]) <= 1e-6 * (1 + abs(fd)), "b=\(b) i=\(i)")
            }
        }
    }

    @Test(arguments: cases)
    func divergenceIsTheTraceOfSigmaTimesTheScoreJacobian(type: CovarianceType, noise: String) throws {
        let model = try Self.randomModel(type, noise: noise)
        let oracle = try Oracle(model)
        var rng = TestRandom(seed: 8)
        let x = rng.matrix(3, 4, scale: 1.5)
        let (alpha, sigma) = (0.7, 0.5)
        let result = try oracle.evaluate(x, alpha: alpha, sigma: sigma)
        let sigmaMatrix = model.noise.denseMatrix
        for b in 0..<x.rows {
            // divergence = Σ_ij Σ_ji H_ij with H from central differences of the score.
            let hessian = try Self.scoreJacobian(oracle, at: x.row(b), alpha: alpha, sigma: sigma)
            let trace = BLAS.product(sigmaMatrix, hessian).diagonalElements.reduce(0, +)
            #expect(abs(trace - result.divergence[b]) <= 1e-5 * (1 + abs(trace)))
        }
    }

    @Test(arguments: cases)
    func tweedieFirstAndSecondOrder(type: CovarianceType, noise: String) throws {
        let model = try Self.randomModel(type, noise: noise)
        let oracle = try Oracle(model)
        var rng = TestRandom(seed: 9)
        let x = rng.matrix(3, 4, scale: 1.5)
        let (alpha, sigma) = (0.9, 0.4)
        let result = try oracle.evaluate(x, alpha: alpha, sigma: sigma, including: [.posteriorCovariance, .componentMeans])
        let sigmaMatrix = model.noise.denseMatrix
        // First order: x̂_0 = (x + σ²Σ s)/α, with the denoiser from the gain form.
        let sigmaScore = applyDense(sigmaMatrix, toRows: result.score)
        for b in 0..<x.rows {
            for i in 0..<4 {
                let tweedie = (x[b, i] + sigma * sigma * sigmaScore[b, i]) / alpha
                #expect(abs(tweedie - result.denoised[b, i]) <= 1e-10 * (1 + abs(tweedie)))
            }
            // E[x_0 | x_t] is the responsibility-weighted component means.
            let means = result.componentMeans![b]
            for i in 0..<4 {
                let mixed = (0..<model.componentCount).reduce(0.0) { $0 + result.responsibilities[b, $1] * means[$1, i] }
                #expect(abs(mixed - result.denoised[b, i]) <= 1e-10 * (1 + abs(mixed)))
            }
        }
        // Second order: Cov = (σ²/α²)(Σ + σ² Σ H Σ), H by central differences of the score.
        for b in 0..<x.rows {
            let hessian = try Self.scoreJacobian(oracle, at: x.row(b), alpha: alpha, sigma: sigma)
            let shs = BLAS.product(BLAS.product(sigmaMatrix, hessian.symmetrized), sigmaMatrix)
            var expected = Matrix(rows: 4, columns: 4)
            for i in 0..<4 { for j in 0..<4 {
                expected[i, j] = sigma * sigma / (alpha * alpha) * (sigmaMatrix[i, j] + sigma * sigma * shs[i, j])
            } }
            #expect(isClose(result.posteriorCovariance![b], expected, rtol: 1e-5, atol: 1e-7))
        }
    }

    @Test func singleGaussianClosedForm() throws {
        // K = 1: p_t = N(αμ, C), C = α²Λ + σ²Σ; E[x_0|x_t] = μ + αΛC⁻¹(x − αμ); V = Λ − α²ΛC⁻¹Λ.
        var rng = TestRandom(seed: 3)
        let d = 5
        let lambda = rng.spd(d), sigmaMatrix = rng.spd(d, shift: 0.5)
        let mu = rng.normals(d)
        let model = try MixtureModel(
            prior: GaussianMixture(weights: [1], means: Matrix(rows: 1, columns: d, elements: mu), covariances: .full([lambda])),
            noise: NoiseCovariance(.full(sigmaMatrix), dimension: d))
        let (alpha, sigma) = (0.6, 0.8)
        let x = rng.matrix(4, d)
        let result = try Oracle(model).evaluate(x, alpha: alpha, sigma: sigma, including: .posteriorCovariance)
        var c = Matrix(rows: d, columns: d)
        for i in 0..<d { for j in 0..<d { c[i, j] = alpha * alpha * lambda[i, j] + sigma * sigma * sigmaMatrix[i, j] } }
        let cInverse = denseInverse(c)
        let logDetC = try CholeskyFactor(c).logDeterminant * 2
        let gainMatrix = BLAS.product(lambda, cInverse)
        for b in 0..<x.rows {
            let r = (0..<d).map { x[b, $0] - alpha * mu[$0] }
            let cr = (0..<d).map { i in (0..<d).reduce(0.0) { $0 + cInverse[i, $1] * r[$1] } }
            let quadratic = zip(r, cr).reduce(0.0) { $0 + $1.0 * $1.1 }
            let logDensity = -0.5 * quadratic - 0.5 * logDetC - 0.5 * Double(d) * log(2 * .pi)
            #expect(abs(logDensity - result.logDensity[b]) < 1e-11 * (1 + abs(logDensity)))
            for i in 0..<d {
                #expect(abs(-cr[i] - result.score[b, i]) < 1e-10)
                let m = mu[i] + alpha * (0..<d).reduce(0.0) { $0 + gainMatrix[i, $1] * r[$1] }
                #expect(abs(m - result.denoised[b, i]) < 1e-10)
            }
            let lcl = BLAS.product(gainMatrix, lambda)
            var v = lambda
            for i in 0..<d { for j in 0..<d { v[i, j] -= alpha * alpha * lcl[i, j] } }
            #expect(isClose(result.posteriorCovariance![b], v, rtol: 1e-9, atol: 1e-12))
        }
    }

    @Test func resultsAreBitwiseIndependentOfBatchSize() throws {
        for (type, noise) in [(CovarianceType.full, "full"), (.tied, "kronecker"), (.dirac, "full"), (.diag, "diagonal")] {
            let model = try Self.randomModel(type, noise: noise, k: 6, d: 8)
            let oracle = try Oracle(model)
            var rng = TestRandom(seed: 11)
            // 300 rows cross a tile boundary (tiles of 256 rows).
            let x = rng.matrix(300, 8)
            let all = try oracle.evaluate(x, alpha: 0.7, sigma: 0.5)
            for (start, count) in [(0, 1), (3, 5), (250, 50), (100, 200), (7, 290), (299, 1)] {
                let part = Matrix(rows: count, columns: 8, elements: Array(x.elements[(start * 8)..<((start + count) * 8)]))
                let r = try oracle.evaluate(part, alpha: 0.7, sigma: 0.5)
                #expect(r.denoised.elements == Array(all.denoised.elements[(start * 8)..<((start + count) * 8)]), "\(type) \(noise)")
                #expect(r.score.elements == Array(all.score.elements[(start * 8)..<((start + count) * 8)]))
                #expect(r.logDensity == Array(all.logDensity[start..<(start + count)]))
                #expect(r.divergence == Array(all.divergence[start..<(start + count)]))
            }
        }
    }
}

/// A dense inverse through LAPACK's Cholesky (tests only: a reference route, never a hot path).
func denseInverse(_ spd: Matrix) -> Matrix {
    let n = spd.rows
    var columns = Matrix.identity(n)
    let l = try! CholeskyFactor(spd).lower
    l.elements.withUnsafeBufferPointer { lp in
        columns.elements.withUnsafeMutableBufferPointer { c in
            BLAS.solveLowerTriangular(.left, .none, n: n, lower: lp.baseAddress!, rows: n, columns: n, b: c.baseAddress!, ldb: n)
            BLAS.solveLowerTriangular(.left, .transpose, n: n, lower: lp.baseAddress!, rows: n, columns: n, b: c.baseAddress!, ldb: n)
        }
    }
    return columns
}
