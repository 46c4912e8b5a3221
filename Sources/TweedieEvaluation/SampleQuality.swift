import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// A seed derived from a run's seed for one purpose, so that reference draws never reuse the
/// run's own noise: the SplitMix64 finalizer of seed + (purpose + 1) · 0x9E3779B97F4A7C15.
public func derivedSeed(_ seed: UInt64, purpose: UInt64) -> UInt64 {
    var z = seed &+ (purpose &+ 1) &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// How close n samples are to p_0, each figure beside its exact reference or Monte Carlo floor.
///
/// Two independent sets of n exact samples of p_0, R (seed `derivedSeed(seed, purpose: 0)`) and
/// R' (purpose 1), give the references:
///
/// - cross-entropy: the mean of −log p_0 over the samples, against the entropy estimate, the
///   mean of −log p_0 over R (each ± its standard error; see ``PriorDensity``). A sampler
///   that puts mass where p_0 is small raises the first above the second. Unavailable (nil) for
///   Dirac or singular components.
/// - mode weights: ŵ of the samples against π with TV(ŵ, π), and the TV of R, its floor
///   (see ``ModeWeights``).
/// - sliced Wasserstein-2: SW₂(samples, R), and the floor SW₂(R', R) between two exact sets
///   (see ``SlicedWasserstein``; directions from purpose 2).
public struct SampleQuality: Sendable {
    public let count: Int
    public let referenceSeed: UInt64
    public let floorSeed: UInt64
    public let projectionSeed: UInt64
    /// R, the exact reference set (n×D), kept for the other two-sample figures.
    public let referenceSamples: Matrix
    /// R', the second exact set (n×D) that gives the two-sample floors.
    public let floorSamples: Matrix
    /// k̂ of each sample (``ModeAssigner``; −1 for a non-finite one).
    public let sampleModes: [Int]
    /// k̂ of each point of R.
    public let referenceModes: [Int]
    /// Mean −log p_0 of the samples; nil when p_0 has no density.
    public let negativeLogDensity: MeanEstimate?
    /// Mean −log p_0 of R, an estimate of the entropy H(p_0); nil when p_0 has no density.
    public let entropy: MeanEstimate?
    /// Why the two figures above are missing.
    public let densityUnavailable: DensityUnavailable?
    public let modeWeights: ModeWeights
    /// The mode weights of R.
    public let referenceModeWeights: ModeWeights
    public let projections: Int
    /// SW₂(samples, R).
    public let slicedWasserstein: Double
    /// SW₂(R', R).
    public let slicedWassersteinFloor: Double

    /// Evaluates `samples` (n×D, finite) against p_0 = `mixture`.
    public init(samples: Matrix, mixture: GaussianMixture, seed: UInt64,
                projections: Int = SlicedWasserstein.defaultProjections) throws(ArgumentError) {
        try PairwiseSums.check(samples, "samples", dimension: mixture.dimension)
        let n = samples.rows
        count = n
        referenceSeed = derivedSeed(seed, purpose: 0)
        floorSeed = derivedSeed(seed, purpose: 1)
        projectionSeed = derivedSeed(seed, purpose: 2)
        self.projections = projections
        let sampler = MixtureSampler(mixture)
        let reference = try sampler.sample(count: n, seed: referenceSeed).points
        let second = try sampler.sample(count: n, seed: floorSeed).points

        do {
            let density = try PriorDensity(mixture)
            negativeLogDensity = density.meanNegativeLogDensity(samples)
            entropy = density.meanNegativeLogDensity(reference)
            densityUnavailable = nil
        } catch {
            negativeLogDensity = nil
            entropy = nil
            densityUnavailable = error
        }
        let assigner = ModeAssigner(mixture)
        sampleModes = assigner.assign(samples)
        referenceModes = assigner.assign(reference)
        modeWeights = ModeWeights(assignments: sampleModes, expected: mixture.weights)
        referenceModeWeights = ModeWeights(assignments: referenceModes, expected: mixture.weights)
        referenceSamples = reference
        floorSamples = second
        let sliced = try SlicedWasserstein(dimension: mixture.dimension, projections: projections, seed: projectionSeed)
        slicedWasserstein = try sliced.distance(samples, reference)
        slicedWassersteinFloor = try sliced.distance(second, reference)
    }

    /// Mean −log p_0 of the samples minus the entropy estimate, ± the combined standard error.
    public var excessNegativeLogDensity: MeanEstimate? {
        guard let negativeLogDensity, let entropy else { return nil }
        return negativeLogDensity.subtracting(entropy)
    }
}
