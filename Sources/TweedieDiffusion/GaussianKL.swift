import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// Kullback–Leibler divergences between Gaussians, in nats: KL(P ‖ Q) = E_P[log p − log q]
/// with P = N(mean, covariance) and Q the reference N(referenceMean, referenceCovariance).
///
/// Two forms: a dense one for any two positive-definite covariances, and the Σ-shaped closed form
/// of docs/math.md §4 (the DDPM loss term) for covariances u²Σ and v²Σ sharing the noise shape Σ,
/// which needs only Σ's Cholesky factor. Neither forms a matrix inverse.
///
/// ```swift
/// let kl = try GaussianKL.divergence(mean: m1, covariance: s1, referenceMean: m2, referenceCovariance: s2)
/// let perRow = try GaussianKL.divergence(means: a, variance: u2, referenceMeans: b,
///                                        referenceVariance: v2, noise: noise)
/// ```
public enum GaussianKL {
    /// KL(N(m₁, S₁) ‖ N(m₂, S₂)) = ½[tr(S₂⁻¹S₁) + (m₂ − m₁)ᵀS₂⁻¹(m₂ − m₁) − D + log det S₂ − log det S₁]
    /// for positive-definite S₁, S₂ (the general form of which docs/math.md §4's Σ-shaped KL is a case).
    ///
    /// With the Cholesky factors S₁ = L₁L₁ᵀ and S₂ = L₂L₂ᵀ: tr(S₂⁻¹S₁) = ‖L₂⁻¹L₁‖²_F, the
    /// quadratic form is ‖L₂⁻¹(m₂ − m₁)‖², and log det S = 2 Σ log L_ii; triangular solves only.
    /// Throws a ``LinearAlgebraError`` if either covariance is not positive definite and an
    /// ``ArgumentError`` if the shapes disagree.
    public static func divergence(mean m1: [Double], covariance s1: Matrix,
                                  referenceMean m2: [Double], referenceCovariance s2: Matrix) throws -> Double {
        let d = m1.count
        guard s1.rows == d, s1.columns == d else {
            throw ArgumentError("covariance", "must be \(d)×\(d), got \(s1.rows)×\(s1.columns)")
        }
        guard m2.count == d else { throw ArgumentError("referenceMean", "has \(m2.count) coordinates, expected \(d)") }
        guard s2.rows == d, s2.columns == d else {
            throw ArgumentError("referenceCovariance", "must be \(d)×\(d), got \(s2.rows)×\(s2.columns)")
        }
        let l1 = try CholeskyFactor(s1), l2 = try CholeskyFactor(s2)
        // M = L₂⁻¹ L₁ and w = L₂⁻¹ (m₂ − m₁), solved in place.
        var m = l1.lower.elements
        var w = zip(m2, m1).map { $0 - $1 }
        l2.lower.elements.withUnsafeBufferPointer { l in
            m.withUnsafeMutableBufferPointer { p in
                BLAS.solveLowerTriangular(.left, .none, n: d, lower: l.baseAddress!, rows: d, columns: d,
                                          b: p.baseAddress!, ldb: d)
            }
            w.withUnsafeMutableBufferPointer { p in
                BLAS.solveLowerTriangular(.left, .none, n: d, lower: l.baseAddress!, rows: d, columns: 1,
                                          b: p.baseAddress!, ldb: 1)
            }
        }
        let trace = m.reduce(0) { $0 + $1 * $1 }
        let quadratic = w.reduce(0) { $0 + $1 * $1 }
        let logDeterminantRatio = 2 * (l2.logDeterminant - l1.logDeterminant)
        return 0.5 * (trace + quadratic - Double(d) + logDeterminantRatio)
    }

    /// KL(N(a, u²Σ) ‖ N(b, v²Σ)) = ½[D u²/v² − D + D log(v²/u²) + (a − b)ᵀΣ⁻¹(a − b)/v²]
    /// (docs/math.md §4), given D, u² = `variance`, v² = `referenceVariance` and the squared
    /// Mahalanobis distance (a − b)ᵀΣ⁻¹(a − b).
    ///
    /// The variance part D(r − 1 − log r), r = u²/v², is evaluated as D(δ − log1p(δ)) with
    /// δ = (u² − v²)/v², exact at u² = v². u² = 0 < v² (a point mass against a density) gives +∞.
    public static func divergence(dimension: Int, variance u2: Double, referenceVariance v2: Double,
                                  squaredMahalanobisDistance distance: Double) -> Double {
        precondition(u2 >= 0 && v2 > 0, "variances must be u² ≥ 0 and v² > 0, got u² = \(u2), v² = \(v2)")
        if u2 == 0 { return .infinity }
        let delta = (u2 - v2) / v2
        return 0.5 * (Double(dimension) * (delta - log1p(delta)) + distance / v2)
    }

    /// KL(N(a, u²Σ) ‖ N(b, v²Σ)) for each pair of rows a of `means` and b of `referenceMeans`
    /// (docs/math.md §4), with (a − b)ᵀΣ⁻¹(a − b) = ‖L⁻¹(a − b)‖² by one triangular solve per row.
    public static func divergence(means a: Matrix, variance u2: Double, referenceMeans b: Matrix,
                                  referenceVariance v2: Double,
                                  noise: NoiseCovariance) throws(ArgumentError) -> [Double] {
        try requireColumns(a, noise.dimension, "means")
        try requireSameShape(a, b, "referenceMeans")
        guard u2 >= 0, u2.isFinite else { throw ArgumentError("variance", "must be finite and ≥ 0, got \(u2)") }
        guard v2 > 0, v2.isFinite else { throw ArgumentError("referenceVariance", "must be finite and > 0, got \(v2)") }
        var difference = a
        for e in difference.elements.indices { difference.elements[e] -= b.elements[e] }
        return noise.squaredMahalanobisNorms(of: difference).map {
            divergence(dimension: noise.dimension, variance: u2, referenceVariance: v2, squaredMahalanobisDistance: $0)
        }
    }
}
