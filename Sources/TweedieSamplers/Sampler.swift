import TweedieDiffusion
import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

/// A reverse-time sampler: from the state at the first grid time to samples of p_0.
public protocol Sampler: Sendable {
    /// The name users know it by (k-diffusion / diffusers), e.g. `heun`, `dpmpp-2m`.
    var name: String { get }
    /// Runs the reverse process for the rows of `x`, the state at `path.times[0]`. Row r is
    /// sample `firstSample + r`: its noise depends only on (seed, sample, step), so a sample is
    /// the same whatever batch it is drawn in.
    func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                firstSample: Int, monitor: SamplingMonitor) throws -> Matrix
    /// With its options as set, the sampler draws no noise: its output is a function of its
    /// starting state alone.
    var isDeterministic: Bool { get }
    /// For an affine denoiser (a single Gaussian component) each step is an affine map of the
    /// state and of the noise drawn, so the output law from a Gaussian start is Gaussian and
    /// computable exactly (fixed steps; no adaptive step selection or data-dependent step size).
    var isAffine: Bool { get }
    /// Throws an ``ArgumentError`` naming an option out of its range (by its command-line name,
    /// e.g. `s-churn`); ``run(count:model:path:noise:batchSize:standardNormals:recordsTrajectory:progress:)``
    /// calls it first. Samplers without options need not implement it.
    func validateOptions() throws(ArgumentError)
}

extension Sampler {
    public func validateOptions() throws(ArgumentError) {}
    /// A sampler that does not say is taken to draw noise and to be nonlinear.
    public var isDeterministic: Bool { false }
    public var isAffine: Bool { false }
}

/// Throws unless `value` is finite and at least `minimum` (strictly above it when `strict`).
func requireOption(_ name: String, _ value: Double, atLeast minimum: Double,
                   strict: Bool = false) throws(ArgumentError) {
    guard value.isFinite, strict ? value > minimum : value >= minimum else {
        throw ArgumentError(name,
                            "must be finite and \(strict ? ">" : "≥") \(String(format: "%g", minimum)), got \(value)")
    }
}

/// What a run reports: model calls, and optionally the trajectory and progress.
public final class SamplingMonitor: @unchecked Sendable {
    /// Calls to the model's denoiser (one per batch evaluation; adaptive samplers count per point
    /// and report the mean in ``modelCallsPerSample``).
    public internal(set) var modelCalls = 0
    /// Model calls per sample (differs from ``modelCalls`` only for per-point adaptive samplers).
    public internal(set) var modelCallsPerSample = 0.0
    /// Record x at each grid time (and the final samples) in ``trajectory``.
    public let recordsTrajectory: Bool
    public internal(set) var trajectory: [Matrix] = []
    /// Called with (intervals done, intervals in all): once at the start (0) and after each interval.
    public var progress: (@Sendable (Int, Int) -> Void)?

    public init(recordsTrajectory: Bool = false, progress: (@Sendable (Int, Int) -> Void)? = nil) {
        self.recordsTrajectory = recordsTrajectory
        self.progress = progress
    }

    /// One model call. A state that has left Float64's range, or that the model cannot evaluate
    /// (the oracle refuses points whose log-density is not representable), means the sampler
    /// diverged, which only extreme sampler options cause: reported as such, never passed on.
    func denoise(_ model: any DenoisingModel, _ x: Matrix, at level: NoiseLevel) throws -> Matrix {
        modelCalls += 1
        modelCallsPerSample += 1
        if let i = x.elements.firstIndex(where: { !$0.isFinite }) {
            throw SamplerDivergence(row: i / max(x.columns, 1), sigma: level.sigma,
                                    reason: "its state is \(x.elements[i])")
        }
        do {
            return try model.denoise(x, at: level)
        } catch let error as ArgumentError where error.argument == "x" {
            let largest = x.elements.map(abs).max() ?? 0
            throw SamplerDivergence(row: nil, sigma: level.sigma,
                                    reason: "its state reached |x| = \(largest), where \(error.reason)")
        }
    }

    func record(_ x: Matrix, step: Int, of steps: Int) {
        if recordsTrajectory { trajectory.append(x) }
        progress?(step, steps)
    }
}

/// A sampler whose state left the range the model can evaluate (see ``SamplingMonitor``).
public struct SamplerDivergence: Error, CustomStringConvertible {
    public let row: Int?
    public let sigma: Double
    public let reason: String

    public var description: String {
        "the sampler diverged before the model call at σ = \(sigma)\(row.map { " (batch row \($0))" } ?? ""): "
            + "\(reason); check the sampler's options"
    }
}

/// Keyed noise for one batch: each draw is addressed by (sample, step, purpose).
struct StepNoise {
    let stream: NoiseStream
    let firstSample: Int
    let rows: Int
    let dimension: Int

    /// Purposes within one interval, so that draws never collide.
    enum Purpose: Int {
        case main = 0, churn = 1, corrector = 2, componentChoice = 3, posterior = 4
    }

    static func step(_ interval: Int, _ purpose: Purpose) -> Int { 8 * interval + purpose.rawValue }

    /// z ~ N(0, I), `columns` per row.
    func standard(interval: Int, _ purpose: Purpose, columns: Int? = nil) -> Matrix {
        let c = columns ?? dimension
        var z = Matrix(rows: rows, columns: c)
        z.elements.withUnsafeMutableBufferPointer { buffer in
            for r in 0..<rows {
                stream.normals(sample: firstSample + r, step: Self.step(interval, purpose),
                               into: UnsafeMutableBufferPointer(rebasing: buffer[(r * c)..<((r + 1) * c)]))
            }
        }
        return z
    }

    /// R z ~ N(0, Σ).
    func correlated(interval: Int, _ purpose: Purpose, noise: NoiseCovariance) -> Matrix {
        noise.applying(.unwhiten, to: standard(interval: interval, purpose))
    }

    func uniforms(interval: Int, _ purpose: Purpose) -> [Double] {
        (0..<rows).map { stream.uniform(sample: firstSample + $0, step: Self.step(interval, purpose)) }
    }
}

/// The starting state x = σ_{t_0} R z. With `standardNormals` (B×D) z is given (`--init`);
/// otherwise it is drawn from the stream at a reserved step, keyed by sample.
public func initialState(count: Int, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                         firstSample: Int = 0, standardNormals: Matrix? = nil) throws -> Matrix {
    let d = model.dimension
    var z: Matrix
    if let given = standardNormals {
        guard given.rows == count, given.columns == d else {
            throw ArgumentError("init", "expected \(count)×\(d) standard normals, got \(given.rows)×\(given.columns)")
        }
        z = given
    } else {
        z = StepNoise(stream: noise, firstSample: firstSample, rows: count, dimension: d)
            .standard(interval: initialNoiseInterval, .main)
    }
    model.noiseCovariance.apply(.unwhiten, to: &z)
    let sigma = path.levels[0].sigma
    for i in 0..<z.elements.count { z.elements[i] *= sigma }
    return z
}

/// Steps 8·k are the intervals' own; the starting noise uses the last usable block.
let initialNoiseInterval = (NoiseStream.reservedSteps.lowerBound - 8) / 8

/// The loop most samplers share: one model call at each grid level i; the final interval
/// returns x̂_0, every other maps (i, x_i, x̂_0(x_i)) to the state at level i + 1 by `step`.
func denoisingLoop(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, monitor: SamplingMonitor,
                   step: (_ i: Int, _ x: Matrix, _ denoised: Matrix) throws -> Matrix) throws -> Matrix {
    let n = path.steps
    var x = x
    monitor.record(x, step: 0, of: n)
    for i in 0..<n {
        let denoised = try monitor.denoise(model, x, at: path.levels[i])
        x = i == n - 1 ? denoised : try step(i, x, denoised)
        monitor.record(x, step: i + 1, of: n)
    }
    return x
}

/// The slope of the probability-flow ODE in the scaled variables x̃ = x/α, σ̃ = σ/α (EDM's
/// formulation; k-diffusion's `to_d`): dx̃/dσ̃ = (x̃ − x̂_0)/σ̃ (docs/math.md §6.4).
func derivative(x: Matrix, sigma: Double, denoised: Matrix) -> Matrix {
    (x - denoised) / sigma
}
