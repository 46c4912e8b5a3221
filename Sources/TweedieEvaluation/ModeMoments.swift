import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The first two moments of the points assigned to each mode of p_0, against the component's
/// own mean μ_k and covariance Λ_k.
///
/// Points are assigned by k̂(x) = argmax_k p(k | x_0 = x) (``ModeAssigner``). For a mode with
/// n_k ≥ ``minimumCount(dimension:)`` assigned points x_1 … x_{n_k}, with x̄_k their mean and
/// Ŝ_k = Σ (x_i − x̄_k)(x_i − x̄_k)ᵀ/(n_k − 1) their sample covariance,
///
///     mean error        e_k = ‖x̄_k − μ_k‖
///     covariance error  f_k = ‖Ŝ_k − Λ_k‖_F / ‖Λ_k‖_F   (modes with Λ_k ≠ 0 only)
///
/// and the reported figures average them with the mixture weights over the modes that qualify,
/// ē = Σ π_k e_k / Σ π_k. Modes with too few points are left out (a missing mode shows in the
/// mode-weight TV instead). Assigning by the posterior cuts the tails where modes overlap, which
/// biases Ŝ_k slightly; exact samples of p_0 carry the same bias, so the figures of an exact set
/// (the noise floors) are the fair reference, of order ‖Λ_k‖^{1/2}/√n_k and √(2/n_k).
public struct ModeMoments: Sendable, Equatable {
    /// n_k, points assigned to each mode.
    public let counts: [Int]
    /// e_k, or nil for a mode with too few points.
    public let meanErrors: [Double?]
    /// f_k, or nil for a mode with too few points or Λ_k = 0.
    public let covarianceErrors: [Double?]
    /// π_k.
    public let weights: [Double]

    /// The fewest assigned points for which a mode's moments are compared: max(10, D + 1).
    public static func minimumCount(dimension: Int) -> Int { max(10, dimension + 1) }

    /// Compares the rows of `points` (n×D) with their modes; `assignments` are k̂ of each row
    /// (−1 for unassigned rows, which are skipped).
    public init(of points: Matrix, assignments: [Int], mixture: GaussianMixture) {
        precondition(assignments.count == points.rows, "one assignment per point")
        precondition(points.columns == mixture.dimension, "points and mixture of different dimensions")
        let k = mixture.componentCount, d = mixture.dimension
        var members = [[Int]](repeating: [], count: k)
        for (r, c) in assignments.enumerated() where c >= 0 { members[c].append(r) }
        let minimum = Self.minimumCount(dimension: d)
        var meanErrors = [Double?](repeating: nil, count: k)
        var covarianceErrors = [Double?](repeating: nil, count: k)
        meanErrors.withUnsafeMutableBufferPointer { meanOut in
            covarianceErrors.withUnsafeMutableBufferPointer { covarianceOut in
                let out = UncheckedSendable((meanOut.baseAddress!, covarianceOut.baseAddress!))
                Parallel.forEach(k) { c in
                    let rows = members[c]
                    guard rows.count >= minimum else { return }
                    let n = rows.count
                    var centred = Matrix(rows: n, columns: d)
                    var mean = [Double](repeating: 0, count: d)
                    for r in rows { for i in 0..<d { mean[i] += points[r, i] } }
                    mean = mean.map { $0 / Double(n) }
                    var squared = 0.0
                    for i in 0..<d { squared += (mean[i] - mixture.means[c, i]) * (mean[i] - mixture.means[c, i]) }
                    out.value.0[c] = squared.squareRoot()

                    let lambda = mixture.covariance(of: c)
                    let scale = lambda.elements.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    guard scale > 0 else { return }
                    for (a, r) in rows.enumerated() { for i in 0..<d { centred[a, i] = points[r, i] - mean[i] } }
                    // Ŝ_k = CᵀC/(n − 1) by a symmetric rank-n update.
                    var covariance = Matrix(rows: d, columns: d)
                    centred.elements.withUnsafeBufferPointer { pc in
                        covariance.elements.withUnsafeMutableBufferPointer { ps in
                            BLAS.gram(pc.baseAddress!, k: n, n: d, lda: d, alpha: 1 / Double(n - 1),
                                      c: ps.baseAddress!, ldc: d)
                        }
                    }
                    var difference = 0.0
                    for i in 0..<(d * d) {
                        let e = covariance.elements[i] - lambda.elements[i]
                        difference += e * e
                    }
                    out.value.1[c] = difference.squareRoot() / scale
                }
            }
        }
        counts = members.map(\.count)
        self.meanErrors = meanErrors
        self.covarianceErrors = covarianceErrors
        weights = mixture.weights
    }

    /// Σ π_k e_k / Σ π_k over the modes with a mean error; nil when there are none.
    public var meanError: Double? { Self.weightedMean(meanErrors, weights) }

    /// Σ π_k f_k / Σ π_k over the modes with a covariance error; nil when there are none.
    public var covarianceError: Double? { Self.weightedMean(covarianceErrors, weights) }

    /// Modes whose moments were compared.
    public var comparedModes: Int { meanErrors.lazy.filter { $0 != nil }.count }

    static func weightedMean(_ values: [Double?], _ weights: [Double]) -> Double? {
        var sum = 0.0, total = 0.0
        for (value, weight) in zip(values, weights) {
            if let value, weight > 0 {
                sum += weight * value
                total += weight
            }
        }
        return total > 0 ? sum / total : nil
    }
}
