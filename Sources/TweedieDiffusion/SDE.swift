import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// A score model: ∇_x log p_t(x) for each row of a batch of points (B×D) at time t.
public typealias ScoreFunction = (_ x: Matrix, _ t: Double) throws -> Matrix

/// The diffusion SDEs of a schedule with noise covariance Σ = R Rᵀ (docs/math.md §5):
///
/// - forward SDE: dx = h_t x dt + g_t R dw;
/// - reverse SDE: dx = (h_t x − g_t² Σ s_t(x)) dt + g_t R dw̄, integrated from t = 1 down to 0
///   (dt < 0, w̄ a Brownian motion in reverse time);
/// - probability-flow ODE: dx/dt = h_t x − ½ g_t² Σ s_t(x), with divergence
///   h_t D − ½ g_t² tr(Σ H_t), H_t = ∇² log p_t;
///
/// with h_t = d/dt log α_t and g_t² = dσ_t²/dt − 2h_tσ_t² from the ``Schedule``. Their marginals
/// are the p_t of q(x_t | x_0) = N(α_t x_0, σ_t² Σ). Σ s is computed as L (Lᵀ s) through the
/// factor, never forming Σ.
///
/// Scores come from any ``ScoreFunction`` (a network, the exact oracle, or
/// ``TweedieFormula/scoreFunction(denoiser:schedule:noise:)`` of a denoiser); every method also
/// takes an already-evaluated score matrix. Times outside the schedule's range throw a
/// ``ScheduleError``.
///
/// ```swift
/// let sde = DiffusionSDE(schedule: .vpLinear(), noise: model.noise)
/// let v = try sde.probabilityFlowVelocity(x, at: 0.5, score: { x, t in
///     try oracle.evaluate(x, at: t, schedule: s).score
/// })
/// ```
public struct DiffusionSDE: Sendable {
    public let schedule: Schedule
    /// Σ = L Lᵀ, the covariance shape of the noise.
    public let noise: NoiseCovariance

    public init(schedule: Schedule, noise: NoiseCovariance) {
        self.schedule = schedule
        self.noise = noise
    }

    public var dimension: Int { noise.dimension }

    /// h_t x for each row: the drift of the forward SDE (docs/math.md §5).
    public func forwardDrift(_ x: Matrix, at t: Double) throws -> Matrix {
        try requireColumns(x, dimension, "x")
        let h = try schedule.coefficients(at: t).drift
        return Matrix(rows: x.rows, columns: x.columns, elements: x.elements.map { h * $0 })
    }

    /// g_t R w for each row w of `standardNormals`: the forward SDE's noise term for a Brownian
    /// increment dw = √dt · w (docs/math.md §5), with R = L.
    public func diffusionTerm(_ standardNormals: Matrix, at t: Double) throws -> Matrix {
        try requireColumns(standardNormals, dimension, "standardNormals")
        let g = try schedule.coefficients(at: t).diffusionSquared.squareRoot()
        var y = noise.applying(.unwhiten, to: standardNormals)
        for e in y.elements.indices { y.elements[e] *= g }
        return y
    }

    /// h_t x − g_t² Σ s for each row: the drift of the reverse SDE (docs/math.md §5), given the
    /// score s = ∇ log p_t(x) of each row.
    public func reverseDrift(_ x: Matrix, at t: Double, score: Matrix) throws -> Matrix {
        try scoreCorrectedDrift(x, at: t, score: score, weight: 1)
    }

    /// The reverse-SDE drift with the score evaluated by `score`.
    public func reverseDrift(_ x: Matrix, at t: Double, score: ScoreFunction) throws -> Matrix {
        try reverseDrift(x, at: t, score: score(x, t))
    }

    /// h_t x − ½ g_t² Σ s for each row: the velocity of the probability-flow ODE (docs/math.md §5),
    /// given the score s = ∇ log p_t(x) of each row.
    public func probabilityFlowVelocity(_ x: Matrix, at t: Double, score: Matrix) throws -> Matrix {
        try scoreCorrectedDrift(x, at: t, score: score, weight: 0.5)
    }

    /// The probability-flow velocity with the score evaluated by `score`.
    public func probabilityFlowVelocity(_ x: Matrix, at t: Double, score: ScoreFunction) throws -> Matrix {
        try probabilityFlowVelocity(x, at: t, score: score(x, t))
    }

    /// ∇·v = h_t D − ½ g_t² tr(Σ H_t) for each point: the divergence of the probability-flow
    /// velocity (docs/math.md §5), given tr(Σ ∇² log p_t) of each point (e.g. the oracle's
    /// `divergence`). d/dt log p_t(x(t)) = −∇·v along an ODE trajectory.
    public func probabilityFlowDivergence(at t: Double, traceOfCovarianceHessian: [Double]) throws -> [Double] {
        let c = try schedule.coefficients(at: t)
        let d = Double(dimension)
        return traceOfCovarianceHessian.map { c.drift * d - 0.5 * c.diffusionSquared * $0 }
    }

    /// h_t x − w g_t² Σ s: the reverse drift (w = 1) and the probability-flow velocity (w = ½).
    private func scoreCorrectedDrift(_ x: Matrix, at t: Double, score: Matrix, weight: Double) throws -> Matrix {
        try requireSameShape(x, score, "score")
        return try scoreCorrectedDrift(x, at: t, covarianceTimesScore: noise.applyingCovariance(to: score),
                                       weight: weight)
    }

    /// h_t x − w g_t² Σ s, given Σ s directly (as a denoiser gives it, ``TweedieFormula``).
    private func scoreCorrectedDrift(_ x: Matrix, at t: Double, covarianceTimesScore sigmaScore: Matrix,
                                     weight: Double) throws -> Matrix {
        try requireColumns(x, dimension, "x")
        try requireSameShape(x, sigmaScore, "covarianceTimesScore")
        let c = try schedule.coefficients(at: t)
        return c.drift * x - (weight * c.diffusionSquared) * sigmaScore
    }

    /// The reverse-SDE drift h_t x − g_t² Σ s given Σ s for each row (a sampler has it from its
    /// denoiser through ``TweedieFormula/covarianceTimesScore(_:denoised:at:)``).
    public func reverseDrift(_ x: Matrix, at t: Double, covarianceTimesScore: Matrix) throws -> Matrix {
        try scoreCorrectedDrift(x, at: t, covarianceTimesScore: covarianceTimesScore, weight: 1)
    }
}
