import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

/// The forward kernel q(x_t | x_0) = N(α x_0, σ² Σ) at one noise level (docs/math.md §1), and exact
/// sampling from it and from the marginal p_t.
///
/// Noising draws x_t = α x_0 + σ R z with R = L, the lower Cholesky factor of Σ (applied through
/// ``NoiseCovariance/apply(_:rows:to:)``, so Kronecker noise costs O(N²d)), and z the standard
/// normals of a ``NoiseStream``: row b of a batch is sample `firstSample + b`, and its z is
/// `normals(sample: firstSample + b, step: step)`. Each row is computed on its own (its own
/// triangular product, one row at a time), in chunks of ``chunkSize`` rows on all cores, so a
/// row's x_t depends only on (x_0, α, σ, Σ, seed, sample, step): the same bits whatever the
/// batch size, the batch's offset or the thread count.
///
/// ```swift
/// let kernel = try ForwardKernel(t: 0.5, schedule: .vpLinear(), noise: model.noise)
/// let xt = try kernel.sample(from: x0, seed: 7)
/// let marginal = try kernel.sampleMarginal(of: MixtureSampler(model.prior), count: 1000, seed: 7)
/// ```
public struct ForwardKernel: Sendable, Equatable {
    /// α, the signal scale.
    public let alpha: Double
    /// σ, the noise scale.
    public let sigma: Double
    /// Σ = L Lᵀ, the covariance of the forward noise.
    public let noise: NoiseCovariance

    /// Rows per parallel task.
    public static let chunkSize = 64

    /// The kernel at signal scale `alpha` ≥ 0 and noise scale `sigma` ≥ 0 (σ = 0 gives x_t = α x_0).
    public init(alpha: Double, sigma: Double, noise: NoiseCovariance) throws(ArgumentError) {
        guard alpha.isFinite, alpha >= 0 else {
            throw ArgumentError("alpha", "must be finite and non-negative, got \(alpha)")
        }
        guard sigma.isFinite, sigma >= 0 else {
            throw ArgumentError("sigma", "must be finite and non-negative, got \(sigma)")
        }
        self.alpha = alpha
        self.sigma = sigma
        self.noise = noise
    }

    /// The kernel at time `t` of `schedule`: α = α_t, σ = σ_t. Throws a ``ScheduleError`` for a
    /// time outside the schedule's range.
    public init(t: Double, schedule: Schedule, noise: NoiseCovariance) throws {
        let c = try schedule.coefficients(at: t)
        try self.init(alpha: c.alpha, sigma: c.sigma, noise: noise)
    }

    public var dimension: Int { noise.dimension }

    /// x_t = α x_0 + σ L z for each row of `x0` (B×D), row b using the noise of sample
    /// `firstSample + b` at `step` of the stream `seed` (docs/math.md §1, forward kernel).
    public func sample(from x0: Matrix, seed: UInt64, step: Int = 0,
                       firstSample: Int = 0) throws(ArgumentError) -> Matrix {
        try validate(x0, argument: "x0")
        try Self.validate(step: step, firstSample: firstSample, count: x0.rows)
        let d = dimension, count = x0.rows
        var xt = Matrix(rows: count, columns: d)
        guard count > 0 else { return xt }
        let (alpha, sigma, noise) = (alpha, sigma, noise)
        let stream = NoiseStream(seed: seed)
        xt.elements.withUnsafeMutableBufferPointer { out in
            x0.elements.withUnsafeBufferPointer { clean in
                let buffers = UncheckedSendable((out.baseAddress!, clean.baseAddress!))
                Parallel.forEachChunk(of: count, size: Self.chunkSize) { rows in
                    let (out, clean) = buffers.value
                    for row in rows {
                        let x = out + row * d, x0 = clean + row * d
                        stream.normals(sample: firstSample + row, step: step,
                                       into: UnsafeMutableBufferPointer(start: x, count: d))
                        // L z one row per call: the product never depends on which rows share a call.
                        noise.apply(.unwhiten, rows: 1, to: x)
                        for i in 0..<d { x[i] = alpha * x0[i] + sigma * x[i] }
                    }
                }
            }
        }
        return xt
    }

    /// The standardized noise z of ``sample(from:seed:step:firstSample:)``: row b is
    /// `normals(sample: firstSample + b, step: step)`, so x_t = α x_0 + σ L z and
    /// ε = x_t − α x_0 = σ L z (docs/math.md §1, the two noise conventions).
    public func standardizedNoise(count: Int, seed: UInt64, step: Int = 0,
                                  firstSample: Int = 0) throws(ArgumentError) -> Matrix {
        try Self.validate(step: step, firstSample: firstSample, count: count)
        let d = dimension
        var z = Matrix(rows: count, columns: d)
        let stream = NoiseStream(seed: seed)
        z.elements.withUnsafeMutableBufferPointer { out in
            let base = UncheckedSendable(out.baseAddress)
            Parallel.forEachChunk(of: count, size: Self.chunkSize) { rows in
                for row in rows {
                    stream.normals(sample: firstSample + row, step: step,
                                   into: UnsafeMutableBufferPointer(start: base.value! + row * d, count: d))
                }
            }
        }
        return z
    }

    /// Exact samples of the marginal p_t = Σ_k π_k N(α μ_k, α² Λ_k + σ² Σ): sample i draws
    /// x_0 ~ p_0 with `sampler` (its own steps of the stream, see ``MixtureSampler``) and then
    /// noises it with this kernel at `step`. So the clean points are exactly
    /// `sampler.sample(count:seed:firstSample:)`, and the noisy points exactly
    /// ``sample(from:seed:step:firstSample:)`` of them.
    public func sampleMarginal(of sampler: MixtureSampler, count: Int, seed: UInt64, step: Int = 0,
                               firstSample: Int = 0) throws(ArgumentError) -> MarginalSample {
        guard sampler.dimension == dimension else {
            throw ArgumentError("sampler", "the mixture has dimension \(sampler.dimension), Σ has \(dimension)")
        }
        try Self.validate(step: step, firstSample: firstSample, count: count)
        try MemoryBudget.require("count", "\(count) samples × D = \(dimension) (clean and noised)",
                                 elements: [2, count, dimension])
        let (clean, components) = try sampler.sample(count: count, seed: seed, firstSample: firstSample)
        let points = try sample(from: clean, seed: seed, step: step, firstSample: firstSample)
        return MarginalSample(points: points, cleanPoints: clean, components: components)
    }

    // MARK: Implementation

    private func validate(_ x: Matrix, argument: String) throws(ArgumentError) {
        try requirePoints(x, dimension: dimension, argument)
    }

    static func validate(step: Int, firstSample: Int, count: Int) throws(ArgumentError) {
        guard step >= 0, step < NoiseStream.reservedSteps.lowerBound else {
            throw ArgumentError("step", "must be in 0...\(NoiseStream.reservedSteps.lowerBound - 1) "
                                + "(larger steps are reserved), got \(step)")
        }
        guard count >= 0 else { throw ArgumentError("count", "must be non-negative, got \(count)") }
        guard firstSample >= 0 else {
            throw ArgumentError("firstSample", "must be non-negative, got \(firstSample)")
        }
        guard count <= Int.max - firstSample else {
            throw ArgumentError("count", "firstSample + count overflows (\(firstSample) + \(count))")
        }
    }
}

/// Samples of the marginal p_t with the clean points and components they came from.
public struct MarginalSample: Sendable, Equatable {
    /// x_t, B×D.
    public let points: Matrix
    /// x_0 ~ p_0, B×D.
    public let cleanPoints: Matrix
    /// The mixture component each x_0 was drawn from.
    public let components: [Int]
}

extension MixtureModel {
    /// The forward kernel of this model's noise Σ at (α, σ).
    public func forwardKernel(alpha: Double, sigma: Double) throws(ArgumentError) -> ForwardKernel {
        try ForwardKernel(alpha: alpha, sigma: sigma, noise: noise)
    }

    /// Exact samples of p_t at (α, σ); see ``ForwardKernel/sampleMarginal(of:count:seed:step:firstSample:)``.
    public func sampleMarginal(count: Int, alpha: Double, sigma: Double, seed: UInt64, step: Int = 0,
                               firstSample: Int = 0) throws(ArgumentError) -> MarginalSample {
        try forwardKernel(alpha: alpha, sigma: sigma)
            .sampleMarginal(of: MixtureSampler(prior), count: count, seed: seed, step: step, firstSample: firstSample)
    }

    /// Exact samples of p_t at time `t` of `schedule`.
    public func sampleMarginal(count: Int, t: Double, schedule: Schedule, seed: UInt64, step: Int = 0,
                               firstSample: Int = 0) throws -> MarginalSample {
        try ForwardKernel(t: t, schedule: schedule, noise: noise)
            .sampleMarginal(of: MixtureSampler(prior), count: count, seed: seed, step: step, firstSample: firstSample)
    }
}
