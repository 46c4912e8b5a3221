import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieSamplers

/// The exact KL(q_N ‖ p_0) of a deterministic linear sampler on a Gaussian prior, as a function of
/// its grid of scaled noise levels σ̃_0 > … > σ̃_{N−1}, with its gradient (docs/math.md §12.5).
///
/// In the whitened eigenbasis of the prior the sampler acts on each coordinate alone, multiplying
/// the deviation from the mode's mean by a gain A_j that depends only on the σ̃ grid and the
/// eigenvalue γ_j; the KL is the sum of one-dimensional Gaussian KLs. One evaluation is O(D N)
/// after one eigendecomposition; the gradient comes from forward-mode dual numbers, O(D N²).
public struct ExactGridKL: Sendable {
    /// The samplers whose output is an affine map of their start on a Gaussian prior.
    public enum Method: String, Sendable, CaseIterable {
        /// First-order probability-flow steps; DDIM with η = 0 takes the same steps.
        case euler
        /// EDM's second-order sampler without churn.
        case heun
        /// DPM-Solver++(2M).
        case dpmpp2M = "dpmpp-2m"

        /// The method a sampler configuration runs, or nil where its output is not an affine map
        /// of its start alone (stochastic samplers, heun with churn, ddim with η > 0, rk45).
        public init?(_ configuration: SamplerConfiguration) {
            let sampler = configuration.makeSampler()
            switch configuration.kind {
            case .euler: self = .euler
            case .dpmpp2M: self = .dpmpp2M
            case .ddim where sampler.isDeterministic: self = .euler
            case .heun where (sampler as? HeunSampler)?.churn == 0: self = .heun
            default: return nil
            }
        }

        /// Model calls of a run on `levels` grid levels: N, or 2N − 1 for heun.
        public func modelCalls(levels: Int) -> Int { self == .heun ? 2 * levels - 1 : levels }

        /// The most grid levels `calls` model calls pay for (at least 1).
        public func levels(calls: Int) -> Int { max(self == .heun ? (calls + 1) / 2 : calls, 1) }
    }

    /// The most grid levels the gradient carries (one tangent component each).
    public static let maximumLevels = 64

    public let method: Method
    /// γ_j, the eigenvalues of the whitened prior covariance L⁻¹ΛL⁻ᵀ (all positive).
    public let eigenvalues: [Double]
    /// m_j, the prior mean in the whitened eigenbasis, Uᵀ L⁻¹ μ.
    public let means: [Double]

    /// Whether p_0 is the Gaussian fit of a mixture (its mean and covariance), not the model itself.
    public let usesGaussianFit: Bool

    /// The modes of `model`, which must be one Gaussian component with a non-singular covariance;
    /// with `fitting`, a model of several components (or a data set) is replaced by its Gaussian fit.
    public init(model: MixtureModel, method: Method, fitting: Bool = false) throws(ArgumentError) {
        guard model.componentCount == 1 || fitting else {
            throw ArgumentError("model", "the exact KL of a grid needs a single Gaussian component, "
                                + "got \(model.componentCount) components (fit one Gaussian first)")
        }
        usesGaussianFit = model.componentCount > 1
        let lambda = usesGaussianFit ? model.prior.covariance : model.prior.covariance(of: 0)
        let mu = usesGaussianFit ? model.prior.mean : model.prior.means.row(0)
        let eig: (values: [Double], vectors: Matrix)
        do {
            eig = try whitenedEigendecomposition(of: lambda, noise: model.noise, field: "covariances[0]")
        } catch {
            throw ArgumentError("model", error.description)
        }
        let largest = eig.values.max() ?? 0
        guard let smallest = eig.values.min(), smallest > 1e-12 * largest, smallest > 0 else {
            throw ArgumentError("model", "the prior covariance is singular (smallest whitened eigenvalue "
                                + "\(eig.values.min() ?? 0)): every sampler's KL to it is infinite")
        }
        var whitenedMean = Matrix(rows: 1, columns: model.dimension)
        whitenedMean.setRow(0, to: mu)
        model.noise.apply(.whiten, to: &whitenedMean)
        let projected = BLAS.product(whitenedMean, eig.vectors)
        self.method = method
        eigenvalues = eig.values
        means = projected.row(0)
    }

    /// KL(q_N ‖ p_0) in nats for the grid `levels` (σ̃, strictly decreasing, positive).
    public func divergence(levels: [Double]) throws(ArgumentError) -> Double {
        try divergenceAndGradient(levels: levels).kl
    }

    /// KL(q_N ‖ p_0) and its partial derivatives with respect to each σ̃_i.
    public func divergenceAndGradient(levels: [Double]) throws(ArgumentError) -> (kl: Double, gradient: [Double]) {
        try Self.check(levels)
        var kl = 0.0
        var gradient = [Double](repeating: 0, count: levels.count)
        var work = ModeRecurrence(count: levels.count)
        for j in eigenvalues.indices {
            kl += work.divergence(levels, gamma: eigenvalues[j], mean: means[j], method: method, gradient: &gradient)
        }
        return (kl, gradient)
    }

    /// The KL of the exact probability-flow map from the same start N(0, σ̃_max² Σ) to t = 0: the
    /// start's error alone. Not a lower bound: a grid's discretization error can offset part of it.
    /// Mode j's deviation is scaled by
    /// A = √(γ_j/(γ_j + σ̃_max²)), so ℓ_j = −log1p(γ_j/σ̃_max²) (docs/math.md §12.5).
    public func initializationFloor(sigmaMax: Double) -> Double {
        var kl = 0.0
        for (gamma, mean) in zip(eigenvalues, means) {
            let ell = -Foundation.log1p(gamma / (sigmaMax * sigmaMax))
            kl += 0.5 * (expm1MinusIdentity(ell) + mean * mean / (gamma + sigmaMax * sigmaMax))
        }
        return kl
    }

    static func check(_ levels: [Double]) throws(ArgumentError) {
        guard !levels.isEmpty else { throw ArgumentError("levels", "a grid needs at least one level") }
        guard levels.count <= maximumLevels else {
            throw ArgumentError("levels", "at most \(maximumLevels) levels, got \(levels.count)")
        }
        for (i, s) in levels.enumerated() {
            guard s.isFinite, s > 0 else {
                throw ArgumentError("levels", "σ̃[\(i)] must be finite and positive, got \(s)")
            }
            if i > 0, !(s < levels[i - 1]) {
                throw ArgumentError("levels", "levels must decrease strictly (σ̃[\(i - 1)] = \(levels[i - 1]), "
                                    + "σ̃[\(i)] = \(s))")
            }
        }
    }
}

/// One mode's gain A_j and KL_j with their derivatives in the levels (docs/math.md §12.5): every
/// supported sampler is the two-term recurrence u_{i+1} = p_i u_i + q_i u_{i−1} (u_0 = 1, u_{−1} = 0),
/// A = g(σ̃_{N−1}) u_{N−1}, whose coefficients depend on σ̃_{i−1}, σ̃_i, σ̃_{i+1} only. The coefficients
/// carry their local derivatives as ``LocalDual``s; an adjoint pass gives ∂A/∂σ̃ in O(N).
struct ModeRecurrence {
    private var p: [LocalDual]
    private var q: [LocalDual]
    private var u: [Double]
    private var adjoint: [Double]

    init(count: Int) {
        p = [LocalDual](repeating: LocalDual(0), count: count)
        q = p
        u = [Double](repeating: 0, count: count)
        adjoint = u
    }

    /// KL_j = ½[(e^ℓ − 1 − ℓ) + A² m²/γ], ℓ = log A² + log σ̃_0² − log γ: the KL of mode j's output
    /// N(−A m, A² σ̃_0²) to N(0, γ); adds ∂KL_j/∂σ̃_i to `gradient`.
    mutating func divergence(_ s: [Double], gamma: Double, mean: Double, method: ExactGridKL.Method,
                             gradient: inout [Double]) -> Double {
        let n = s.count
        coefficients(s, gamma: gamma, method: method)
        // Forward: u_1 … u_{N−1}, then A.
        u[0] = 1
        for i in 0..<(n - 1) { u[i + 1] = p[i].value * u[i] + (i > 0 ? q[i].value * u[i - 1] : 0) }
        let last = LocalDual.gain(s[n - 1], gamma: gamma, at: 1)
        let a = last.value * u[n - 1]
        // KL and ∂KL/∂A; e^ℓ − 1 − ℓ by its series near ℓ = 0.
        let ell = Foundation.log(a * a) + 2 * Foundation.log(s[0]) - Foundation.log(gamma)
        let ratio = mean * mean / gamma
        let kl = 0.5 * (expm1MinusIdentity(ell) + a * a * ratio)
        let expm1Ell = Foundation.expm1(ell)
        let dA = expm1Ell / a + a * ratio
        gradient[0] += expm1Ell / s[0]
        // Adjoint: ā_i = ∂A/∂u_i, from ā_{N−1} = g(σ̃_{N−1}) down.
        for i in 0..<n { adjoint[i] = 0 }
        adjoint[n - 1] = last.value
        gradient[n - 1] += dA * last.tangent[1] * u[n - 1]
        for i in stride(from: n - 2, through: 0, by: -1) {
            let weight = dA * adjoint[i + 1]
            adjoint[i] += adjoint[i + 1] * p[i].value
            if i > 0 { adjoint[i - 1] += adjoint[i + 1] * q[i].value }
            // ∂u_{i+1}/∂σ̃_{i−1+c} = ∂p_i/∂(·) u_i + ∂q_i/∂(·) u_{i−1}, c = 0, 1, 2.
            for c in 0..<3 where i - 1 + c >= 0 {
                let local = p[i].tangent[c] * u[i] + (i > 0 ? q[i].tangent[c] * u[i - 1] : 0)
                gradient[i - 1 + c] += weight * local
            }
        }
        return kl
    }

    /// p_i and q_i of the sampler (docs/math.md §12.5), tangent components (σ̃_{i−1}, σ̃_i, σ̃_{i+1}).
    private mutating func coefficients(_ s: [Double], gamma: Double, method: ExactGridKL.Method) {
        let n = s.count
        for i in 0..<(n - 1) {
            let now = LocalDual(s[i], variable: 1), next = LocalDual(s[i + 1], variable: 2)
            let g = LocalDual.gain(s[i], gamma: gamma, at: 1)
            let complement = LocalDual.complement(s[i], gamma: gamma, at: 1)
            switch method {
            case .euler:
                p[i] = next / now * complement + g
                q[i] = LocalDual(0)
            case .heun:
                let h = next - now
                let slope = complement / now
                let slopeNext = LocalDual.complement(s[i + 1], gamma: gamma, at: 2) / next
                p[i] = 1 + 0.5 * h * (slope + slopeNext * (1 + h * slope))
                q[i] = LocalDual(0)
            case .dpmpp2M:
                // u_{i+1} = r u_i + (1 − r) E_i, E_0 = g_0 u_0,
                // E_i = (1 + 1/(2ρ)) g_i u_i − g_{i−1} u_{i−1}/(2ρ), ρ = η_{i−1}/η_i, η = log σ̃ − log σ̃'.
                let r = next / now
                guard i > 0 else {
                    p[i] = r + (1 - r) * g
                    q[i] = LocalDual(0)
                    continue
                }
                let previous = LocalDual(s[i - 1], variable: 0)
                let step = now.log() - next.log(), previousStep = previous.log() - now.log()
                let half = 0.5 * step / previousStep
                p[i] = r + (1 - r) * (1 + half) * g
                q[i] = -1 * ((1 - r) * half * LocalDual.gain(s[i - 1], gamma: gamma, at: 0))
            }
        }
    }
}

/// e^x − 1 − x without cancellation: its Taylor series for |x| < 0.1, expm1(x) − x beyond.
func expm1MinusIdentity(_ x: Double) -> Double {
    guard abs(x) < 0.1 else { return Foundation.expm1(x) - x }
    // x²/2! + x³/3! + … + x¹¹/11!: the first term left out is below 3·10⁻¹⁶ of the sum.
    var term = x * x / 2, sum = term
    for k in 3...11 {
        term *= x / Double(k)
        sum += term
    }
    return sum
}

/// A number with its derivatives with respect to the three levels one step reads, σ̃_{i−1}, σ̃_i,
/// σ̃_{i+1} (forward-mode dual numbers; the fourth lane is unused).
struct LocalDual {
    var value: Double
    var tangent: SIMD4<Double>

    init(_ value: Double) { self.value = value; tangent = .zero }
    init(_ value: Double, variable i: Int) { self.value = value; tangent = .zero; tangent[i] = 1 }
    init(value: Double, tangent: SIMD4<Double>) { self.value = value; self.tangent = tangent }

    /// g(σ̃) = γ/(γ + σ̃²), σ̃ the level in lane `lane`.
    static func gain(_ s: Double, gamma: Double, at lane: Int) -> LocalDual {
        let d = gamma + s * s
        var t = SIMD4<Double>.zero
        t[lane] = -2 * gamma * s / (d * d)
        return LocalDual(value: gamma / d, tangent: t)
    }

    /// 1 − g(σ̃) = σ̃²/(γ + σ̃²), formed without a difference.
    static func complement(_ s: Double, gamma: Double, at lane: Int) -> LocalDual {
        let d = gamma + s * s
        var t = SIMD4<Double>.zero
        t[lane] = 2 * gamma * s / (d * d)
        return LocalDual(value: s * s / d, tangent: t)
    }

    static func + (a: LocalDual, b: LocalDual) -> LocalDual {
        .init(value: a.value + b.value, tangent: a.tangent + b.tangent)
    }
    static func - (a: LocalDual, b: LocalDual) -> LocalDual {
        .init(value: a.value - b.value, tangent: a.tangent - b.tangent)
    }
    static func * (a: LocalDual, b: LocalDual) -> LocalDual {
        .init(value: a.value * b.value, tangent: b.value * a.tangent + a.value * b.tangent)
    }
    static func / (a: LocalDual, b: LocalDual) -> LocalDual {
        let q = a.value / b.value
        return .init(value: q, tangent: (a.tangent - q * b.tangent) / b.value)
    }
    static func + (a: Double, b: LocalDual) -> LocalDual { .init(value: a + b.value, tangent: b.tangent) }
    static func - (a: Double, b: LocalDual) -> LocalDual { .init(value: a - b.value, tangent: -b.tangent) }
    static func * (a: Double, b: LocalDual) -> LocalDual { .init(value: a * b.value, tangent: a * b.tangent) }

    func log() -> LocalDual { .init(value: Foundation.log(value), tangent: tangent / value) }
}
