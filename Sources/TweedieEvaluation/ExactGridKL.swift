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

    /// The modes of `model`, which must be one Gaussian component with a non-singular covariance.
    public init(model: MixtureModel, method: Method) throws(ArgumentError) {
        guard model.componentCount == 1 else {
            throw ArgumentError("model", "the exact KL of a grid needs a single Gaussian component, "
                                + "got \(model.componentCount) components (fit one Gaussian first)")
        }
        let lambda = model.prior.covariance(of: 0)
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
        whitenedMean.setRow(0, to: model.prior.means.row(0))
        model.noise.apply(.whiten, to: &whitenedMean)
        let projected = BLAS.product(whitenedMean, eig.vectors)
        self.method = method
        eigenvalues = eig.values
        means = projected.row(0)
    }

    /// KL(q_N ‖ p_0) in nats for the grid `levels` (σ̃, strictly decreasing, positive).
    public func divergence(levels: [Double]) throws(ArgumentError) -> Double {
        try Self.check(levels)
        return total(levels.map { GridDual($0) }).value
    }

    /// KL(q_N ‖ p_0) and its partial derivatives with respect to each σ̃_i.
    public func divergenceAndGradient(levels: [Double]) throws(ArgumentError) -> (kl: Double, gradient: [Double]) {
        try Self.check(levels)
        let kl = total(levels.enumerated().map { GridDual($1, variable: $0) })
        return (kl.value, (0..<levels.count).map { kl.tangent[$0] })
    }

    static func check(_ levels: [Double]) throws(ArgumentError) {
        guard !levels.isEmpty else { throw ArgumentError("levels", "a grid needs at least one level") }
        guard levels.count <= maximumLevels else {
            throw ArgumentError("levels", "at most \(maximumLevels) levels, got \(levels.count)")
        }
        for (i, s) in levels.enumerated() {
            guard s.isFinite, s > 0 else { throw ArgumentError("levels", "σ̃[\(i)] must be finite and positive, got \(s)") }
            if i > 0, !(s < levels[i - 1]) {
                throw ArgumentError("levels", "levels must decrease strictly (σ̃[\(i - 1)] = \(levels[i - 1]), "
                                    + "σ̃[\(i)] = \(s))")
            }
        }
    }

    /// Σ_j KL_j (docs/math.md §12.5).
    func total(_ levels: [GridDual]) -> GridDual {
        var sum = GridDual(0)
        for j in eigenvalues.indices {
            sum = sum + Self.modeDivergence(levels, gamma: eigenvalues[j], mean: means[j], method: method)
        }
        return sum
    }

    /// ½[(e^ℓ − 1 − ℓ) + A² m²/γ], ℓ = log A² + log σ̃_0² − log γ: the KL of mode j's output
    /// N(−A m, A² σ̃_0²) to N(0, γ) (docs/math.md §12.5).
    static func modeDivergence(_ levels: [GridDual], gamma: Double, mean: Double, method: Method) -> GridDual {
        let a = gain(levels, gamma: gamma, method: method)
        let a2: GridDual = a * a
        let start: GridDual = (levels[0] * levels[0]).log()
        let ell: GridDual = a2.log() + start + (-Foundation.log(gamma))
        let meanTerm: GridDual = (mean * mean / gamma) * a2
        return 0.5 * (ell.expm1MinusIdentity() + meanTerm)
    }

    /// A_j: the factor by which the sampler maps the start's deviation from the mode's mean to the
    /// output's (docs/math.md §12.5, one line per sampler).
    static func gain(_ s: [GridDual], gamma: Double, method: Method) -> GridDual {
        let n = s.count
        // g(σ̃) = γ/(γ + σ̃²) and 1 − g(σ̃) = σ̃²/(γ + σ̃²), neither formed by a difference.
        func g(_ x: GridDual) -> GridDual { gamma / (x * x + gamma) }
        func complement(_ x: GridDual) -> GridDual { let x2 = x * x; return x2 / (x2 + gamma) }
        switch method {
        case .euler:
            var a = GridDual(1)
            for i in 0..<(n - 1) { a = a * (s[i + 1] / s[i] * complement(s[i]) + g(s[i])) }
            return a * g(s[n - 1])
        case .heun:
            var a = GridDual(1)
            for i in 0..<(n - 1) {
                let h = s[i + 1] - s[i]
                let slope = complement(s[i]) / s[i], slopeNext = complement(s[i + 1]) / s[i + 1]
                a = a * (1 + 0.5 * h * (slope + slopeNext * (1 + h * slope)))
            }
            return a * g(s[n - 1])
        case .dpmpp2M:
            var u = GridDual(1)
            var previous: (denoised: GridDual, step: GridDual)?
            for i in 0..<(n - 1) {
                let r = s[i + 1] / s[i]
                let step = s[i].log() - s[i + 1].log()
                let denoised = g(s[i]) * u
                var estimate = denoised
                if let previous {
                    let half = 0.5 / (previous.step / step)
                    estimate = (1 + half) * denoised - half * previous.denoised
                }
                previous = (denoised, step)
                u = r * u + (1 - r) * estimate
            }
            return g(s[n - 1]) * u
        }
    }
}

/// A number with its derivatives with respect to up to 64 grid levels (forward-mode automatic
/// differentiation, one tangent component per level).
struct GridDual {
    var value: Double
    var tangent: SIMD64<Double>

    init(_ value: Double) { self.value = value; tangent = .zero }
    init(_ value: Double, variable i: Int) { self.value = value; tangent = .zero; tangent[i] = 1 }
    init(value: Double, tangent: SIMD64<Double>) { self.value = value; self.tangent = tangent }

    static func + (a: GridDual, b: GridDual) -> GridDual { .init(value: a.value + b.value, tangent: a.tangent + b.tangent) }
    static func - (a: GridDual, b: GridDual) -> GridDual { .init(value: a.value - b.value, tangent: a.tangent - b.tangent) }
    static func * (a: GridDual, b: GridDual) -> GridDual {
        .init(value: a.value * b.value, tangent: b.value * a.tangent + a.value * b.tangent)
    }
    static func / (a: GridDual, b: GridDual) -> GridDual {
        let q = a.value / b.value
        return .init(value: q, tangent: (a.tangent - q * b.tangent) / b.value)
    }
    static func + (a: Double, b: GridDual) -> GridDual { .init(value: a + b.value, tangent: b.tangent) }
    static func - (a: Double, b: GridDual) -> GridDual { .init(value: a - b.value, tangent: -b.tangent) }
    static func * (a: Double, b: GridDual) -> GridDual { .init(value: a * b.value, tangent: a * b.tangent) }
    static func / (a: Double, b: GridDual) -> GridDual {
        let q = a / b.value
        return .init(value: q, tangent: (-q / b.value) * b.tangent)
    }
    static func + (a: GridDual, b: Double) -> GridDual { .init(value: a.value + b, tangent: a.tangent) }

    func log() -> GridDual { .init(value: Foundation.log(value), tangent: tangent / value) }

    /// e^x − 1 − x without cancellation: its Taylor series for |x| < 0.1, expm1(x) − x beyond.
    func expm1MinusIdentity() -> GridDual {
        let x = value
        var f: Double
        if abs(x) < 0.1 {
            // x²/2! + x³/3! + … + x¹¹/11!: the first term left out is below 3·10⁻¹⁶ of the sum.
            var term = x * x / 2, sum = term
            for k in 3...11 { term *= x / Double(k); sum += term }
            f = sum
        } else {
            f = Foundation.expm1(x) - x
        }
        return .init(value: f, tangent: Foundation.expm1(x) * tangent)
    }
}
