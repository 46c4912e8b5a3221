import TweedieDiffusion
import TweedieDistributions

/// The exact oracle is a denoising model through its fast path ``Oracle/denoise(_:at:)``, and
/// draws from its exact reverse transitions for the `exact` sampler.
extension Oracle: DenoisingModel, ExactTransitionModel {
    public var noiseCovariance: NoiseCovariance { model.noise }
}
