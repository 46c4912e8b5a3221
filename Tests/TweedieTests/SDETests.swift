import Foundation
import Testing
@testable import Tweedie

/// The forward SDE, reverse SDE and probability-flow ODE (docs/math.md §5) against
/// independent routes: an Euler–Maruyama simulation of the forward SDE, and, for a single
/// Gaussian prior where p_t = N(α_t μ, C_t) with C_t = α_t²Λ + σ_t²Σ, the analytic transport
/// velocity m' + ½ C' C⁻¹ (x − m) built from α'_t and σ'_t (not from h_t, g_t²).
@Suite struct SDETests {
    /// A single Gaussian N(μ, Λ) in D = 3 with a full noise covariance Σ.
    static func gaussianModel() throws -> (model: MixtureModel, mu: [Double], lambda: Matrix) {
        var rng = TestRandom(seed: 31)
        let lambda = rng.spd(3, shift: 0.2), sigma = rng.spd(3, shift: 0.4)
        let mu = [0.5, -1.0, 0.8]
        let prior = try GaussianMixture(weights: [1], means: Matrix([mu]), covariances: .full([lambda]))
        return (try MixtureModel(prior: prior, noise: NoiseCovariance(.full(sigma), dimension: 3)), mu, lambda)
    }

    static let schedules: [(Schedule, Double)] = [
        (.vpLinear(), 0.3), (.vpLinear(), 0.9), (.vpCosine(), 0.5), (.ve(), 0.4), (.flow, 0.6), (.edm(), 2.5),
    ]

    /// C_t = α_t²Λ + σ_t²Σ and C'_t = 2α_tα'_tΛ + 2σ_tσ'_tΣ.
    static func marginalCovariance(_ schedule: Schedule, _ t: Double, lambda: Matrix, sigma: Matrix) -> (Matrix, Matrix) {
        let a = schedule.alpha(t), s = schedule.sigma(t)
        let da = schedule.alphaDerivative(t), ds = schedule.sigmaDerivative(t)
        let c = ClosedFormSupport.sum(ClosedFormSupport.scaled(lambda, a * a), ClosedFormSupport.scaled(sigma, s * s))
        let dc = ClosedFormSupport.sum(ClosedFormSupport.scaled(lambda, 2 * a * da), ClosedFormSupport.scaled(sigma, 2 * s * ds))
        return (c, dc)
    }

    static func oracleScore(_ oracle: Oracle, _ schedule: Schedule) -> ScoreFunction {
        { x, t in try oracle.evaluate(x, at: t, schedule: schedule).score }
    }

    /// The probability-flow velocity h x − ½ g² Σ s with the oracle's score equals the analytic
    /// velocity m' + ½ C' C⁻¹ (x − m) of the Gaussian family p_t. Tolerance 1e-9 relative.
    @Test(arguments: schedules)
    func probabilityFlowVelocityOfAGaussian(schedule: Schedule, t: Double) throws {
        let (model, mu, lambda) = try Self.gaussianModel()
        let oracle = try Oracle(model)
        let sde = DiffusionSDE(schedule: schedule, noise: model.noise)
        var rng = TestRandom(seed: 5)
        let x = rng.matrix(4, 3, scale: 2)
        let velocity = try sde.probabilityFlowVelocity(x, at: t, score: Self.oracleScore(oracle, schedule))
        let (c, dc) = Self.marginalCovariance(schedule, t, lambda: lambda, sigma: model.noise.denseMatrix)
        let inverse = try CholeskyFactor(c).inverse()
        let gain = ClosedFormSupport.scaled(BLAS.product(dc, inverse), 0.5)
        let a = schedule.alpha(t), da = schedule.alphaDerivative(t)
        for r in 0..<x.rows {
            for i in 0..<3 {
                var v = da * mu[i]
                for j in 0..<3 { v += gain[i, j] * (x[r, j] - a * mu[j]) }
                #expect(abs(velocity[r, i] - v) <= 1e-9 * (1 + abs(v)), "\(schedule.name) t=\(t) row \(r) coord \(i): \(velocity[r, i]) vs \(v)")
            }
        }
    }

    /// The PF-ODE divergence h D − ½ g² tr(ΣH), with the oracle's tr(ΣH), equals tr(½ C' C⁻¹),
    /// the trace of the analytic velocity's Jacobian. Tolerance 1e-9 relative.
    @Test(arguments: schedules)
    func probabilityFlowDivergenceOfAGaussian(schedule: Schedule, t: Double) throws {
        let (model, _, lambda) = try Self.gaussianModel()
        let oracle = try Oracle(model)
        let sde = DiffusionSDE(schedule: schedule, noise: model.noise)
        let x = Matrix([[0.1, 0.2, -0.3], [1.5, -2.0, 0.7]])
        let trace = try oracle.evaluate(x, at: t, schedule: schedule).divergence
        let divergence = try sde.probabilityFlowDivergence(at: t, traceOfCovarianceHessian: trace)
        let (c, dc) = Self.marginalCovariance(schedule, t, lambda: lambda, sigma: model.noise.denseMatrix)
        let expected = 0.5 * BLAS.product(dc, try CholeskyFactor(c).inverse()).diagonalElements.reduce(0, +)
        for value in divergence {
            #expect(abs(value - expected) <= 1e-9 * (1 + abs(expected)), "\(schedule.name) t=\(t): \(value) vs \(expected)")
        }
    }

    /// The reverse drift f̄ = h x − g² Σ s of a Gaussian p_t is linear, f̄(x) = m' + J (x − m);
    /// running the SDE backwards keeps p_t exactly when J C + C Jᵀ − g² Σ = C' (the time-reversed
    /// Lyapunov equation) and f̄(m) = m'. J is read off the library's drift by differences (exact
    /// for a linear map up to rounding). Tolerance 1e-8 relative.
    @Test(arguments: schedules)
    func reverseDriftPreservesGaussianMarginals(schedule: Schedule, t: Double) throws {
        let (model, mu, lambda) = try Self.gaussianModel()
        let oracle = try Oracle(model)
        let sde = DiffusionSDE(schedule: schedule, noise: model.noise)
        let a = schedule.alpha(t), da = schedule.alphaDerivative(t)
        let m = mu.map { a * $0 }
        var points = Matrix(rows: 4, columns: 3)
        for r in 0..<4 { points.setRow(r, to: m) }
        for j in 0..<3 { points[j + 1, j] += 1 }
        let drift = try sde.reverseDrift(points, at: t, score: Self.oracleScore(oracle, schedule))
        var jacobian = Matrix(rows: 3, columns: 3)
        for i in 0..<3 { for j in 0..<3 { jacobian[i, j] = drift[j + 1, i] - drift[0, i] } }
        let (c, dc) = Self.marginalCovariance(schedule, t, lambda: lambda, sigma: model.noise.denseMatrix)
        let jc = BLAS.product(jacobian, c)
        let g2 = schedule.diffusionSquared(t), sigma = model.noise.denseMatrix
        let scale = dc.elements.map(abs).max()! + g2
        for i in 0..<3 {
            #expect(abs(drift[0, i] - da * mu[i]) <= 1e-9 * (1 + abs(da * mu[i])))
            for j in 0..<3 {
                let lhs = jc[i, j] + jc[j, i] - g2 * sigma[i, j]
                #expect(abs(lhs - dc[i, j]) <= 1e-8 * scale, "\(schedule.name) t=\(t) [\(i),\(j)]: \(lhs) vs \(dc[i, j])")
            }
        }
        // The PF velocity is the average of the forward and reverse drifts.
        let forward = try sde.forwardDrift(points, at: t)
        let velocity = try sde.probabilityFlowVelocity(points, at: t, score: Self.oracleScore(oracle, schedule))
        for e in velocity.elements.indices {
            let average = 0.5 * (forward.elements[e] + drift.elements[e])
            #expect(abs(velocity.elements[e] - average) <= 1e-12 * (1 + abs(average)))
        }
    }

    /// Euler–Maruyama on dx = h_t x dt + g_t R dw (vp-linear, full 2×2 Σ, x_0 fixed, 3000 paths,
    /// 1000 steps of dt = 10⁻³ from t = 0) matches q(x_t | x_0) = N(α_t x_0, σ_t²Σ) at t = 0.2,
    /// 0.5, 1: sample moments within 4.5 standard errors, plus the scheme's own deterministic
    /// bias (the gap between the exact moment recursion of Euler–Maruyama and the closed form).
    @Test func eulerMaruyamaMatchesTheForwardKernel() throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        let schedule = Schedule.vpLinear()
        let sde = DiffusionSDE(schedule: schedule, noise: noise)
        let x0 = [1.5, -1.0], paths = 3000, steps = 1000
        let dt = 1 / Double(steps)
        var x = Matrix(rows: paths, columns: 2)
        for r in 0..<paths { x.setRow(r, to: x0) }
        var rng = TestRandom(seed: 99)
        // Euler–Maruyama's exact moments: m ← (1 + h dt) m, C ← (1 + h dt)² C + g² dt Σ.
        var emMean = x0, emCovariance = Matrix(rows: 2, columns: 2)
        let sigma = noise.denseMatrix
        var problems: [String] = []
        for n in 0..<steps {
            let t = Double(n) * dt
            let drift = try sde.forwardDrift(x, at: t)
            let kick = try sde.diffusionTerm(rng.matrix(paths, 2, scale: dt.squareRoot()), at: t)
            for e in x.elements.indices { x.elements[e] += drift.elements[e] * dt + kick.elements[e] }
            let h = schedule.drift(t), g2 = schedule.diffusionSquared(t)
            emMean = emMean.map { (1 + h * dt) * $0 }
            emCovariance = ClosedFormSupport.sum(ClosedFormSupport.scaled(emCovariance, (1 + h * dt) * (1 + h * dt)),
                                                 ClosedFormSupport.scaled(sigma, g2 * dt))
            let tNext = Double(n + 1) * dt
            guard [200, 500, 1000].contains(n + 1) else { continue }
            let expectedMean = x0.map { schedule.alpha(tNext) * $0 }
            let s = schedule.sigma(tNext)
            let expectedCovariance = ClosedFormSupport.scaled(sigma, s * s)
            var bias = 0.0
            for i in 0..<2 {
                bias = max(bias, abs(emMean[i] - expectedMean[i]))
                for j in 0..<2 { bias = max(bias, abs(emCovariance[i, j] - expectedCovariance[i, j])) }
            }
            #expect(bias < 0.02, "Euler–Maruyama bias at t = \(tNext): \(bias)")
            let moments = ClosedFormSupport.moments(x)
            problems += ClosedFormSupport.mismatches(mean: moments.mean, covariance: moments.covariance,
                                                     expectedMean: expectedMean, expectedCovariance: expectedCovariance,
                                                     count: paths, slack: bias)
                .map { "t = \(tNext): \($0)" }
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    /// g_t R w is g_t L w, and times outside the range throw.
    @Test func diffusionTermAndErrors() throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        let sde = DiffusionSDE(schedule: .vpLinear(), noise: noise)
        let w = Matrix([[0.3, -1.2]])
        let term = try sde.diffusionTerm(w, at: 0.5)
        let g = Schedule.vpLinear().diffusion(0.5), l = noise.denseFactor
        for i in 0..<2 {
            let expected = g * (l[i, 0] * w[0, 0] + l[i, 1] * w[0, 1])
            #expect(abs(term[0, i] - expected) < 1e-13)
        }
        #expect(throws: ScheduleError.self) { try sde.forwardDrift(w, at: 1.5) }
        #expect(throws: ArgumentError.self) { try sde.forwardDrift(Matrix([[1.0]]), at: 0.5) }
        #expect(throws: ArgumentError.self) { try sde.reverseDrift(w, at: 0.5, score: Matrix([[1.0]])) }
    }
}
