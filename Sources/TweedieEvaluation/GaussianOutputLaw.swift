import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// The exact law of a deterministic sampler's output for a single-Gaussian target
/// p_0 = N(μ, Λ), and its exact 2-Wasserstein distance to p_0 — no Monte Carlo noise.
///
/// For one Gaussian component the exact denoiser x̂_0(x_t) = E[x_0 | x_t] is affine in x_t, and
/// every step of a deterministic linear sampler combines x and x̂_0 linearly, so the sampler is an
/// affine map F(x) = A x + c of its starting state. Running it (through the exact ``Oracle``, no
/// noise involved) on the D + 1 points 0 and s·e_i, s = σ_{t_0}, gives
///
///     c = F(0),   A e_i = (F(s e_i) − c)/s,
///
/// and for the starting law x ~ N(0, σ_{t_0}² Σ) (``initialState``) the output law is
///
///     F(x) ~ N(c, σ_{t_0}² A Σ Aᵀ).
///
/// Samplers it accepts (each affine in x for an affine denoiser): `euler`, `heun` without
/// churn (or with S_noise = 0), `dpmpp-2m`, `ddim` with η = 0, `dpmpp-2m-sde` with η = 0 or
/// S_noise = 0. `rk45` is deterministic but not linear (its step sizes depend on x through the
/// error control), and the stochastic samplers add noise; both are refused.
public struct GaussianOutputLaw: Sendable {
    /// A, the linear part of the sampler's map (D×D).
    public let transform: Matrix
    /// c = F(0), the output mean.
    public let mean: [Double]
    /// σ_{t_0}² A Σ Aᵀ, the output covariance.
    public let covariance: Matrix
    /// μ of p_0.
    public let targetMean: [Double]
    /// Λ of p_0.
    public let targetCovariance: Matrix

    /// The output law of `sampler` on `path` for `model`, which must have exactly one component.
    public init(model: MixtureModel, sampler: any Sampler, path: SamplingPath) throws {
        guard model.componentCount == 1 else {
            throw ArgumentError("model", "the exact output law needs a single Gaussian component, got \(model.componentCount)")
        }
        guard Self.isLinear(sampler) else {
            throw ArgumentError("sampler", "\(sampler.name) is not a deterministic linear sampler "
                                + "(euler, heun without churn, dpmpp-2m, ddim η = 0)")
        }
        let d = model.dimension
        let oracle = try Oracle(model)
        let scale = path.levels[0].sigma
        var probes = Matrix(rows: d + 1, columns: d)
        for i in 0..<d { probes[i + 1, i] = scale }
        let images = try sampler.sample(probes, model: oracle, path: path, noise: NoiseStream(seed: 0),
                                        firstSample: 0, monitor: SamplingMonitor())
        let c = images.row(0)
        var a = Matrix(rows: d, columns: d)
        for i in 0..<d { for j in 0..<d { a[j, i] = (images[i + 1, j] - c[j]) / scale } }
        transform = a
        mean = c
        // σ² A Σ Aᵀ, symmetrized against rounding.
        var covariance = BLAS.product(BLAS.product(a, model.noise.denseMatrix), .none, a, .transpose)
        for i in 0..<covariance.elements.count { covariance.elements[i] *= scale * scale }
        self.covariance = covariance.symmetrized
        targetMean = model.prior.means.row(0)
        targetCovariance = model.prior.covariance(of: 0)
    }

    /// Whether `sampler` is an affine map of its input for an affine denoiser, with no noise.
    public static func isLinear(_ sampler: any Sampler) -> Bool {
        sampler.isDeterministic && sampler.isAffine
    }

    /// W₂(N(c, σ²AΣAᵀ), N(μ, Λ)), exact (see ``gaussianWasserstein2(mean:covariance:mean:covariance:)``).
    public var wasserstein2: Double {
        get throws {
            try gaussianWasserstein2(mean: mean, covariance: covariance, mean: targetMean, covariance: targetCovariance)
        }
    }

    /// The exact W₂ to p_0 as a measurement (no sampling noise: noise floor nil).
    public var measurement: Measurement {
        get throws {
            Measurement(name: "exact_w2", label: "exact W2 of the sampler's Gaussian output law to p_0",
                        value: try wasserstein2, noiseFloor: nil)
        }
    }
}

/// The 2-Wasserstein distance between N(m₁, S₁) and N(m₂, S₂) (Dowson and Landau 1982;
/// Givens and Shortt 1984):
///
///     W₂² = ‖m₁ − m₂‖² + tr(S₁ + S₂ − 2 (S₂^{1/2} S₁ S₂^{1/2})^{1/2}),
///
/// with the symmetric square roots by eigendecomposition (LAPACK `dsyevd`), negative rounding
/// eigenvalues clamped to 0, and W₂² clamped at 0. Commuting covariances reduce it to
/// ‖m₁ − m₂‖² + ‖S₁^{1/2} − S₂^{1/2}‖²_F.
public func gaussianWasserstein2(mean m1: [Double], covariance s1: Matrix,
                                 mean m2: [Double], covariance s2: Matrix) throws -> Double {
    let d = m1.count
    guard m2.count == d, s1.rows == d, s1.columns == d, s2.rows == d, s2.columns == d else {
        throw ArgumentError("gaussians", "means and covariances of different dimensions")
    }
    var squared = 0.0
    for i in 0..<d { squared += (m1[i] - m2[i]) * (m1[i] - m2[i]) }
    let root2 = try symmetricSquareRoot(s2)
    let middle = BLAS.product(BLAS.product(root2, s1), root2).symmetrized
    let cross = try SymmetricEigendecomposition(middle).values.reduce(0) { $0 + max($1, 0).squareRoot() }
    let traces = s1.diagonalElements.reduce(0, +) + s2.diagonalElements.reduce(0, +)
    return max(squared + traces - 2 * cross, 0).squareRoot()
}

/// S^{1/2} = U diag(√max(λ, 0)) Uᵀ of a symmetric positive semi-definite S.
public func symmetricSquareRoot(_ s: Matrix) throws -> Matrix {
    let eig = try SymmetricEigendecomposition(s.symmetrized)
    var scaled = eig.vectors
    let n = s.rows
    for i in 0..<n { for j in 0..<n { scaled[i, j] *= max(eig.values[j], 0).squareRoot() } }
    return BLAS.product(scaled, .none, eig.vectors, .transpose).symmetrized
}
