import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieSamplers

/// A denoiser that can also apply its posterior covariance Cov[x_0 | x_t] to fixed directions:
/// what guidance needs of the unconditional model (docs/math.md §11.4).
///
/// The exact ``Oracle`` conforms exactly; any other ``DenoisingModel`` conforms through
/// ``FiniteDifferenceCovariance``, and a model with its own Jacobian products may conform directly.
public protocol PosteriorCovarianceModel: DenoisingModel {
    /// x̂_0(x_t) for each row of `x` (B×D) and, per row, Cov[x_0 | x_t] V (D×m) for the D×m `v`.
    func denoise(_ x: Matrix, at level: NoiseLevel,
                 covarianceTimes v: Matrix) throws -> (denoised: Matrix, products: [Matrix])
}

extension Oracle: PosteriorCovarianceModel {}

/// Cov[x_0 | x_t] V of any denoiser from its Jacobian by central differences (docs/math.md §11.4):
/// Tweedie's second-order identity Cov[x_0 | x_t] = (σ²/α) (∂x̂_0/∂x_t) Σ, with the Jacobian
/// applied to u = Σ v/‖Σ v‖ as [x̂_0(x + h u) − x̂_0(x − h u)]/(2h), h = ε^{1/3} σ/α (the scale on
/// which a denoiser varies). All 2m + 1 evaluations go to the model in one batch.
public struct FiniteDifferenceCovariance: PosteriorCovarianceModel {
    public let base: any DenoisingModel
    /// The step, relative to σ/α.
    public let relativeStep: Double

    public init(_ base: any DenoisingModel, relativeStep: Double = cbrt(Double.ulpOfOne)) {
        self.base = base
        self.relativeStep = relativeStep
    }

    public var dimension: Int { base.dimension }
    public var noiseCovariance: NoiseCovariance { base.noiseCovariance }

    public func denoise(_ x: Matrix, at level: NoiseLevel) throws -> Matrix { try base.denoise(x, at: level) }

    public func denoise(_ x: Matrix, at level: NoiseLevel,
                        covarianceTimes v: Matrix) throws -> (denoised: Matrix, products: [Matrix]) {
        let d = dimension, m = v.columns, n = x.rows
        guard v.rows == d, m >= 1 else {
            throw ArgumentError("directions", "must be D×m with D = \(d) and m ≥ 1, got \(v.rows)×\(v.columns)")
        }
        guard level.alpha > 0 else {
            throw ArgumentError("alpha",
                                "finite-difference covariances need α > 0 (Cov = (σ²/α) J Σ), got \(level.alpha)")
        }
        try MemoryBudget.require("x", "\(2 * m + 1) × \(n) finite-difference points (D = \(d))",
                                 elements: [2 * m + 1, n, d])
        // Σ v_j as rows, normalized.
        var directions = noiseCovariance.applyingCovariance(to: v.transposed)
        var norms = [Double](repeating: 0, count: m)
        for j in 0..<m {
            norms[j] = directions.row(j).reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norms[j] > 0 { for i in 0..<d { directions[j, i] /= norms[j] } }
        }
        let h = relativeStep * level.sigma / level.alpha
        var stacked = Matrix(rows: (2 * m + 1) * n, columns: d)
        stacked.elements.replaceSubrange(0..<(n * d), with: x.elements)
        for j in 0..<m {
            for (s, sign) in [(2 * j + 1, 1.0), (2 * j + 2, -1.0)] {
                for b in 0..<n { for i in 0..<d { stacked[s * n + b, i] = x[b, i] + sign * h * directions[j, i] } }
            }
        }
        let out = try base.denoise(stacked, at: level)
        guard out.rows == stacked.rows, out.columns == d else {
            throw ArgumentError("model output", "expected \(stacked.rows)×\(d), got \(out.rows)×\(out.columns)")
        }
        let denoised = Matrix(rows: n, columns: d, elements: Array(out.elements[0..<(n * d)]))
        let scale = level.sigma * level.sigma / level.alpha
        let products = (0..<n).map { b in
            var p = Matrix(rows: d, columns: m)
            for j in 0..<m {
                let factor = scale * norms[j] / (2 * h)
                for i in 0..<d { p[i, j] = factor * (out[(2 * j + 1) * n + b, i] - out[(2 * j + 2) * n + b, i]) }
            }
            return p
        }
        return (denoised, products)
    }
}

/// The guidance methods: how each approximates ∇_{x_t} log p(y | x_t) (docs/math.md §11.4).
public enum GuidanceMethod: String, Sendable, CaseIterable {
    /// Chung et al. (DPS): p(y | x_t) ≈ N(y; A x̂_0, Σ_y)^ζ, the likelihood at the point estimate.
    case dps
    /// Song et al. (ΠGDM): p(y | x_t) ≈ N(y; A x̂_0, r_t² A Aᵀ + Σ_y), r_t² = σ²/(α² + σ²).
    case pigdm
    /// Boys et al. (TMPD): N(y; A x̂_0, A C Aᵀ + Σ_y) with A C Aᵀ replaced by its row sums on the
    /// diagonal (the scalable form; exact when d_y = 1).
    case tmpd
    /// Rozet et al. (MMPS): N(y; A x̂_0, A C Aᵀ + Σ_y) with the full d_y×d_y matrix, C = Cov[x_0 | x_t].
    case mmps
    /// The exact posterior's oracle: E[x_0 | x_t, y] itself (mixture priors only).
    case exact
}

/// A denoiser guided towards an observation: x̂_0(x_t | y) = x̂_0(x_t) + (σ²/α) Σ ∇_{x_t} log p̂(y | x_t)
/// (docs/math.md §11.4). With the Jacobian identity every method becomes x̂_0 + M g, M = Cov[x_0 | x_t] Aᵀ
/// and g a method's d_y-vector, so it works with every sampler and any unconditional model.
public struct GuidedDenoiser: DenoisingModel {
    public let base: any PosteriorCovarianceModel
    public let observation: LinearObservation
    public let method: GuidanceMethod
    /// DPS's guidance strength ζ (1: the plain likelihood at the point estimate).
    public let zeta: Double
    /// A Aᵀ for ΠGDM.
    private let gram: Matrix
    /// Aᵀ, the directions Cov[x_0 | x_t] is applied to, and Σ_y as a dense matrix.
    private let operatorTransposed: Matrix
    private let observationNoise: Matrix

    /// Throws for `.exact`, which is not a correction of the unconditional model: use
    /// ``guidedModel(_:prior:observation:zeta:)``.
    public init(_ base: any PosteriorCovarianceModel, observation: LinearObservation, method: GuidanceMethod,
                zeta: Double = 1) throws(ArgumentError) {
        guard method != .exact else {
            throw ArgumentError("guidance", "exact guidance is the exact posterior's oracle: "
                                + "use guidedModel(_:prior:observation:zeta:)")
        }
        guard observation.dimension == base.dimension else {
            throw ArgumentError("operator",
                                "has \(observation.dimension) columns, the model's dimension is \(base.dimension)")
        }
        guard zeta.isFinite, zeta > 0 else { throw ArgumentError("zeta", "must be finite and positive, got \(zeta)") }
        self.base = base
        self.observation = observation
        self.method = method
        self.zeta = zeta
        gram = BLAS.product(observation.forwardOperator, .none, observation.forwardOperator, .transpose)
        operatorTransposed = observation.forwardOperator.transposed
        observationNoise = observation.noiseMatrix
    }

    public var dimension: Int { base.dimension }
    public var noiseCovariance: NoiseCovariance { base.noiseCovariance }

    public func denoise(_ x: Matrix, at level: NoiseLevel) throws -> Matrix {
        let a = observation.forwardOperator, dy = observation.observedDimension, d = dimension
        var (denoised, products) = try base.denoise(x, at: level, covarianceTimes: operatorTransposed)
        let residuals = observation.residuals(denoised)
        let sigmaY = observationNoise
        let shared: CholeskyFactor? = method == .pigdm
            ? try Self.factor(pigdmCovariance(level, noise: sigmaY), level: level) : nil
        for b in 0..<x.rows {
            let m = products[b]                                 // M = C Aᵀ, D×d_y
            var g = residuals.row(b)
            switch method {
            case .dps:
                g = observation.noise.applyingInverseCovariance(to: Matrix(rows: 1, columns: dy, elements: g))
                    .elements.map { zeta * $0 }
            case .pigdm:
                g = Self.solve(shared!, g)
            case .mmps:
                let s = (BLAS.product(a, m) + sigmaY).symmetrized
                g = Self.solve(try Self.factor(s, level: level), g)
            case .tmpd:
                let am = BLAS.product(a, m)
                for i in 0..<dy {
                    let rowSum = (0..<dy).reduce(0) { $0 + am[i, $1] }
                    g[i] /= sigmaY[i, i] + max(rowSum, 0)
                }
            case .exact:
                preconditionFailure("excluded at construction")
            }
            for i in 0..<d {
                var correction = 0.0
                for j in 0..<dy { correction += m[i, j] * g[j] }
                denoised[b, i] += correction
            }
        }
        guard denoised.allFinite else {
            throw ArgumentError("guidance", "\(method.rawValue) produced NaN or infinity at σ = \(level.sigma)")
        }
        return denoised
    }

    /// r_t² A Aᵀ + Σ_y with r_t² = σ²/(α² + σ²), ΠGDM's covariance of A x_0 given x_t.
    private func pigdmCovariance(_ level: NoiseLevel, noise: Matrix) -> Matrix {
        let s2 = level.sigma * level.sigma
        let r2 = s2 / (level.alpha * level.alpha + s2)
        return (r2 * gram + noise).symmetrized
    }

    private static func factor(_ s: Matrix, level: NoiseLevel) throws(ArgumentError) -> CholeskyFactor {
        do { return try CholeskyFactor(s) } catch {
            throw ArgumentError("guidance", "the covariance of y given x_t at σ = \(level.sigma) "
                                + "is not positive definite (\(error))")
        }
    }

    /// S⁻¹ r by two triangular solves with the factor of S.
    private static func solve(_ factor: CholeskyFactor, _ r: [Double]) -> [Double] {
        var u = r
        let n = r.count
        factor.lower.elements.withUnsafeBufferPointer { lp in
            u.withUnsafeMutableBufferPointer { up in
                BLAS.solveLowerTriangular(.left, .none, n: n, lower: lp.baseAddress!, rows: n, columns: 1,
                                          b: up.baseAddress!, ldb: 1)
                BLAS.solveLowerTriangular(.left, .transpose, n: n, lower: lp.baseAddress!, rows: n, columns: 1,
                                          b: up.baseAddress!, ldb: 1)
            }
        }
        return u
    }

}

/// The guided model for a method: the exact posterior's oracle for `.exact` (which needs the
/// mixture `prior`), otherwise a ``GuidedDenoiser`` around `base`.
public func guidedModel(_ method: GuidanceMethod, base: any PosteriorCovarianceModel, prior: MixtureModel?,
                        observation: LinearObservation, zeta: Double = 1) throws -> any DenoisingModel {
    guard method == .exact else {
        return try GuidedDenoiser(base, observation: observation, method: method, zeta: zeta)
    }
    guard let prior else {
        throw ArgumentError("guidance",
                            "exact guidance needs a mixture model (the exact posterior); this model is a network")
    }
    return try Oracle(ExactPosterior(prior: prior, observation: observation).model)
}
