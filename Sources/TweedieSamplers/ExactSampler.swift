import TweedieDiffusion
import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

/// `exact`: ancestral sampling through the exact reverse transitions p(x_s | x_t) of the
/// mixture prior (``Oracle/sampleReverseTransition(from:at:to:uniforms:normals:)``),
/// ending with an exact draw from p(x_0 | x_{t_min}). No discretization error: started from
/// x ~ p_{t_0} its output is distributed exactly as p_0. Oracle only.
public struct ExactSampler: Sampler {
    public let name = "exact"
    public init() {}

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        guard let exact = model as? any ExactTransitionModel else {
            throw ArgumentError("sampler", "exact needs a model with exact reverse transitions (the exact oracle)")
        }
        let n = path.steps, d = model.dimension
        let keyed = StepNoise(stream: noise, firstSample: firstSample, rows: x.rows, dimension: d)
        var x = x
        monitor.record(x, step: 0, of: n)
        for i in 0..<n {
            let now = path.levels[i]
            let next = i == n - 1 ? NoiseLevel.data : path.levels[i + 1]
            monitor.modelCalls += 1
            monitor.modelCallsPerSample += 1
            x = try exact.sampleReverseTransition(
                from: x, at: now, to: next,
                uniforms: keyed.uniforms(interval: i, .componentChoice),
                normals: keyed.standard(interval: i, .posterior, columns: 2 * d))
            monitor.record(x, step: i + 1, of: n)
        }
        return x
    }
}

