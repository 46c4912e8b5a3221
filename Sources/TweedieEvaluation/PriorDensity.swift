import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// Why the exact density of p_0 does not exist: a Dirac component or a singular covariance puts
/// mass on a set of Lebesgue measure zero, so p_0 has no density on R^D.
public struct DensityUnavailable: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The exact density of a Gaussian mixture p_0 = Σ_k π_k N(μ_k, Λ_k) whose covariances are all
/// positive definite, and the component posterior p(k | x_0) of the prior itself.
///
/// With Λ_k = L_k L_kᵀ (LAPACK Cholesky, computed once) and z_k = L_k⁻¹(x − μ_k),
///
///     a_k(x) = log π_k − ½‖z_k‖² − Σ_i log (L_k)_ii − (D/2) log 2π
///     log p_0(x) = m + log Σ_k exp(a_k − m),   m = max_k a_k   (log-sum-exp)
///     p(k | x) = exp(a_k − m) / Σ_j exp(a_j − m).
///
/// Diagonal and spherical covariances skip the factorization (L_k = diag(√v_k)); a tied Λ is
/// factorized once. Components of weight 0 have a_k = −∞ and are never chosen.
public struct PriorDensity: Sendable {
    public let mixture: GaussianMixture
    let factors: [Factor]
    /// log π_k − Σ_i log (L_k)_ii − (D/2) log 2π, the constant part of a_k.
    let constants: [Double]

    enum Factor: Sendable {
        /// The lower Cholesky factor L_k.
        case cholesky(Matrix)
        /// Standard deviations √v_{k,i}.
        case deviations([Double])
    }

    /// Rows per parallel task.
    static let chunkSize = 256

    /// Factorizes every component covariance; throws ``DensityUnavailable`` for a Dirac mixture
    /// or a component whose covariance is singular.
    public init(_ mixture: GaussianMixture) throws(DensityUnavailable) {
        self.mixture = mixture
        let d = mixture.dimension, k = mixture.componentCount
        var factors: [Factor] = []
        var logDeterminants: [Double] = []
        func singular(_ c: Int) -> DensityUnavailable {
            DensityUnavailable("component \(c) has a singular covariance, so p_0 has no density on R^\(d)")
        }
        switch mixture.covariances {
        case .dirac:
            throw DensityUnavailable("the components are point masses (Dirac), so p_0 has no density on R^\(d)")
        case .full(let matrices):
            for (c, lambda) in matrices.enumerated() {
                guard let factor = try? CholeskyFactor(lambda) else { throw singular(c) }
                factors.append(.cholesky(factor.lower))
                logDeterminants.append(factor.logDeterminant)
            }
        case .tied(let lambda):
            guard let factor = try? CholeskyFactor(lambda) else { throw singular(0) }
            factors = Array(repeating: .cholesky(factor.lower), count: k)
            logDeterminants = Array(repeating: factor.logDeterminant, count: k)
        case .diagonal(let variances):
            for c in 0..<k {
                let v = variances.row(c)
                guard v.allSatisfy({ $0 > 0 }) else { throw singular(c) }
                factors.append(.deviations(v.map { $0.squareRoot() }))
                logDeterminants.append(v.reduce(0) { $0 + 0.5 * log($1) })
            }
        case .spherical(let variances):
            for (c, v) in variances.enumerated() {
                guard v > 0 else { throw singular(c) }
                factors.append(.deviations(Array(repeating: v.squareRoot(), count: d)))
                logDeterminants.append(0.5 * Double(d) * log(v))
            }
        }
        self.factors = factors
        let normalization = 0.5 * Double(d) * log(2 * Double.pi)
        constants = (0..<k).map { c in
            mixture.weights[c] > 0 ? log(mixture.weights[c]) - logDeterminants[c] - normalization : -.infinity
        }
    }

    public var dimension: Int { mixture.dimension }
    public var componentCount: Int { mixture.componentCount }

    /// a_k(x) = log π_k + log N(x; μ_k, Λ_k) for each row of `x` (B×D): a B×K matrix.
    public func logJointDensities(_ x: Matrix) -> Matrix {
        precondition(x.columns == dimension, "points have \(x.columns) coordinates, the mixture has \(dimension)")
        let b = x.rows, d = dimension, k = componentCount
        var result = Matrix(rows: b, columns: k)
        result.elements.withUnsafeMutableBufferPointer { output in
            let out = UncheckedSendable(output.baseAddress!)
            Parallel.forEachChunk(of: b, size: Self.chunkSize) { rows in
                var z = [Double](repeating: 0, count: rows.count * d)
                for c in 0..<k {
                    if constants[c] == -.infinity {
                        for row in rows { out.value[row * k + c] = -.infinity }
                        continue
                    }
                    // z = x − μ_k, then z ← z L_k⁻ᵀ (row r becomes L_k⁻¹(x_r − μ_k)).
                    for (r, row) in rows.enumerated() {
                        for i in 0..<d { z[r * d + i] = x.elements[row * d + i] - mixture.means.elements[c * d + i] }
                    }
                    switch factors[c] {
                    case .cholesky(let lower):
                        lower.elements.withUnsafeBufferPointer { l in
                            z.withUnsafeMutableBufferPointer { zp in
                                BLAS.solveLowerTriangular(.right, .transpose, n: d, lower: l.baseAddress!,
                                                          rows: rows.count, columns: d, b: zp.baseAddress!, ldb: d)
                            }
                        }
                    case .deviations(let s):
                        for r in 0..<rows.count { for i in 0..<d { z[r * d + i] /= s[i] } }
                    }
                    for (r, row) in rows.enumerated() {
                        var squared = 0.0
                        for i in 0..<d { squared += z[r * d + i] * z[r * d + i] }
                        out.value[row * k + c] = constants[c] - 0.5 * squared
                    }
                }
            }
        }
        return result
    }

    /// log p_0(x) = log Σ_k π_k N(x; μ_k, Λ_k) for each row of `x` (B×D), by log-sum-exp.
    public func logDensity(_ x: Matrix) -> [Double] {
        let joint = logJointDensities(x)
        let k = joint.columns
        return (0..<x.rows).map { logSumExp(joint.elements[($0 * k)..<(($0 + 1) * k)]) }
    }

    /// p(k | x_0) = π_k N(x_0; μ_k, Λ_k) / p_0(x_0) for each row of `x` (B×D): a B×K matrix
    /// whose rows sum to one.
    public func componentPosterior(_ x: Matrix) -> Matrix {
        var joint = logJointDensities(x)
        let k = componentCount
        for r in 0..<x.rows {
            let m = (0..<k).map { joint[r, $0] }.max() ?? 0
            var sum = 0.0
            for c in 0..<k {
                let w = m.isFinite ? exp(joint[r, c] - m) : 0
                joint[r, c] = w
                sum += w
            }
            for c in 0..<k { joint[r, c] = sum > 0 ? joint[r, c] / sum : .nan }
        }
        return joint
    }

    /// The mean of −log p_0 over the rows of `x`, with its standard error: a Monte Carlo estimate
    /// of the cross-entropy E_q[−log p_0] when the rows are drawn from q, and of the differential
    /// entropy H(p_0) = E_p[−log p_0] when they are exact samples of p_0.
    public func meanNegativeLogDensity(_ x: Matrix) -> MeanEstimate {
        MeanEstimate(logDensity(x).map { -$0 })
    }

}

/// A Monte Carlo mean x̄ = (1/n) Σ v_i with its standard error s/√n, where
/// s² = Σ (v_i − x̄)²/(n − 1) (zero when n < 2).
public struct MeanEstimate: Sendable, Equatable {
    public let mean: Double
    public let standardError: Double
    public let count: Int

    public init(mean: Double, standardError: Double, count: Int) {
        self.mean = mean
        self.standardError = standardError
        self.count = count
    }

    public init(_ values: [Double]) {
        let n = values.count
        let mean = n > 0 ? values.reduce(0, +) / Double(n) : .nan
        var squares = 0.0
        for v in values { squares += (v - mean) * (v - mean) }
        let deviation = n > 1 ? (squares / Double(n - 1)).squareRoot() : 0
        self.init(mean: mean, standardError: n > 0 ? deviation / Double(n).squareRoot() : .nan, count: n)
    }

    /// The difference of two independent estimates: x̄ − ȳ ± √(se_x² + se_y²).
    public func subtracting(_ other: MeanEstimate) -> MeanEstimate {
        MeanEstimate(mean: mean - other.mean,
                     standardError: (standardError * standardError
                                     + other.standardError * other.standardError).squareRoot(),
                     count: min(count, other.count))
    }
}
