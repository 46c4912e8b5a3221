import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The posterior of the forward process given the clean point, q(x_s | x_t, x_0) =
/// N(a x_t + b x_0, v Σ) for times s < t (docs/math.md §4).
///
/// Both forms of docs/math.md §4 are one application of Bayes' rule,
/// q(x_s | x_t, x_0) ∝ q(x_t | x_s) q(x_s | x_0): with q(x_s | x_0) = N(α_s x_0, σ_s² Σ) and
/// q(x_t | x_s) = N(α_{t|s} x_s, σ²_{t|s} Σ), and σ_t² = α²_{t|s}σ_s² + σ²_{t|s},
///
///     a = α_{t|s} σ_s² / σ_t²,   b = α_s σ²_{t|s} / σ_t²,   v = σ²_{t|s} σ_s² / σ_t².
///
/// For a discrete schedule (s, t) = (i − 1, i), α_{t|s} = √(1 − β_i), σ²_{t|s} = β_i,
/// α_s = √ᾱ_{i−1}, σ_s² = 1 − ᾱ_{i−1} and σ_t² = 1 − ᾱ_i give DDPM's
/// μ̃_i = (√ᾱ_{i−1} β_i/(1 − ᾱ_i)) x_0 + (√(1 − β_i)(1 − ᾱ_{i−1})/(1 − ᾱ_i)) x_i and
/// β̃_i = β_i (1 − ᾱ_{i−1})/(1 − ᾱ_i).
///
/// ```swift
/// let posterior = try DDPMPosterior(step: 10, schedule: .linear())
/// let mean = try posterior.mean(xt: xt, x0: x0)   // μ̃_i for each row
/// posterior.variance                               // β̃_i
/// ```
public struct DDPMPosterior: Sendable, Equatable {
    /// a, the coefficient of x_t in the mean.
    public let xtCoefficient: Double
    /// b, the coefficient of x_0 in the mean.
    public let x0Coefficient: Double
    /// v, the multiple of Σ in the covariance (β̃_i for a discrete step).
    public let variance: Double

    public init(xtCoefficient: Double, x0Coefficient: Double, variance: Double) {
        self.xtCoefficient = xtCoefficient
        self.x0Coefficient = x0Coefficient
        self.variance = variance
    }

    /// The posterior from q(x_s | x_0) (`marginal`) and q(x_t | x_s) (`transition`) by Bayes'
    /// rule (docs/math.md §4): a = α_{t|s}σ_s²/σ_t², b = α_s σ²_{t|s}/σ_t², v = σ²_{t|s}σ_s²/σ_t²,
    /// with σ_t² = α²_{t|s}σ_s² + σ²_{t|s}, a sum of non-negative terms (no cancellation).
    ///
    /// When q(x_t | x_0) is degenerate (σ_t = 0) x_t equals α_t x_0 and the posterior is the
    /// point mass at α_s x_0: a = 0, b = α_s, v = 0.
    public init(marginal: ForwardKernel, transition: ForwardKernel) {
        let vs = marginal.variance, vts = transition.variance
        let vt = transition.alpha * transition.alpha * vs + vts
        guard vt > 0 else {
            self.init(xtCoefficient: 0, x0Coefficient: marginal.alpha, variance: 0)
            return
        }
        self.init(xtCoefficient: transition.alpha * vs / vt,
                  x0Coefficient: marginal.alpha * vts / vt,
                  variance: vts * vs / vt)
    }

    /// q(x_{i−1} | x_i, x_0) = N(μ̃_i, β̃_i Σ) of a discrete schedule, i ∈ 1 … T (docs/math.md §4;
    /// §4). At i = 1 (ᾱ_0 = 1) it is the point mass at x_0: a = 0, b = 1, β̃_1 = 0.
    public init(step i: Int, schedule: DiscreteSchedule) throws(ArgumentError) {
        guard (1...schedule.stepCount).contains(i) else {
            throw ArgumentError("step", "must be in 1...\(schedule.stepCount), got \(i)")
        }
        let noise = NoiseCovariance.identity(dimension: 1)
        try self.init(marginal: ForwardKernel(toStep: i - 1, schedule: schedule, noise: noise),
                      transition: ForwardKernel(step: i, schedule: schedule, noise: noise))
    }

    /// q(x_s | x_t, x_0) for times s < t of a continuous schedule (docs/math.md §4):
    /// N((α_{t|s}σ_s²/σ_t²) x_t + (α_s σ²_{t|s}/σ_t²) x_0, (σ²_{t|s}σ_s²/σ_t²) Σ).
    /// Throws a ``ScheduleError`` for a time outside the range, an ``ArgumentError`` if s > t.
    public init(from t: Double, to s: Double, schedule: Schedule) throws {
        let noise = NoiseCovariance.identity(dimension: 1)
        try self.init(marginal: ForwardKernel(t: s, schedule: schedule, noise: noise),
                      transition: ForwardKernel(from: s, to: t, schedule: schedule, noise: noise))
    }

    /// q(x_s | x_t, x_0) from the noise level `level` (α_t, σ_t) back to a less noisy `target`
    /// (α_s, σ_s, with λ_s ≥ λ_t, λ = log(α/σ)). As in ``ForwardKernel/init(from:to:schedule:noise:)``,
    /// σ²_{t|s} = −σ_t² expm1(2(λ_t − λ_s)) is never negative and is exact at σ_s = 0 (the
    /// posterior of x_0 itself: a = 0, b = 1, v = 0).
    public init(from level: NoiseLevel, to target: NoiseLevel) throws(ArgumentError) {
        let (alphaT, sigmaT, alphaS, sigmaS) = (level.alpha, level.sigma, target.alpha, target.sigma)
        guard alphaS > 0, alphaT >= 0, sigmaT > 0, sigmaS >= 0, alphaS.isFinite, sigmaT.isFinite else {
            throw ArgumentError("noise levels", "need α_s > 0, α_t ≥ 0, σ_t > 0, σ_s ≥ 0 (finite)")
        }
        let logSNRDifference = log(alphaT / sigmaT) - log(alphaS / sigmaS)
        guard logSNRDifference <= 1e-12 else {
            throw ArgumentError("noise levels", "the target must be earlier (less noisy) than the start: "
                                + "λ_s − λ_t = \(-logSNRDifference)")
        }
        let noise = NoiseCovariance.identity(dimension: 1)
        let fraction = -expm1(2 * min(logSNRDifference, 0))
        try self.init(marginal: ForwardKernel(alpha: alphaS, sigma: sigmaS, noise: noise),
                      transition: ForwardKernel(alpha: alphaT / alphaS, sigma: sigmaT * fraction.squareRoot(),
                                                noise: noise))
    }

    /// The posterior mean a x_t + b x_0 for each pair of rows of `xt` and `x0` (B×D each).
    public func mean(xt: Matrix, x0: Matrix) throws(ArgumentError) -> Matrix {
        try requireSameShape(xt, x0, "x0")
        var m = xt
        for e in m.elements.indices {
            m.elements[e] = xtCoefficient * xt.elements[e] + x0Coefficient * x0.elements[e]
        }
        return m
    }
}
