import Foundation
import TweedieLinearAlgebra

/// The covariance types of scikit-learn's `GaussianMixture`, plus `dirac` (Λ_k = 0).
public enum CovarianceType: String, CaseIterable, Sendable, Codable {
    case full, tied, diag, spherical, dirac
}

/// Component covariances Λ_k of a mixture, in the most compact form that holds them.
public enum ComponentCovariances: Sendable, Equatable {
    /// One D×D matrix per component.
    case full([Matrix])
    /// One D×D matrix shared by all components.
    case tied(Matrix)
    /// Λ_k = diag(row k): a K×D matrix of variances.
    case diagonal(Matrix)
    /// Λ_k = v_k I.
    case spherical([Double])
    /// Λ_k = 0: each component is a point mass at its mean (an empirical distribution).
    case dirac

    public var type: CovarianceType {
        switch self {
        case .full: .full
        case .tied: .tied
        case .diagonal: .diag
        case .spherical: .spherical
        case .dirac: .dirac
        }
    }
}

/// A Gaussian mixture p_0 = Σ_k π_k N(μ_k, Λ_k) with Λ_k ⪰ 0 (docs/math.md §1).
///
/// Validated on construction: weights non-negative and summing to one (within 1e-9), every
/// number finite, every covariance symmetric and positive semi-definite.
public struct GaussianMixture: Sendable, Equatable {
    /// π_k.
    public let weights: [Double]
    /// μ_k as the rows of a K×D matrix.
    public let means: Matrix
    public let covariances: ComponentCovariances

    public var componentCount: Int { weights.count }
    public var dimension: Int { means.columns }
    public var covarianceType: CovarianceType { covariances.type }

    public init(weights: [Double], means: Matrix, covariances: ComponentCovariances) throws(ModelError) {
        let k = weights.count, d = means.columns
        guard k > 0 else { throw ModelError("weights", "a mixture needs at least one component") }
        guard d > 0 else { throw ModelError("means", "the dimension must be at least 1") }
        guard means.rows == k else {
            throw ModelError("means", "has \(means.rows) rows but there are \(k) weights")
        }
        try requireFinite(weights, "weights")
        if let i = weights.firstIndex(where: { $0 < 0 }) {
            throw ModelError("weights", "weight \(i) is negative (\(weights[i]))")
        }
        let total = weights.reduce(0, +)
        guard abs(total - 1) <= weightSumTolerance else {
            throw ModelError("weights", "sum to \(total), not 1 (tolerance \(weightSumTolerance))")
        }
        try requireFinite(means.elements, "means")

        var checked = covariances
        switch covariances {
        case .full(let matrices):
            guard matrices.count == k else {
                throw ModelError("covariances", "has \(matrices.count) matrices for \(k) components")
            }
            var symmetric: [Matrix] = []
            for (i, m) in matrices.enumerated() {
                symmetric.append(try Self.validatedCovariance(m, dimension: d, field: "covariances[\(i)]"))
            }
            checked = .full(symmetric)
        case .tied(let m):
            checked = .tied(try Self.validatedCovariance(m, dimension: d, field: "covariances"))
        case .diagonal(let v):
            guard v.rows == k, v.columns == d else {
                throw ModelError("covariances", "diag covariances must be \(k)×\(d), got \(v.rows)×\(v.columns)")
            }
            for i in 0..<k {
                let row = v.row(i)
                try requireFinite(row, "covariances[\(i)]")
                if let j = row.firstIndex(where: { $0 < 0 }) {
                    throw ModelError("covariances[\(i)]", "variance \(j) is negative (\(row[j]))")
                }
            }
        case .spherical(let v):
            guard v.count == k else {
                throw ModelError("covariances", "spherical covariances need \(k) variances, got \(v.count)")
            }
            try requireFinite(v, "covariances")
            if let i = v.firstIndex(where: { $0 < 0 }) {
                throw ModelError("covariances[\(i)]", "variance is negative (\(v[i]))")
            }
        case .dirac:
            break
        }
        self.weights = weights
        self.means = means
        self.covariances = checked
    }

    /// Checks a D×D covariance: finite, symmetric (relative 1e-8; then symmetrized), and
    /// positive semi-definite (smallest eigenvalue ≥ −1e-10 × largest).
    static func validatedCovariance(_ m: Matrix, dimension d: Int, field: String) throws(ModelError) -> Matrix {
        guard m.rows == d, m.columns == d else {
            throw ModelError(field, "must be \(d)×\(d), got \(m.rows)×\(m.columns)")
        }
        try requireFinite(m.elements, field)
        let asymmetry = m.relativeAsymmetry
        guard asymmetry <= symmetryTolerance else {
            throw ModelError(field, "is not symmetric (relative asymmetry \(asymmetry))")
        }
        let s = m.symmetrized
        if (try? CholeskyFactor(s)) != nil { return s }
        // Not positive definite: allow positive semi-definite (rank-deficient) covariances.
        let eig: SymmetricEigendecomposition
        do { eig = try SymmetricEigendecomposition(s) } catch {
            throw ModelError(field, "eigendecomposition failed (\(error))")
        }
        let largest = eig.values.map(abs).max() ?? 0
        if let smallest = eig.values.first, smallest < -1e-10 * max(largest, .leastNormalMagnitude) {
            throw ModelError(field, "is not positive semi-definite (smallest eigenvalue \(smallest))")
        }
        return s
    }

    /// Λ_k as a dense D×D matrix.
    public func covariance(of k: Int) -> Matrix {
        switch covariances {
        case .full(let m): m[k]
        case .tied(let m): m
        case .diagonal(let v): Matrix.diagonal(v.row(k))
        case .spherical(let v): Matrix.diagonal([Double](repeating: v[k], count: dimension))
        case .dirac: Matrix(rows: dimension, columns: dimension)
        }
    }

    /// The covariance of p_0 by the law of total covariance, Σ_k π_k Λ_k + Σ_k π_k (μ_k − μ)(μ_k − μ)ᵀ,
    /// the second term as one product of the centred means (nothing in it cancels).
    public var covariance: Matrix {
        let (k, d) = (componentCount, dimension)
        let mu = mean
        var centred = Matrix(rows: k, columns: d)
        for c in 0..<k {
            let scale = weights[c].squareRoot()
            for i in 0..<d { centred[c, i] = scale * (means[c, i] - mu[i]) }
        }
        var total = BLAS.product(centred, .transpose, centred, .none)
        switch covariances {
        case .dirac: break
        case .tied(let m): total += m
        default:
            for c in 0..<k where weights[c] > 0 { total += weights[c] * covariance(of: c) }
        }
        return total.symmetrized
    }

    /// The Gaussian with the mean and covariance of p_0 (its moment-matched, maximum-likelihood fit).
    public var gaussianFit: GaussianMixture {
        get throws(ModelError) {
            try GaussianMixture(weights: [1], means: Matrix([mean]), covariances: .full([covariance]))
        }
    }

    /// The mean of p_0: Σ_k π_k μ_k.
    public var mean: [Double] {
        var m = [Double](repeating: 0, count: dimension)
        for k in 0..<componentCount {
            for i in 0..<dimension { m[i] += weights[k] * means[k, i] }
        }
        return m
    }
}
