import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// A denoiser: an estimate of E[x_0 | x_t] for each row of a batch of points (B×D) at time t.
public typealias DenoiserFunction = (_ x: Matrix, _ t: Double) throws -> Matrix

/// Tweedie's formula and its relatives under q(x_t | x_0) = N(α x_0, σ² Σ) (docs/math.md §3),
/// for any score or denoiser:
///
/// - first order: x̂_0 = E[x_0 | x_t] = (x + σ² Σ ∇log p_t(x)) / α, and its inverse, the
///   denoiser-to-score identity s = (σ²Σ)⁻¹(α x̂_0 − x);
/// - second order: Cov[x_0 | x_t] = (σ²/α²)(Σ + σ² Σ H Σ) with H = ∇² log p_t(x);
/// - the small-noise posterior (docs/math.md §3.6): p(x_0 | y) ≈ N(y + σ²Σ ∇log p_0(y), σ²Σ) for
///   y = x_0 + σ R n.
///
/// Products with Σ and Σ⁻¹ go through its Cholesky factor (two triangular operations per row).
///
/// ```swift
/// let x0Hat = try TweedieFormula.denoised(x, score: s, alpha: 0.8, sigma: 0.6, noise: noise)
/// let s2 = try TweedieFormula.score(x, denoised: x0Hat, alpha: 0.8, sigma: 0.6, noise: noise)  // = s
/// ```
public enum TweedieFormula {
    /// x̂_0 = (x + σ² Σ s) / α for each row x with score s = ∇log p_t(x) (docs/math.md §3, Tweedie;
    /// §3.1, with Σ and α). Needs α > 0.
    public static func denoised(_ x: Matrix, score: Matrix, alpha: Double, sigma: Double,
                                noise: NoiseCovariance) throws(ArgumentError) -> Matrix {
        try validate(x, alpha: alpha, sigma: sigma, noise: noise)
        try requireSameShape(x, score, "score")
        let sigma2 = sigma * sigma
        var y = noise.applyingCovariance(to: score)
        for e in y.elements.indices { y.elements[e] = (x.elements[e] + sigma2 * y.elements[e]) / alpha }
        return y
    }

    /// s = (σ²Σ)⁻¹(α x̂_0 − x) for each row x with denoised estimate x̂_0 (docs/math.md §3, the
    /// denoiser-to-score identity of §3.1), computed as L⁻ᵀL⁻¹(α x̂_0 − x)/σ².
    public static func score(_ x: Matrix, denoised: Matrix, alpha: Double, sigma: Double,
                             noise: NoiseCovariance) throws(ArgumentError) -> Matrix {
        try validate(x, alpha: alpha, sigma: sigma, noise: noise, allowsZeroAlpha: true)
        try requireSameShape(x, denoised, "denoised")
        var r = x
        for e in r.elements.indices { r.elements[e] = alpha * denoised.elements[e] - x.elements[e] }
        var s = noise.applyingInverseCovariance(to: r)
        let precision = 1 / (sigma * sigma)
        for e in s.elements.indices { s.elements[e] *= precision }
        return s
    }

    /// Σ s = (α x̂_0 − x)/σ² for each row x with denoised estimate x̂_0 at `level` (docs/math.md
    /// §3.1): the score premultiplied by Σ, which is what the reverse SDE and Langevin steps add,
    /// with no product with Σ⁻¹ at all.
    public static func covarianceTimesScore(_ x: Matrix, denoised: Matrix, at level: NoiseLevel) -> Matrix {
        (level.alpha * denoised - x) / (level.sigma * level.sigma)
    }

    /// Cov[x_0 | x_t] = (σ²/α²)(Σ + σ² Σ H Σ) for one point, given the D×D Hessian
    /// H = ∇² log p_t at it (docs/math.md §3, second-order Tweedie).
    /// Σ H Σ is formed by applying Σ through its factor to the rows of H and then of (HΣ)ᵀ.
    public static func posteriorCovariance(hessian: Matrix, alpha: Double, sigma: Double,
                                           noise: NoiseCovariance) throws(ArgumentError) -> Matrix {
        let d = noise.dimension
        guard hessian.rows == d, hessian.columns == d else {
            throw ArgumentError("hessian", "must be \(d)×\(d), got \(hessian.rows)×\(hessian.columns)")
        }
        try validate(alpha: alpha, sigma: sigma)
        // Rows of H Σ are (Σ h_i)ᵀ; then rows of Σ (H Σ)ᵀ-transposed give Σ H Σ.
        let hSigma = noise.applyingCovariance(to: hessian)
        let sigmaHSigma = noise.applyingCovariance(to: hSigma.transposed)
        let dense = noise.denseMatrix
        let sigma2 = sigma * sigma, scale = sigma2 / (alpha * alpha)
        var c = Matrix(rows: d, columns: d)
        for i in 0..<d {
            for j in 0..<d { c[i, j] = scale * (dense[i, j] + sigma2 * sigmaHSigma[i, j]) }
        }
        return c.symmetrized
    }

    /// The small-noise Gaussian approximation of the posterior (docs/math.md §3.6, last
    /// item), with Σ: for y = x_0 + σ R n, p(x_0 | y) ≈ N(y + σ² Σ ∇log p_0(y), σ² Σ), given the
    /// score of the *clean* density at each row y. Returns the means (B×D) and the multiple σ²
    /// of Σ in the covariance. It is first-order Tweedie at α = 1 with ∇log p_0 in place of
    /// ∇log p_σ, so it agrees with E[x_0 | y] up to O(σ⁴).
    public static func smallNoisePosterior(
        _ y: Matrix, score: Matrix, sigma: Double, noise: NoiseCovariance
    ) throws(ArgumentError) -> (mean: Matrix, variance: Double) {
        (try denoised(y, score: score, alpha: 1, sigma: sigma, noise: noise), sigma * sigma)
    }

    /// The denoiser x̂_0(x, t) = (x + σ_t² Σ s(x, t)) / α_t of a score model (first-order
    /// Tweedie at the schedule's α_t, σ_t).
    public static func denoiser(score: @escaping ScoreFunction, schedule: Schedule,
                                noise: NoiseCovariance) -> DenoiserFunction {
        { x, t in
            let c = try schedule.coefficients(at: t)
            return try denoised(x, score: score(x, t), alpha: c.alpha, sigma: c.sigma, noise: noise)
        }
    }

    /// The score s(x, t) = (σ_t²Σ)⁻¹(α_t x̂_0(x, t) − x) of a denoiser (§3.1's
    /// denoiser-to-score identity at the schedule's α_t, σ_t).
    public static func scoreFunction(denoiser: @escaping DenoiserFunction, schedule: Schedule,
                                     noise: NoiseCovariance) -> ScoreFunction {
        { x, t in
            let c = try schedule.coefficients(at: t)
            return try score(x, denoised: denoiser(x, t), alpha: c.alpha, sigma: c.sigma, noise: noise)
        }
    }

    private static func validate(_ x: Matrix, alpha: Double, sigma: Double, noise: NoiseCovariance,
                                 allowsZeroAlpha: Bool = false) throws(ArgumentError) {
        try requireColumns(x, noise.dimension, "x")
        try validate(alpha: alpha, sigma: sigma, allowsZeroAlpha: allowsZeroAlpha)
    }

    private static func validate(alpha: Double, sigma: Double, allowsZeroAlpha: Bool = false) throws(ArgumentError) {
        guard alpha.isFinite, allowsZeroAlpha ? alpha >= 0 : alpha > 0 else {
            throw ArgumentError("alpha", "must be finite and \(allowsZeroAlpha ? "≥ 0" : "> 0"), got \(alpha)")
        }
        guard sigma.isFinite, sigma > 0 else { throw ArgumentError("sigma", "must be finite and > 0, got \(sigma)") }
    }
}
