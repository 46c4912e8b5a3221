import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra

/// What a network outputs, in the conventions of the diffusion literature, all valid with a
/// correlated Σ = L Lᵀ (y = L⁻¹x are whitened coordinates, z ~ N(0, I) the standardized noise,
/// x_t = α x_0 + σ L z).
public enum PredictionType: String, Sendable, CaseIterable {
    /// x̂_0 itself.
    case x0 = "x0"
    /// ẑ = E[z | x_t]: x̂_0 = (x_t − σ L ẑ)/α.
    case epsilon
    /// v̂ = α ẑ − σ L⁻¹x̂_0 (whitened v-prediction): x̂_0 = L(α y_t − σ v̂)/(α² + σ²).
    case v
    /// ŝ = ∇ log p_t(x_t): x̂_0 = (x_t + σ²Σŝ)/α (Tweedie, docs/math.md §3).
    case score
    /// v̂ = dx_t/dt = α' x_0 + σ' L z (rectified flow: L z − x_0):
    /// x̂_0 = (σ v̂ − σ' x_t)/(σ α' − σ' α).
    case flowVelocity = "flow"
}

/// A network (any closure from a batch and a noise level to its output) as a ``DenoisingModel``.
public struct PredictionModel: DenoisingModel {
    public let dimension: Int
    public let noiseCovariance: NoiseCovariance
    public let prediction: PredictionType
    private let network: @Sendable (Matrix, NoiseLevel) throws -> Matrix

    public init(dimension: Int, noise: NoiseCovariance? = nil, predicting prediction: PredictionType,
                _ network: @escaping @Sendable (Matrix, NoiseLevel) throws -> Matrix) {
        self.dimension = dimension
        noiseCovariance = noise ?? .identity(dimension: dimension)
        self.prediction = prediction
        self.network = network
    }

    public func denoise(_ x: Matrix, at level: NoiseLevel) throws -> Matrix {
        let output = try network(x, level)
        guard output.rows == x.rows, output.columns == dimension else {
            throw ArgumentError("model output", "expected \(x.rows)×\(dimension), got \(output.rows)×\(output.columns)")
        }
        let (alpha, sigma) = (level.alpha, level.sigma)
        var result: Matrix
        switch prediction {
        case .x0:
            return output
        case .epsilon:
            result = noiseCovariance.applying(.unwhiten, to: output)
            for i in 0..<result.elements.count {
                result.elements[i] = (x.elements[i] - sigma * result.elements[i]) / alpha
            }
        case .v:
            let y = noiseCovariance.applying(.whiten, to: x)
            result = Matrix(rows: x.rows, columns: dimension)
            let norm = alpha * alpha + sigma * sigma
            for i in 0..<result.elements.count {
                result.elements[i] = (alpha * y.elements[i] - sigma * output.elements[i]) / norm
            }
            noiseCovariance.apply(.unwhiten, to: &result)
        case .score:
            result = try TweedieFormula.denoised(x, score: output, alpha: alpha, sigma: sigma, noise: noiseCovariance)
        case .flowVelocity:
            let (da, ds) = (level.alphaDerivative, level.sigmaDerivative)
            let denominator = sigma * da - ds * alpha
            result = Matrix(rows: x.rows, columns: dimension)
            for i in 0..<result.elements.count {
                result.elements[i] = (sigma * output.elements[i] - ds * x.elements[i]) / denominator
            }
        }
        return result
    }
}
