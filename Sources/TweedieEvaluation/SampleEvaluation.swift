import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// Every figure of a sample set against the exact distribution p_0 of a model, each with its
/// noise floor: the entry point that `tweedie sample` and `tweedie compare` report.
///
/// The floors come from exact samples of p_0 of the same size as the samples: R and R' of
/// ``SampleQuality`` (seeds `derivedSeed(seed, purpose: 0)` and `purpose: 1`), drawn once and
/// shared by every figure. One-sample figures (against p_0's parameters) take R's figure as the
/// floor; two-sample figures (against R) take the figure of R' against R.
///
/// | name | figure | floor |
/// |---|---|---|
/// | `cross_entropy` | mean −log p_0 of the samples | mean −log p_0 of R (entropy estimate) |
/// | `cross_entropy_gap` | the difference of the two | its standard error |
/// | `tv_mode_weights` | TV(ŵ, π) of the mode weights | TV of R |
/// | `mode_mean_error` | π-weighted ‖x̄_k − μ_k‖ (``ModeMoments``) | the same for R |
/// | `mode_covariance_error` | π-weighted ‖Ŝ_k − Λ_k‖_F/‖Λ_k‖_F | the same for R |
/// | `sliced_w2` | SW₂(samples, R) | SW₂(R', R) |
/// | `mmd2` | MMD²_u(samples, R), Gaussian kernel | MMD²_u(R', R), same bandwidth |
/// | `energy_distance` | Ê(samples, R) | Ê(R', R) |
/// | `memorized_fraction` | share with d₁ ≤ τ (``Memorization``) | the same for R: 1 |
/// | `nn_distance_ratio` | mean d₁/d₂ | the same for R: 0 |
/// | `memorized_ratio_fraction` | share with d₁/d₂ < 1/3 | the same for R: 1 |
///
/// Cross-entropy needs a density (no Dirac or singular component); the mode moments need a mode
/// with ``ModeMoments/minimumCount(dimension:)`` points of R (and Λ_k ≠ 0 for the covariance);
/// MMD and energy need two samples; the memorization figures are for Dirac (data-set) models with
/// at least two training points. A figure the samples cannot give (no mode of the samples has
/// enough points) is NaN beside its floor.
public enum SampleEvaluation {
    public struct Options: Sendable {
        /// Random directions of the sliced Wasserstein distance.
        public var projections: Int
        /// Pooled points (samples ∪ R) used for the median-heuristic MMD bandwidth when there are
        /// more, chosen by `derivedSeed(seed, purpose: 3)`.
        public var bandwidthSubsample: Int
        /// τ of the memorization figures; nil for ⅓ of the median nearest-neighbour distance
        /// between training points (subsample chosen by `derivedSeed(seed, purpose: 4)`).
        public var memorizationRadius: Double?

        public init(projections: Int = SlicedWasserstein.defaultProjections,
                    bandwidthSubsample: Int = MaximumMeanDiscrepancy.bandwidthSubsample,
                    memorizationRadius: Double? = nil) {
            self.projections = projections
            self.bandwidthSubsample = bandwidthSubsample
            self.memorizationRadius = memorizationRadius
        }
    }

    /// The measurements of `samples` (C×D, finite) against the model's p_0, each with its noise
    /// floor; exact reference samples are drawn with seeds derived from `seed`.
    public static func measure(_ samples: Matrix, model: MixtureModel, seed: UInt64,
                               options: Options = Options()) throws -> [Measurement] {
        let prior = model.prior
        let quality = try SampleQuality(samples: samples, mixture: prior, seed: seed, projections: options.projections)
        let reference = quality.referenceSamples, second = quality.floorSamples
        let n = samples.rows
        var out: [Measurement] = []
        for measurement in quality.measurements {
            if measurement.name == "sliced_w2" { out += modeMoments(samples, quality: quality, mixture: prior) }
            out.append(measurement)
        }

        if n >= 2 {
            let bandwidth = try MaximumMeanDiscrepancy.bandwidth(
                pooling: samples, reference, subsample: options.bandwidthSubsample, seed: derivedSeed(seed, purpose: 3))
            let mmd = try MaximumMeanDiscrepancy(bandwidth: bandwidth)
            let kernels: [PairwiseKernel] = [mmd.kernel, .distance]
            let sampleSums = PairwiseSums.within(samples, kernels: kernels)
            let referenceSums = PairwiseSums.within(reference, kernels: kernels)
            let secondSums = PairwiseSums.within(second, kernels: kernels)
            let crossSums = PairwiseSums.cross(samples, reference, kernels: kernels)
            let floorCrossSums = PairwiseSums.cross(second, reference, kernels: kernels)
            let subsampled = 2 * n > options.bandwidthSubsample
                ? ", on a seeded subsample of \(options.bandwidthSubsample)" : ""
            out.append(Measurement(
                name: "mmd2",
                label: "MMD² to exact samples (unbiased; Gaussian kernel, "
                    + "bandwidth h = \(String(format: "%.4g", bandwidth)) "
                    + "= median pairwise distance of samples ∪ exact\(subsampled))",
                value: mmd.combine(within: sampleSums[0], n, within: referenceSums[0], n, cross: crossSums[0]),
                noiseFloor: mmd.combine(within: secondSums[0], n, within: referenceSums[0], n,
                                        cross: floorCrossSums[0])))
            out.append(Measurement(
                name: "energy_distance",
                label: "energy distance 2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ to exact samples (unbiased)",
                value: EnergyDistance.combine(within: sampleSums[1], n, within: referenceSums[1], n,
                                              cross: crossSums[1]),
                noiseFloor: EnergyDistance.combine(within: secondSums[1], n, within: referenceSums[1], n,
                                                   cross: floorCrossSums[1])))
        }

        if case .dirac = prior.covariances, let training = try? Memorization.trainingPoints(of: prior) {
            let radius = options.memorizationRadius
                ?? Memorization.medianNearestNeighbourDistance(of: training, seed: derivedSeed(seed, purpose: 4)) / 3
            let memorization = try Memorization(samples: samples, mixture: prior, radius: radius)
            let floor = try Memorization(samples: reference, mixture: prior, radius: radius)
            let tau = String(format: "%.4g", radius)
            let defaulted = options.memorizationRadius == nil
                ? " = ⅓ median nearest-neighbour distance of training points" : ""
            out.append(Measurement(
                name: "memorized_fraction",
                label: "fraction of samples within τ = \(tau)\(defaulted) of a training point "
                    + "(exact samples: 1, fully memorized)",
                value: memorization.fractionWithinRadius, noiseFloor: floor.fractionWithinRadius))
            out.append(Measurement(
                name: "nn_distance_ratio",
                label: "mean d₁/d₂, distances to the nearest and second-nearest training point (exact samples: 0)",
                value: memorization.meanRatio, noiseFloor: floor.meanRatio))
            out.append(Measurement(
                name: "memorized_ratio_fraction",
                label: "fraction with d₁/d₂ < 1/3, the memorization criterion of the literature (exact samples: 1)",
                value: memorization.fractionBelowRatioThreshold, noiseFloor: floor.fractionBelowRatioThreshold))
        }
        return out
    }

    /// The per-mode moment errors of the samples beside those of R (see ``ModeMoments``).
    static func modeMoments(_ samples: Matrix, quality: SampleQuality, mixture: GaussianMixture) -> [Measurement] {
        let moments = ModeMoments(of: samples, assignments: quality.sampleModes, mixture: mixture)
        let exact = ModeMoments(of: quality.referenceSamples, assignments: quality.referenceModes, mixture: mixture)
        let minimum = ModeMoments.minimumCount(dimension: mixture.dimension)
        var out: [Measurement] = []
        if let floor = exact.meanError {
            out.append(Measurement(name: "mode_mean_error",
                                   label: "π-weighted mean of ‖sample mean − μ_k‖ over modes "
                                       + "with ≥ \(minimum) assigned samples",
                                   value: moments.meanError ?? .nan, noiseFloor: floor))
        }
        if let floor = exact.covarianceError {
            out.append(Measurement(name: "mode_covariance_error",
                                   label: "π-weighted mean of ‖Ŝ_k − Λ_k‖_F/‖Λ_k‖_F over modes "
                                       + "with ≥ \(minimum) assigned samples",
                                   value: moments.covarianceError ?? .nan, noiseFloor: floor))
        }
        return out
    }

}
