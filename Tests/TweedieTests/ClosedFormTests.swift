import Foundation
import Testing
@testable import Tweedie

/// Forward transitions and the forward-process posterior (docs/math.md §4) against
/// independent routes: step-by-step composition (the induction of docs/math.md §4.1), a Monte Carlo run of the
/// chain, Bayes' rule integrated on a grid, and the discrete and continuous forms at matching
/// times.
@Suite struct ClosedFormTests {
    static let identity1 = NoiseCovariance.identity(dimension: 1)

    // MARK: Forward kernels

    /// Composing q(x_i | x_{i−1}) = N(√(1−β_i) x, β_i Σ) step by step propagates mean and variance
    /// exactly to q(x_i | x_0) = N(√ᾱ_i x_0, (1 − ᾱ_i) Σ). Tolerance: 1e-12 relative (T roundings
    /// of a sum of positive terms).
    @Test(arguments: [DiscreteSchedule.linear(), .cosine(), .scaledLinear(steps: 300)])
    func composingOneStepKernelsGivesTheMarginal(schedule: DiscreteSchedule) throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        var composed = try ForwardKernel(alpha: 1, sigma: 0, noise: noise)
        var worst = 0.0
        for i in 1...schedule.stepCount {
            composed = composed.followed(by: try ForwardKernel(step: i, schedule: schedule, noise: noise))
            let closed = try ForwardKernel(toStep: i, schedule: schedule, noise: noise)
            worst = max(worst, ClosedFormSupport.relativeError(composed.alpha, closed.alpha),
                        ClosedFormSupport.relativeError(composed.variance, closed.variance))
            // Seed 002 (a) written out: ᾱ_i as a plain product.
            let alphaBar = (1...i).reduce(1.0) { $0 * (1 - schedule.beta(step: $1)) }
            worst = max(worst, ClosedFormSupport.relativeError(closed.alpha * closed.alpha, alphaBar))
        }
        #expect(worst < 1e-12, "worst relative error \(worst)")
    }

    /// q(x_t | x_s) composes: q(x_s | x_0) then q(x_t | x_s) is q(x_t | x_0), and
    /// q(x_u | x_s) then q(x_t | x_u) is q(x_t | x_s), for every schedule family; and σ²_{t|s}
    /// equals σ_t² − α²_{t|s}σ_s² written directly (docs/math.md §4). Tolerance 1e-12 relative.
    @Test(arguments: [Schedule.vpLinear(), .vpCosine(), .ve(), .flow, .edm(), .ddpm(steps: 100)])
    func continuousTransitionsCompose(schedule: Schedule) throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        let lo = schedule.timeRange.lowerBound, width = schedule.timeRange.upperBound - lo
        let (s, u, t) = (lo + 0.13 * width, lo + 0.41 * width, lo + 0.87 * width)
        let marginalS = try ForwardKernel(t: s, schedule: schedule, noise: noise)
        let marginalT = try ForwardKernel(t: t, schedule: schedule, noise: noise)
        let st = try ForwardKernel(from: s, to: t, schedule: schedule, noise: noise)
        let viaS = marginalS.followed(by: st)
        #expect(ClosedFormSupport.relativeError(viaS.alpha, marginalT.alpha) < 1e-12)
        #expect(ClosedFormSupport.relativeError(viaS.variance, marginalT.variance) < 1e-12)
        let viaU = try ForwardKernel(from: s, to: u, schedule: schedule, noise: noise)
            .followed(by: ForwardKernel(from: u, to: t, schedule: schedule, noise: noise))
        #expect(ClosedFormSupport.relativeError(viaU.alpha, st.alpha) < 1e-12)
        #expect(ClosedFormSupport.relativeError(viaU.variance, st.variance) < 1e-12)
        let alphaTS = schedule.alpha(t) / schedule.alpha(s)
        let direct = schedule.sigma(t) * schedule.sigma(t) - alphaTS * alphaTS * schedule.sigma(s) * schedule.sigma(s)
        #expect(ClosedFormSupport.relativeError(st.variance, direct) < 1e-12)
        #expect(ClosedFormSupport.relativeError(st.alpha, alphaTS) < 1e-14)
    }

    /// Ends and errors: s = t is the identity, s = 0 of a VP schedule is the marginal, s > t and
    /// times outside the range throw.
    @Test func transitionEdgeCases() throws {
        let noise = Self.identity1, vp = Schedule.vpLinear()
        let same = try ForwardKernel(from: 0.4, to: 0.4, schedule: vp, noise: noise)
        #expect(same.alpha == 1 && same.sigma == 0)
        let fromZero = try ForwardKernel(from: 0, to: 0.4, schedule: vp, noise: noise)
        #expect(ClosedFormSupport.relativeError(fromZero.sigma, vp.sigma(0.4)) < 1e-15)
        #expect(ClosedFormSupport.relativeError(fromZero.alpha, vp.alpha(0.4)) < 1e-15)
        // s very close to t: as accurate as t − s itself (~1e-7 here), and σ²_{t|s} ≈ β(t)(t − s).
        let close = try ForwardKernel(from: 0.5, to: 0.5 + 1e-9, schedule: vp, noise: noise)
        let expected = 1 - exp(-2 * (0.25 * (0.5 + 1e-9) * (0.5 + 1e-9) * 19.9 + 0.05 * (0.5 + 1e-9)
                                     - 0.25 * 0.25 * 19.9 - 0.05 * 0.5))
        #expect(ClosedFormSupport.relativeError(close.variance, expected) < 1e-6)
        #expect(abs(close.variance / 1e-9 - (0.1 + 0.5 * 19.9)) < 1e-6 * 10)
        #expect(throws: ArgumentError.self) { try ForwardKernel(from: 0.5, to: 0.4, schedule: vp, noise: noise) }
        #expect(throws: ScheduleError.self) { try ForwardKernel(from: 0.5, to: 1.4, schedule: vp, noise: noise) }
        #expect(throws: ArgumentError.self) { try ForwardKernel(step: 0, schedule: .linear(), noise: noise) }
        #expect(throws: ArgumentError.self) { try ForwardKernel(fromStep: 3, toStep: 2, schedule: .linear(), noise: noise) }
    }

    /// The one-step kernel of a discrete schedule equals the continuous transition of the same
    /// schedule read in continuous time, between the knots t_{i−1} and t_i. Tolerance 1e-12.
    @Test func discreteStepsMatchContinuousTransitions() throws {
        let d = DiscreteSchedule.linear(steps: 200), schedule = Schedule.discrete(d)
        for i in [1, 2, 50, 200] {
            let step = try ForwardKernel(step: i, schedule: d, noise: Self.identity1)
            let continuous = try ForwardKernel(from: d.time(step: i - 1), to: d.time(step: i), schedule: schedule,
                                               noise: Self.identity1)
            #expect(ClosedFormSupport.relativeError(continuous.alpha, step.alpha) < 1e-12, "i = \(i)")
            #expect(ClosedFormSupport.relativeError(continuous.variance, step.variance) < 1e-9, "i = \(i)")
        }
    }

    /// A Monte Carlo run of the chain x_i = √(1 − β_i) x_{i−1} + √β_i L z_i (4000 paths, full 2×2
    /// Σ, fixed x_0) matches q(x_i | x_0) at i = 10, 40: sample mean and covariance within 4.5
    /// standard errors.
    @Test func monteCarloChainMatchesTheMarginal() throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        let schedule = DiscreteSchedule.linear(betaStart: 1e-3, betaEnd: 0.05, steps: 40)
        let x0 = [1.2, -0.8], paths = 4000
        var x = Matrix(rows: paths, columns: 2)
        for r in 0..<paths { x.setRow(r, to: x0) }
        var problems: [String] = []
        for i in 1...schedule.stepCount {
            x = try ForwardKernel(step: i, schedule: schedule, noise: noise).sample(from: x, seed: 2024, step: i)
            guard i == 10 || i == 40 else { continue }
            let marginal = try ForwardKernel(toStep: i, schedule: schedule, noise: noise)
            let m = ClosedFormSupport.moments(x)
            problems += ClosedFormSupport.mismatches(
                mean: m.mean, covariance: m.covariance, expectedMean: x0.map { marginal.alpha * $0 },
                expectedCovariance: ClosedFormSupport.scaled(noise.denseMatrix, marginal.variance), count: paths)
                .map { "step \(i): \($0)" }
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    /// logDensity agrees with a dense-inverse evaluation of log N(y; αx, σ²Σ).
    @Test func kernelLogDensity() throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        let kernel = try ForwardKernel(alpha: 0.7, sigma: 0.4, noise: noise)
        let x = Matrix([[0.3, -1.0], [2.0, 0.5]]), y = Matrix([[0.1, -0.2], [1.0, 1.1]])
        let values = try kernel.logDensity(of: y, given: x)
        for r in 0..<2 {
            let reference = try ClosedFormSupport.logGaussian(y.row(r), mean: x.row(r).map { 0.7 * $0 },
                                                              covariance: ClosedFormSupport.scaled(noise.denseMatrix, 0.16))
            #expect(abs(values[r] - reference) < 1e-12 * (1 + abs(reference)))
        }
    }

    // MARK: Posterior q(x_s | x_t, x_0)

    /// DDPM's μ̃_i and β̃_i written out as in the original DDPM paper (ᾱ as plain products) agree with
    /// DDPMPosterior(step:), including i = 1 (the point mass at x_0). Tolerance 1e-12.
    @Test func discretePosteriorMatchesSeed001() throws {
        let schedule = DiscreteSchedule.linear()
        for i in [1, 2, 3, 100, 999, 1000] {
            let p = try DDPMPosterior(step: i, schedule: schedule)
            let alphaBar = (1...i).reduce(1.0) { $0 * (1 - schedule.beta(step: $1)) }
            let previous = alphaBar / (1 - schedule.beta(step: i))
            let beta = schedule.beta(step: i)
            let x0Coefficient = previous.squareRoot() * beta / (1 - alphaBar)
            let xtCoefficient = (1 - beta).squareRoot() * (1 - previous) / (1 - alphaBar)
            let variance = beta * (1 - previous) / (1 - alphaBar)
            #expect(abs(p.x0Coefficient - x0Coefficient) <= 1e-12 * abs(x0Coefficient), "i = \(i)")
            #expect(abs(p.xtCoefficient - xtCoefficient) <= 1e-12 * abs(xtCoefficient) + 1e-300, "i = \(i)")
            #expect(abs(p.variance - variance) <= 1e-11 * abs(variance) + 1e-300, "i = \(i)")
        }
        #expect(throws: ArgumentError.self) { try DDPMPosterior(step: 0, schedule: schedule) }
    }

    /// q(x_s | x_t, x_0) against Bayes' rule integrated on a 2-D grid: the normalized product
    /// q(x_t | x_s) q(x_s | x_0) (dense Σ⁻¹, no library kernel) has the posterior's mean and
    /// covariance v Σ. The grid (241², ±8 prior standard deviations) integrates Gaussians to
    /// ~1e-12; tolerance 1e-9.
    @Test(arguments: [(Schedule.vpLinear(), 0.3, 0.5), (.vpCosine(), 0.05, 0.9), (.ve(), 0.2, 0.6), (.flow, 0.4, 0.7)])
    func continuousPosteriorMatchesBayesRule(schedule: Schedule, s: Double, t: Double) throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        let sigmaMatrix = noise.denseMatrix
        let x0 = [0.9, -0.4], z = [0.7, -1.1]
        let (alphaS, sigmaS, alphaT, sigmaT) = (schedule.alpha(s), schedule.sigma(s), schedule.alpha(t), schedule.sigma(t))
        let l = noise.denseFactor
        let xt = (0..<2).map { i in alphaT * x0[i] + sigmaT * (l[i, 0] * z[0] + l[i, 1] * z[1]) }
        // Bayes: weights q(x_t | x_s) q(x_s | x_0) on a grid around α_s x_0.
        let alphaTS = alphaT / alphaS, transitionVariance = sigmaT * sigmaT - alphaTS * alphaTS * sigmaS * sigmaS
        let n = 241, halfWidth = 8 * sigmaS * 1.5.squareRoot()
        let h = 2 * halfWidth / Double(n - 1)
        // q(x_t | x_s) as a function of x_s: N(x_t − α_{t|s} x_s; 0, σ²_{t|s} Σ).
        let transition = try ClosedFormSupport.DenseGaussian(
            mean: [0, 0], covariance: ClosedFormSupport.scaled(sigmaMatrix, transitionVariance))
        let marginal = try ClosedFormSupport.DenseGaussian(
            mean: x0.map { alphaS * $0 }, covariance: ClosedFormSupport.scaled(sigmaMatrix, sigmaS * sigmaS))
        var logWeights: [Double] = [], points: [[Double]] = []
        for a in 0..<n {
            for b in 0..<n {
                let xs = [alphaS * x0[0] - halfWidth + Double(a) * h, alphaS * x0[1] - halfWidth + Double(b) * h]
                let w = transition.logDensity([xt[0] - alphaTS * xs[0], xt[1] - alphaTS * xs[1]])
                    + marginal.logDensity(xs)
                logWeights.append(w)
                points.append(xs)
            }
        }
        let top = logWeights.max()!
        let weights = logWeights.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        var mean = [0.0, 0.0], covariance = Matrix(rows: 2, columns: 2)
        for (w, p) in zip(weights, points) { for i in 0..<2 { mean[i] += w * p[i] / total } }
        for (w, p) in zip(weights, points) {
            for i in 0..<2 { for j in 0..<2 { covariance[i, j] += w * (p[i] - mean[i]) * (p[j] - mean[j]) / total } }
        }

        let posterior = try DDPMPosterior(from: t, to: s, schedule: schedule)
        let libraryMean = try posterior.mean(xt: Matrix(rows: 1, columns: 2, elements: xt),
                                             x0: Matrix(rows: 1, columns: 2, elements: x0))
        let scale = halfWidth
        for i in 0..<2 {
            #expect(abs(libraryMean[0, i] - mean[i]) < 1e-9 * scale, "mean \(i): \(libraryMean[0, i]) vs \(mean[i])")
            for j in 0..<2 {
                let expected = posterior.variance * sigmaMatrix[i, j]
                #expect(abs(covariance[i, j] - expected) < 1e-9 * scale * scale, "cov \(i)\(j): \(covariance[i, j]) vs \(expected)")
            }
        }
    }

    /// The discrete posterior against Bayes' rule on a 1-D grid with Σ = [[c]], at early, middle
    /// and last steps; kernels written out from β (no library kernel). Tolerance 1e-9 relative
    /// to the posterior's scale.
    @Test(arguments: [2, 10, 500, 1000])
    func discretePosteriorMatchesBayesRule(step i: Int) throws {
        let schedule = DiscreteSchedule.linear(), c = 0.6
        let beta = schedule.beta(step: i)
        let previous = (1..<i).reduce(1.0) { $0 * (1 - schedule.beta(step: $1)) }
        let x0 = 0.8, xi = (1 - beta).squareRoot() * previous.squareRoot() * x0 + 0.9 * (c * (1 - previous * (1 - beta))).squareRoot()
        let priorSD = (c * (1 - previous)).squareRoot()
        let n = 4001, halfWidth = 10 * priorSD, h = 2 * halfWidth / Double(n - 1)
        var logWeights: [Double] = [], points: [Double] = []
        for a in 0..<n {
            let x = previous.squareRoot() * x0 - halfWidth + Double(a) * h
            let r1 = xi - (1 - beta).squareRoot() * x, r2 = x - previous.squareRoot() * x0
            logWeights.append(-0.5 * r1 * r1 / (beta * c) - 0.5 * r2 * r2 / (c * (1 - previous)))
            points.append(x)
        }
        let top = logWeights.max()!
        let w = logWeights.map { exp($0 - top) }, total = w.reduce(0, +)
        let mean = zip(w, points).reduce(0) { $0 + $1.0 * $1.1 } / total
        let variance = zip(w, points).reduce(0) { $0 + $1.0 * ($1.1 - mean) * ($1.1 - mean) } / total
        let posterior = try DDPMPosterior(step: i, schedule: schedule)
        let libraryMean = try posterior.mean(xt: Matrix([[xi]]), x0: Matrix([[x0]]))[0, 0]
        let sd = (posterior.variance * c).squareRoot()
        #expect(abs(libraryMean - mean) < 1e-9 * sd, "mean \(libraryMean) vs \(mean)")
        #expect(abs(variance - posterior.variance * c) < 1e-9 * sd * sd, "variance \(variance) vs \(posterior.variance * c)")
    }

    /// The discrete posterior equals the continuous one at matching times: of the discrete
    /// schedule read in continuous time (t_i = i/T), and, for a discretized vp-linear schedule,
    /// of vp-linear itself. Tolerance 1e-10 relative.
    @Test func discretePosteriorMatchesContinuousAtMatchingTimes() throws {
        let d = DiscreteSchedule.linear(steps: 250)
        let vp = Schedule.vpLinear()
        let discretized = try DiscreteSchedule(discretizing: vp, steps: 250)
        for i in [2, 3, 40, 125, 250] {
            let pairs = [
                (try DDPMPosterior(step: i, schedule: d),
                 try DDPMPosterior(from: d.time(step: i), to: d.time(step: i - 1), schedule: .discrete(d))),
                (try DDPMPosterior(step: i, schedule: discretized),
                 try DDPMPosterior(from: Double(i) / 250, to: Double(i - 1) / 250, schedule: vp)),
            ]
            for (discrete, continuous) in pairs {
                #expect(ClosedFormSupport.relativeError(discrete.xtCoefficient, continuous.xtCoefficient) < 1e-10, "i = \(i)")
                #expect(ClosedFormSupport.relativeError(discrete.x0Coefficient, continuous.x0Coefficient) < 1e-10, "i = \(i)")
                #expect(ClosedFormSupport.relativeError(discrete.variance, continuous.variance) < 1e-10, "i = \(i)")
            }
        }
    }

    // MARK: Discretized schedules

    /// ᾱ_i = α(i/T)² at every knot, Σ log(1 − β_i) = 2 log α(1), and non-VP or non-[0, 1]
    /// schedules are rejected; vp-cosine's last β is capped.
    @Test func discretizingAContinuousSchedule() throws {
        let vp = Schedule.vpLinear()
        for steps in [10, 50, 1000] {
            let d = try DiscreteSchedule(discretizing: vp, steps: steps)
            var worst = 0.0
            for i in 0...steps {
                let a = vp.alpha(Double(i) / Double(steps))
                worst = max(worst, ClosedFormSupport.relativeError(d.alphaBar(step: i), a * a))
            }
            #expect(worst < 1e-12, "T = \(steps): \(worst)")
            let sum = d.betas.reduce(0) { $0 + log1p(-$1) }
            #expect(abs(sum - 2 * log(vp.alpha(1))) < 1e-11)
        }
        let cosine = try DiscreteSchedule(discretizing: .vpCosine(), steps: 100)
        #expect(cosine.betas.last == 0.999)
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(discretizing: .ve(), steps: 10) }
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(discretizing: .edm(), steps: 10) }
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(discretizing: vp, steps: 0) }
    }
}
