import TweedieLinearAlgebra

/// Optional, costlier outputs of ``Oracle/evaluate(_:alpha:sigma:including:)``.
public struct OracleExtras: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Cov[x_0 | x_t], D×D per point.
    public static let posteriorCovariance = OracleExtras(rawValue: 1)
    /// The component posterior means m_k(x_t), K×D per point.
    public static let componentMeans = OracleExtras(rawValue: 2)
}

/// Every exact quantity of the posterior p(x_0 | x_t) for a batch of B points (docs/math.md §2–§3).
public struct OracleResult: Sendable {
    /// log p_t(x_t), B values.
    public var logDensity: [Double]
    /// r_k(x_t) = p(k | x_t), B×K.
    public var responsibilities: Matrix
    /// The denoiser E[x_0 | x_t], B×D.
    public var denoised: Matrix
    /// E[ε | x_t] with ε = x_t − α x_0 ~ N(0, σ²Σ), B×D.
    public var noise: Matrix
    /// E[z | x_t] with z = R⁻¹ε/σ ~ N(0, I): what an ε-prediction network outputs, B×D.
    public var standardizedNoise: Matrix
    /// ∇_x log p_t(x_t), B×D.
    public var score: Matrix
    /// tr(Σ ∇² log p_t(x_t)), B values: the divergence the probability-flow ODE needs.
    public var divergence: [Double]
    /// Cov[x_0 | x_t] (D×D) per point, with ``OracleExtras/posteriorCovariance``.
    public var posteriorCovariance: [Matrix]?
    /// m_k(x_t) = E[x_0 | x_t, k] as a K×D matrix per point, with ``OracleExtras/componentMeans``.
    public var componentMeans: [Matrix]?

    public var count: Int { logDensity.count }
}
