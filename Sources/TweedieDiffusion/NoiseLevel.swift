import Foundation
import TweedieDistributions

/// One noise level of the forward process x_t = α x_0 + σ R z (docs/math.md §1): the signal scale
/// α and the noise scale σ, with the time t of the schedule it came from and the scales' time
/// derivatives where there is one. The oracle is evaluated at a level, posteriors and reverse
/// transitions go from one level to another, and samplers walk a path of levels.
public struct NoiseLevel: Sendable, Equatable {
    /// α, the signal scale.
    public var alpha: Double
    /// σ, the noise scale.
    public var sigma: Double
    /// The time of the schedule this level belongs to (nil for a level given by α and σ alone).
    public var t: Double?
    /// dα/dt and dσ/dt at t (NaN without a schedule); a flow-velocity output needs them.
    public var alphaDerivative: Double
    public var sigmaDerivative: Double

    /// A level given directly by its scales.
    public init(alpha: Double, sigma: Double) {
        self.init(t: nil, alpha: alpha, sigma: sigma)
    }

    public init(t: Double?, alpha: Double, sigma: Double, alphaDerivative: Double = .nan,
                sigmaDerivative: Double = .nan) {
        self.t = t
        self.alpha = alpha
        self.sigma = sigma
        self.alphaDerivative = alphaDerivative
        self.sigmaDerivative = sigmaDerivative
    }

    /// The level at time t of `schedule`; throws a ``ScheduleError`` outside its time range.
    public init(t: Double, schedule: Schedule) throws(ScheduleError) {
        let c = try schedule.coefficients(at: t)
        self.init(t: t, alpha: c.alpha, sigma: c.sigma, alphaDerivative: schedule.alphaDerivative(t),
                  sigmaDerivative: schedule.sigmaDerivative(t))
    }

    /// σ̃ = σ/α, the noise scale of the scaled variable x/α (the time variable of EDM samplers).
    public var scaledSigma: Double { sigma / alpha }

    /// λ = log(α/σ), the half log signal-to-noise ratio.
    public var logSNR: Double { log(alpha) - log(sigma) }

    /// Clean data: α = 1, σ = 0, where every sampler's last interval ends.
    public static let data = NoiseLevel(alpha: 1, sigma: 0)
}

extension Schedule {
    /// The noise level at time t; throws a ``ScheduleError`` outside ``timeRange``.
    public func level(at t: Double) throws(ScheduleError) -> NoiseLevel {
        try NoiseLevel(t: t, schedule: self)
    }
}
