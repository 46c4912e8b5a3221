import TweedieDistributions
import TweedieLinearAlgebra

// What a sampler calls, declared below everything that conforms: the exact oracle
// (TweedieOracle), networks through PredictionModel (TweedieSamplers), guided denoisers
// (TweedieInverse), or any type of the user's.

/// A model of the data at noise level t, as samplers see it: an estimate of E[x_0 | x_t].
///
/// Every sampler in Tweedie calls only this. The exact ``Oracle`` conforms; a network plugs in
/// through ``PredictionModel`` whatever it predicts (x_0, ε, v, score or flow velocity); any other
/// Swift type or closure conforms by implementing ``denoise(_:at:)``.
public protocol DenoisingModel: Sendable {
    /// D, the number of coordinates of a point.
    var dimension: Int { get }
    /// Σ of the forward noise q(x_t | x_0) = N(α_t x_0, σ_t² Σ); stochastic samplers draw R z with it.
    var noiseCovariance: NoiseCovariance { get }
    /// x̂_0(x_t) for each row of `x` (B×D).
    func denoise(_ x: Matrix, at level: NoiseLevel) throws -> Matrix
}

/// A model that can draw from its exact reverse transitions p(x_s | x_t): the exact oracle of a
/// mixture (``Oracle/sampleReverseTransition(from:at:to:uniforms:normals:)``). The `exact` sampler
/// needs one.
public protocol ExactTransitionModel: DenoisingModel {
    /// x_s ~ p(x_s | x_t) for each row of `x`, from caller-supplied uniforms (one per row, to
    /// choose a component) and normals (B × 2D).
    func sampleReverseTransition(from x: Matrix, at level: NoiseLevel, to target: NoiseLevel,
                                 uniforms: [Double], normals: Matrix) throws(ArgumentError) -> Matrix
}
