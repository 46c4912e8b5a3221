import TweedieDistributions
import TweedieLinearAlgebra

/// Every figure of a sample set against the exact distribution p_0 of a model, each with its
/// noise floor: the entry point that `tweedie sample` and `tweedie compare` report.
public enum SampleEvaluation {
    public struct Options: Sendable {
        /// Random directions of the sliced Wasserstein distance.
        public var projections: Int = 128
        public init(projections: Int = 128) { self.projections = projections }
    }

    /// The measurements of `samples` (C×D) against the model's p_0; exact reference samples are
    /// drawn with seeds derived from `seed`.
    public static func measure(_ samples: Matrix, model: MixtureModel, seed: UInt64,
                               options: Options = Options()) throws -> [Measurement] {
        try SampleQuality(samples: samples, mixture: model.prior, seed: seed, projections: options.projections)
            .measurements
    }
}
