import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// Transitions of the forward process between two times, and composition of kernels
/// (docs/math.md §1, §4).
///
/// A ``ForwardKernel`` is any Σ-shaped Gaussian kernel x ↦ N(α x, σ² Σ). Besides the marginal
/// q(x_t | x_0), the forward process has one between any two times s < t,
/// q(x_t | x_s) = N(α_{t|s} x_s, σ²_{t|s} Σ), and, for a discrete schedule, the one-step kernel
/// q(x_i | x_{i−1}) = N(√(1 − β_i) x_{i−1}, β_i Σ). Kernels compose: following
/// N(a₁ x, v₁ Σ) by N(a₂ y, v₂ Σ) gives N(a₂a₁ x, (a₂²v₁ + v₂) Σ), which is how one proves
/// q(x_i | x_0) = N(√ᾱ_i x_0, (1 − ᾱ_i) Σ) by induction.
///
/// ```swift
/// let step = try ForwardKernel(from: 0.3, to: 0.5, schedule: .vpLinear(), noise: noise)
/// let marginal = try ForwardKernel(t: 0.3, schedule: .vpLinear(), noise: noise).followed(by: step)
/// // marginal ≈ ForwardKernel(t: 0.5, …)
/// ```
extension ForwardKernel {
    /// q(x_t | x_s) = N(α_{t|s} x_s, σ²_{t|s} Σ) for times s ≤ t of `schedule` (docs/math.md §4):
    /// α_{t|s} = α_t/α_s and σ²_{t|s} = σ_t² − α²_{t|s} σ_s².
    ///
    /// σ²_{t|s} is evaluated as σ_t² (1 − e^{2(λ_t − λ_s)}) = −σ_t² expm1(2(λ_t − λ_s)) with
    /// λ = log(α/σ), the same quantity (divide σ_t² − α_t²σ_s²/α_s² by σ_t²). As λ decreases in
    /// t it is never negative (the difference form can round below 0 when s ≈ t), and it is exact
    /// at s = t (the identity kernel), at σ_s = 0 (λ_s = +∞, giving σ_t²) and at α_t = 0
    /// (λ_t = −∞). Throws a ``ScheduleError`` for a time outside the schedule's range and an
    /// ``ArgumentError`` if s > t or α_s = 0.
    public init(from s: Double, to t: Double, schedule: Schedule, noise: NoiseCovariance) throws {
        let cs = try schedule.coefficients(at: s), ct = try schedule.coefficients(at: t)
        guard s <= t else { throw ArgumentError("s", "must not exceed t = \(t), got \(s)") }
        if s == t {
            try self.init(alpha: 1, sigma: 0, noise: noise)
            return
        }
        guard cs.alpha > 0 else {
            throw ArgumentError("s", "α_s = 0 at s = \(s): x_t does not depend on x_s")
        }
        let varianceFraction = -expm1(2 * (ct.logSNR - cs.logSNR))
        try self.init(alpha: ct.alpha / cs.alpha, sigma: ct.sigma * varianceFraction.squareRoot(), noise: noise)
    }

    /// The one-step kernel of a discrete schedule, q(x_i | x_{i−1}) = N(√(1 − β_i) x_{i−1}, β_i Σ)
    /// for i ∈ 1 … T (docs/math.md §4; the forward kernel).
    public init(step i: Int, schedule: DiscreteSchedule, noise: NoiseCovariance) throws(ArgumentError) {
        guard (1...schedule.stepCount).contains(i) else {
            throw ArgumentError("step", "must be in 1...\(schedule.stepCount), got \(i)")
        }
        let beta = schedule.beta(step: i)
        try self.init(alpha: (1 - beta).squareRoot(), sigma: beta.squareRoot(), noise: noise)
    }

    /// q(x_i | x_j) of a discrete schedule for steps 0 ≤ j ≤ i ≤ T: N(√(ᾱ_i/ᾱ_j) x_j, (1 − ᾱ_i/ᾱ_j) Σ)
    /// (docs/math.md §4 with α_{t|s} = √(ᾱ_i/ᾱ_j)). With j = 0 it is the marginal
    /// q(x_i | x_0) = N(√ᾱ_i x_0, (1 − ᾱ_i) Σ) of §4.1. The ratio is taken in log space,
    /// ᾱ_i/ᾱ_j = exp(log ᾱ_i − log ᾱ_j), and 1 − ᾱ_i/ᾱ_j = −expm1(log ᾱ_i − log ᾱ_j).
    public init(fromStep j: Int = 0, toStep i: Int, schedule: DiscreteSchedule,
                noise: NoiseCovariance) throws(ArgumentError) {
        guard (0...schedule.stepCount).contains(i) else {
            throw ArgumentError("toStep", "must be in 0...\(schedule.stepCount), got \(i)")
        }
        guard (0...i).contains(j) else { throw ArgumentError("fromStep", "must be in 0...\(i), got \(j)") }
        let logRatio = schedule.logAlphaBars[i] - schedule.logAlphaBars[j]
        try self.init(alpha: exp(0.5 * logRatio), sigma: (-expm1(logRatio)).squareRoot(), noise: noise)
    }

    /// σ², the multiple of Σ in the kernel's covariance.
    public var variance: Double { sigma * sigma }

    /// α x for each row x of `x`: the kernel's mean given the conditioning points.
    public func mean(given x: Matrix) -> Matrix {
        Matrix(rows: x.rows, columns: x.columns, elements: x.elements.map { alpha * $0 })
    }

    /// This kernel followed by `next`: x ↦ N(a₁ x, v₁ Σ) then y ↦ N(a₂ y, v₂ Σ) is
    /// x ↦ N(a₂a₁ x, (a₂² v₁ + v₂) Σ) (the induction step of §4.1, with Σ). Both kernels
    /// must share Σ.
    public func followed(by next: ForwardKernel) -> ForwardKernel {
        precondition(noise == next.noise, "kernels with different noise covariances do not compose")
        let a = next.alpha * alpha
        let v = next.alpha * next.alpha * variance + next.variance
        do { return try ForwardKernel(alpha: a, sigma: v.squareRoot(), noise: noise) } catch {
            preconditionFailure("composition of valid kernels is valid: \(error)")
        }
    }

    /// log N(y; α x, σ² Σ) for each pair of rows (x, y) (σ > 0):
    /// −½‖L⁻¹(y − αx)‖²/σ² − (D/2) log(2πσ²) − log|det L|.
    public func logDensity(of y: Matrix, given x: Matrix) throws(ArgumentError) -> [Double] {
        try requireColumns(x, dimension, "x")
        try requireSameShape(x, y, "y")
        guard sigma > 0 else { throw ArgumentError("sigma", "the kernel is degenerate (σ = 0): no density") }
        var residual = y
        for e in residual.elements.indices { residual.elements[e] -= alpha * x.elements[e] }
        let norms = noise.squaredMahalanobisNorms(of: residual)
        let constant = 0.5 * Double(dimension) * (logTwoPi + log(variance)) + noise.logDeterminantOfFactor
        return norms.map { -0.5 * $0 / variance - constant }
    }
}
