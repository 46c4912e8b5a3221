import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The time-independent part of the oracle (docs/math.md §2), computed once per model.
///
/// In whitened coordinates y = L⁻¹x the noise is isotropic and the prior is a mixture with
/// means ν_k = L⁻¹μ_k and covariances Γ_k = L⁻¹Λ_kL⁻ᵀ = U_k diag(γ_k) U_kᵀ. Every later call
/// needs only products with U_k and O(D) work per component.
struct WhitenedMixture: Sendable {
    /// How the components' eigenbases are shared; each case removes work the next one needs.
    enum Structure: Sendable {
        /// Λ_k = 0 for all k: γ = 0, no basis at all.
        case dirac
        /// One basis U for all components (tied Λ; spherical Λ; diag Λ with diagonal Σ).
        /// `basis == nil` means U = I. `projectedMeans` holds Uᵀν_k as rows.
        case sharedBasis(basis: Matrix?, basisTransposed: Matrix?, projectedMeans: Matrix)
        /// One basis U_k per component (full Λ_k, or diag Λ_k with a correlated Σ).
        case separateBases(bases: [Matrix], basesTransposed: [Matrix])
    }

    let componentCount: Int
    let dimension: Int
    /// log π_k (−∞ for a zero weight).
    let logWeights: [Double]
    /// μ_k as rows (K×D), data coordinates.
    let means: Matrix
    /// ν_k = L⁻¹μ_k as rows (K×D).
    let whitenedMeans: Matrix
    /// γ_k as rows (K×D), clamped at 0 (all zero for Dirac).
    let eigenvalues: Matrix
    let structure: Structure
    let noise: NoiseCovariance

    init(_ model: MixtureModel) throws(ModelError) {
        let prior = model.prior
        let noise = model.noise
        let k = prior.componentCount, d = prior.dimension
        componentCount = k
        dimension = d
        self.noise = noise
        logWeights = prior.weights.map { $0 > 0 ? log($0) : -.infinity }
        means = prior.means
        whitenedMeans = noise.applying(.whiten, to: prior.means)

        let noiseIsDiagonal: Bool
        let noiseVariances: [Double]
        switch noise.structure {
        case .identity:
            noiseIsDiagonal = true
            noiseVariances = [Double](repeating: 1, count: d)
        case .diagonal(let v):
            noiseIsDiagonal = true
            noiseVariances = v
        case .full, .kronecker:
            noiseIsDiagonal = false
            noiseVariances = []
        }

        // Dirac components have no eigenvalues to keep (γ = 0): a K × D table of zeros would be as
        // large as the data set.
        var gammas = Matrix(rows: k, columns: prior.covarianceType == .dirac ? 0 : d)
        switch prior.covariances {
        case .dirac:
            structure = .dirac

        case .diagonal(let variances) where noiseIsDiagonal:
            for c in 0..<k { for i in 0..<d { gammas[c, i] = variances[c, i] / noiseVariances[i] } }
            structure = .sharedBasis(basis: nil, basisTransposed: nil, projectedMeans: whitenedMeans)

        case .spherical(let variances) where noiseIsDiagonal:
            for c in 0..<k { for i in 0..<d { gammas[c, i] = variances[c] / noiseVariances[i] } }
            structure = .sharedBasis(basis: nil, basisTransposed: nil, projectedMeans: whitenedMeans)

        case .spherical(let variances):
            // Γ_k = v_k L⁻¹L⁻ᵀ: one eigenbasis, eigenvalues scaled per component.
            let eig = try Self.whitenedEigendecomposition(of: .identity(d), noise: noise, field: "noise_covariance")
            for c in 0..<k { for i in 0..<d { gammas[c, i] = variances[c] * eig.values[i] } }
            structure = .sharedBasis(basis: eig.vectors, basisTransposed: eig.vectors.transposed,
                                     projectedMeans: BLAS.product(whitenedMeans, eig.vectors))

        case .tied(let lambda):
            let eig = try Self.whitenedEigendecomposition(of: lambda, noise: noise, field: "covariances")
            for c in 0..<k { gammas.setRow(c, to: eig.values) }
            structure = .sharedBasis(basis: eig.vectors, basisTransposed: eig.vectors.transposed,
                                     projectedMeans: BLAS.product(whitenedMeans, eig.vectors))

        case .full, .diagonal:
            var bases: [Matrix] = []
            for c in 0..<k {
                let eig = try Self.whitenedEigendecomposition(of: prior.covariance(of: c), noise: noise,
                                                              field: "covariances[\(c)]")
                gammas.setRow(c, to: eig.values)
                bases.append(eig.vectors)
            }
            structure = .separateBases(bases: bases, basesTransposed: bases.map(\.transposed))
        }
        eigenvalues = gammas
    }

    /// Γ = L⁻¹ Λ L⁻ᵀ = U diag(γ) Uᵀ with γ clamped at zero. Λ was checked positive
    /// semi-definite; congruence keeps the signs of eigenvalues, so a clearly negative γ means
    /// the check was passed only by rounding and is reported.
    static func whitenedEigendecomposition(of lambda: Matrix, noise: NoiseCovariance,
                                           field: String) throws(ModelError) -> (values: [Double], vectors: Matrix) {
        // Rows of Λ whitened give Λ L⁻ᵀ; whitening the rows of its transpose gives L⁻¹ Λ L⁻ᵀ.
        let half = noise.applying(.whiten, to: lambda)
        let gamma = noise.applying(.whiten, to: half.transposed).symmetrized
        let eig: SymmetricEigendecomposition
        do { eig = try SymmetricEigendecomposition(gamma) } catch {
            throw ModelError(field, "eigendecomposition of the whitened covariance failed (\(error))")
        }
        let largest = eig.values.map(abs).max() ?? 0
        if let smallest = eig.values.first, smallest < -1e-8 * largest {
            throw ModelError(field, "is not positive semi-definite (whitened eigenvalue \(smallest))")
        }
        return (eig.values.map { max($0, 0) }, eig.vectors)
    }

    /// U_k, or nil where U_k = I (or Dirac components, which need no basis).
    func basis(of k: Int) -> Matrix? {
        switch structure {
        case .dirac: nil
        case .sharedBasis(let u, _, _): u
        case .separateBases(let bases, _): bases[k]
        }
    }

    /// U_k diag(σ²γ_k/d_k) U_kᵀ: the covariance of p(x_0 | x_t, k) in whitened coordinates
    /// (docs/math.md §2, V_k = L · Lᵀ of this). It does not depend on x_t.
    func whitenedPosteriorCovariance(_ k: Int, alpha: Double, sigma: Double) -> Matrix {
        let e = (0..<dimension).map { i -> Double in
            let gamma = isDirac ? 0 : eigenvalues[k, i]
            return sigma * sigma * gamma / (alpha * alpha * gamma + sigma * sigma)
        }
        guard let u = basis(of: k) else { return .diagonal(e) }
        var scaled = u
        for i in 0..<dimension { for j in 0..<dimension { scaled[i, j] *= e[j] } }
        return BLAS.product(scaled, .none, u, .transpose).symmetrized
    }
}

/// Γ = L⁻¹ΛL⁻ᵀ = U diag(γ) Uᵀ for a covariance Λ and the noise Σ = LLᵀ, γ ascending and clamped at
/// zero (docs/math.md §2.1); `field` names Λ in an error.
public func whitenedEigendecomposition(of lambda: Matrix, noise: NoiseCovariance,
                                       field: String) throws(ModelError) -> (values: [Double], vectors: Matrix) {
    try WhitenedMixture.whitenedEigendecomposition(of: lambda, noise: noise, field: field)
}
