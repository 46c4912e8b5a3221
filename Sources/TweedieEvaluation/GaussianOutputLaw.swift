import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// The exact law of a sampler's output for a single-Gaussian target p_0 = N(μ, Λ), and its exact
/// 2-Wasserstein distance to p_0 — no Monte Carlo noise (docs/math.md §12.4).
///
/// For one Gaussian component the exact denoiser x̂_0(x_t) = E[x_0 | x_t] is affine in x_t. A
/// deterministic linear sampler (`euler`, `heun` without churn, `dpmpp-2m`, `ddim` with η = 0,
/// `dpmpp-2m-sde` with η = 0 or S_noise = 0) is then an affine map F(x) = A x + c of its starting
/// state; running it through the exact ``Oracle`` on the D + 1 points 0 and s·e_i, s = σ_{t_0},
/// gives c = F(0) and A e_i = (F(s e_i) − c)/s, and a start N(m, S) goes to N(A m + c, A S Aᵀ).
/// A sampler with Gaussian steps (``GaussianStepSampler``: `ddpm`, `ddim` with η > 0,
/// `euler-maruyama`) maps N(m, S) at each interval to N(A_i m + c_i, A_i S A_iᵀ + s_i² Σ), with
/// A_i, c_i probed from its step mean, and its last interval returns x̂_0 (affine).
///
/// The start is the sampler's N(0, σ_{t_0}² Σ) (``initialState``), or with `start: .marginal` the
/// exact p_{t_0} = N(α_0 μ, α_0² Λ + σ_0² Σ). `rk45` is deterministic but not linear (its step sizes
/// depend on x through the error control), and the other stochastic samplers (heun with churn,
/// dpmpp-2m-sde, pc) do not step with a Gaussian given the current state alone; they are refused.
public struct GaussianOutputLaw: Sendable {
    /// The linear part of the sampler's (mean) map, A (D×D): the product of the steps' A_i.
    public let transform: Matrix
    /// The output mean.
    public let mean: [Double]
    /// The output covariance.
    public let covariance: Matrix
    /// μ of p_0.
    public let targetMean: [Double]
    /// Λ of p_0.
    public let targetCovariance: Matrix

    /// The output law of `sampler` on `path` for `model`, which must have exactly one component.
    public init(model: MixtureModel, sampler: any Sampler, path: SamplingPath,
                start: SamplerOutputDensity.StartingLaw = .gaussian) throws {
        guard model.componentCount == 1 else {
            throw ArgumentError("model", "the exact output law needs a single Gaussian component, "
                                + "got \(model.componentCount)")
        }
        guard Self.isSupported(sampler) else {
            throw ArgumentError("sampler", "\(sampler.name) is neither a deterministic linear sampler "
                                + "(euler, heun without churn, dpmpp-2m, ddim η = 0) "
                                + "nor one with Gaussian steps (ddpm, ddim, euler-maruyama)")
        }
        let d = model.dimension
        let oracle = try Oracle(model)
        let (startMean, startCovariance) = Self.startingLaw(model, path: path, start)
        var a = Matrix.identity(d)
        var m = startMean, s = startCovariance
        if Self.isLinear(sampler) {
            let scale = path.levels[0].sigma
            var probes = Matrix(rows: d + 1, columns: d)
            for i in 0..<d { probes[i + 1, i] = scale }
            let images = try sampler.sample(probes, model: oracle, path: path, noise: NoiseStream(seed: 0),
                                            firstSample: 0, monitor: SamplingMonitor())
            let c = images.row(0)
            for i in 0..<d { for j in 0..<d { a[j, i] = (images[i + 1, j] - c[j]) / scale } }
            (m, s) = Self.affine(a, c, m, s)
        } else {
            let stepper = sampler as! any GaussianStepSampler
            let sigma = model.noise.denseMatrix
            for i in 0..<(path.levels.count - 1) {
                let probes = Self.probes(d)
                let (means, deviation) = try stepper.transition(
                    probes, denoised: try oracle.denoise(probes, at: path.levels[i]), interval: i, path: path)
                let (ai, ci) = Self.affineMap(means)
                (m, s) = Self.affine(ai, ci, m, s)
                s = (s + (deviation * deviation) * sigma).symmetrized
                a = BLAS.product(ai, a)
            }
            let (ai, ci) = Self.affineMap(try oracle.denoise(Self.probes(d), at: path.levels.last!))
            (m, s) = Self.affine(ai, ci, m, s)
            a = BLAS.product(ai, a)
        }
        transform = a
        mean = m
        covariance = s.symmetrized
        targetMean = model.prior.means.row(0)
        targetCovariance = model.prior.covariance(of: 0)
    }

    /// Whether `sampler` is an affine map of its input for an affine denoiser, with no noise.
    public static func isLinear(_ sampler: any Sampler) -> Bool {
        sampler.isDeterministic && sampler.isAffine
    }

    /// Whether the output law of `sampler` is computable: linear, or with Gaussian steps.
    public static func isSupported(_ sampler: any Sampler) -> Bool {
        isLinear(sampler) || (sampler is any GaussianStepSampler && !sampler.isDeterministic)
    }

    /// The points 0, e_1, …, e_D.
    static func probes(_ d: Int) -> Matrix {
        var p = Matrix(rows: d + 1, columns: d)
        for i in 0..<d { p[i + 1, i] = 1 }
        return p
    }

    /// A and c of an affine map from its images of ``probes(_:)``.
    static func affineMap(_ images: Matrix) -> (Matrix, [Double]) {
        let d = images.columns
        var a = Matrix(rows: d, columns: d)
        for i in 0..<d { for j in 0..<d { a[j, i] = images[i + 1, j] - images[0, j] } }
        return (a, images.row(0))
    }

    /// N(m, S) under x ↦ A x + c.
    static func affine(_ a: Matrix, _ c: [Double], _ m: [Double], _ s: Matrix) -> ([Double], Matrix) {
        let d = m.count
        let mean = (0..<d).map { i in c[i] + (0..<d).reduce(0) { $0 + a[i, $1] * m[$1] } }
        return (mean, BLAS.product(BLAS.product(a, s), .none, a, .transpose).symmetrized)
    }

    /// N(0, σ_{t_0}² Σ) or the exact N(α_0 μ, α_0² Λ + σ_0² Σ).
    static func startingLaw(_ model: MixtureModel, path: SamplingPath,
                            _ start: SamplerOutputDensity.StartingLaw) -> ([Double], Matrix) {
        let level = path.levels[0]
        let noise = (level.sigma * level.sigma) * model.noise.denseMatrix
        switch start {
        case .gaussian:
            return ([Double](repeating: 0, count: model.dimension), noise)
        case .marginal:
            return (model.prior.means.row(0).map { level.alpha * $0 },
                    ((level.alpha * level.alpha) * model.prior.covariance(of: 0) + noise).symmetrized)
        }
    }

    /// W₂(output law, N(μ, Λ)), exact (see ``gaussianWasserstein2(mean:covariance:mean:covariance:)``).
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

/// The exact W₂ error of a sampler on a single Gaussian, split as in Pierret & Galerne (docs/math.md
/// §12.4) by changing one ingredient at a time: the sampler as run (all errors); the sampler from the
/// exact p_{t_0} (no initialization error); the exact probability-flow map from the sampler's start to
/// the last grid level, then x̂_0 (no discretization error); and x̂_0 of exact samples of p_{t_{N−1}}
/// (truncation alone: stopping at t_{N−1} with the denoiser instead of reaching t = 0).
public struct GaussianErrorBudget: Sendable {
    public let total: Double
    public let withoutInitialization: Double
    public let withoutDiscretization: Double
    public let truncation: Double

    public init(model: MixtureModel, sampler: any Sampler, path: SamplingPath) throws {
        let run = try GaussianOutputLaw(model: model, sampler: sampler, path: path)
        total = try run.wasserstein2
        withoutInitialization = try GaussianOutputLaw(model: model, sampler: sampler, path: path,
                                                      start: .marginal).wasserstein2
        let d = model.dimension
        let oracle = try Oracle(model)
        let mu = model.prior.means.row(0), lambda = model.prior.covariance(of: 0)
        let first = path.levels[0], last = path.levels.last!
        // The exact flow between Gaussian marginals, in whitened coordinates y = L⁻¹x where
        // p_t = N(α μ̃, α² Γ + σ² I), Γ = U diag(γ) Uᵀ: each eigen-coordinate is rescaled about its
        // mean by √(v_last/v_first), v = α²γ + σ².
        let whitenedTransposed = model.noise.applying(.whiten, to: .identity(d))          // L⁻ᵀ
        let gamma = BLAS.product(BLAS.product(whitenedTransposed, .transpose, lambda, .none),
                                 whitenedTransposed).symmetrized
        let eigen = try SymmetricEigendecomposition(gamma)
        var scaled = eigen.vectors
        for i in 0..<d {
            let g = max(eigen.values[i], 0)
            let ratio = ((last.alpha * last.alpha * g + last.sigma * last.sigma)
                         / (first.alpha * first.alpha * g + first.sigma * first.sigma)).squareRoot()
            for r in 0..<d { scaled[r, i] *= ratio }
        }
        let whitenedFlow = BLAS.product(scaled, .none, eigen.vectors, .transpose)
        let flow = BLAS.product(BLAS.product(model.noise.denseFactor, whitenedFlow), .none,
                                whitenedTransposed, .transpose)
        let flowOffset = (0..<d).map { i in
            last.alpha * mu[i] - (0..<d).reduce(0) { $0 + flow[i, $1] * first.alpha * mu[$1] }
        }
        let (g, c) = GaussianOutputLaw.affineMap(try oracle.denoise(GaussianOutputLaw.probes(d), at: last))
        let (m0, s0) = GaussianOutputLaw.startingLaw(model, path: path, .gaussian)
        let (m1, s1) = GaussianOutputLaw.affine(flow, flowOffset, m0, s0)
        let (m2, s2) = GaussianOutputLaw.affine(g, c, m1, s1)
        withoutDiscretization = try gaussianWasserstein2(mean: m2, covariance: s2, mean: mu, covariance: lambda)
        let exactLast = ((last.alpha * last.alpha) * lambda
                         + (last.sigma * last.sigma) * model.noise.denseMatrix).symmetrized
        let (m3, s3) = GaussianOutputLaw.affine(g, c, mu.map { last.alpha * $0 }, exactLast)
        truncation = try gaussianWasserstein2(mean: m3, covariance: s3, mean: mu, covariance: lambda)
    }

    /// The four figures as measurements (exact: no noise floor).
    public var measurements: [Measurement] {
        [Measurement(name: "exact_w2_exact_start",
                     label: "exact W2 from the exact p_{t_0} (discretization + truncation)",
                     value: withoutInitialization, noiseFloor: nil),
         Measurement(name: "exact_w2_exact_flow",
                     label: "exact W2 of the exact flow from the start (initialization + truncation)",
                     value: withoutDiscretization, noiseFloor: nil),
         Measurement(name: "exact_w2_truncation",
                     label: "exact W2 of x̂_0 on exact samples of the last level (truncation)",
                     value: truncation, noiseFloor: nil)]
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
