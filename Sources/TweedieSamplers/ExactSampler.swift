import TweedieDiffusion
import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
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
        guard let oracle = model as? Oracle else {
            throw ArgumentError("sampler", "exact needs the exact oracle as its model")
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
            x = try oracle.sampleReverseTransition(
                from: x, at: now, to: next,
                uniforms: keyed.uniforms(interval: i, .componentChoice),
                normals: keyed.standard(interval: i, .posterior, columns: 2 * d))
            monitor.record(x, step: i + 1, of: n)
        }
        return x
    }
}

/// `rk45`: the probability-flow ODE solved adaptively by Dormand–Prince 5(4) (``DormandPrince``) with local error
/// control (scipy's norm: RMS of err/(atol + rtol·max(|x̃|, |x̃'|))), in u = log σ̃ where
/// dx̃/du = x̃ − x̂_0, from σ̃ at the first grid time to σ̃ at the last; the final interval to
/// σ̃ = 0 returns x̂_0. Each sample is integrated on its own (its own steps), so a sample does not
/// depend on its batch; ``SamplingMonitor/modelCallsPerSample`` reports the mean cost.
public struct RK45Sampler: Sampler {
    public let name = "rk45"
    public var isDeterministic: Bool { true }
    public var relativeTolerance: Double
    public var absoluteTolerance: Double
    public init(relativeTolerance: Double = 1e-5, absoluteTolerance: Double = 1e-5) {
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
    }

    public func validateOptions() throws(ArgumentError) {
        try requireOption("rtol", relativeTolerance, atLeast: 0, strict: true)
        try requireOption("atol", absoluteTolerance, atLeast: 0, strict: true)
    }

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        let d = model.dimension, n = path.steps
        var out = x
        monitor.record(x, step: 0, of: n)
        var totalCalls = 0
        let start = log(path.scaledSigma(0)), end = log(path.scaledSigma(n - 1))
        for r in 0..<x.rows {
            var calls = 0
            func velocity(_ scaled: [Double], _ u: Double) throws -> [Double] {
                let level = try path.level(scaledSigma: exp(u))
                let point = Matrix(rows: 1, columns: d, elements: scaled.map { $0 * level.alpha })
                calls += 1
                let denoised = try model.denoise(point, at: level)
                return (0..<d).map { scaled[$0] - denoised.elements[$0] }
            }
            var y = x.row(r).map { $0 / path.levels[0].alpha }
            if n > 1 && end < start {
                let stepper = DormandPrince(relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
                do {
                    y = try stepper.integrate(y, from: start, to: end, initialStep: min(0.05 * (start - end), 0.5),
                                              velocity).state
                } catch let error as DormandPrince.StepSizeUnderflow {
                    throw ArgumentError("rk45", "step size underflow at σ̃ = \(exp(error.time)) (tolerances too tight)")
                }
            }
            // Final interval to σ̃ = 0: x̂_0.
            let last = path.levels[n - 1]
            let point = Matrix(rows: 1, columns: d, elements: y.map { $0 * last.alpha })
            calls += 1
            out.setRow(r, to: try model.denoise(point, at: last).elements)
            totalCalls += calls
        }
        monitor.modelCalls += totalCalls
        monitor.modelCallsPerSample += Double(totalCalls) / Double(max(x.rows, 1))
        monitor.record(out, step: n, of: n)
        return out
    }
}
