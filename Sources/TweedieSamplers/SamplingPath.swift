import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra

/// The times a sampler visits, in the convention of k-diffusion and EDM: N grid times from
/// t_max down to t_min, then a final interval to σ = 0 whose result is x̂_0. So `steps` = N
/// intervals, and an N-step first-order sampler makes N model calls.
///
/// ODE samplers work in the scaled variables x̃ = x/α_t and σ̃ = σ_t/α_t (the EDM formulation),
/// where the probability-flow ODE is dx̃/dσ̃ = (x̃ − x̂_0)/σ̃ whatever Σ is.
public struct SamplingPath: Sendable {
    public let schedule: Schedule
    /// t_0 > t_1 > … > t_{N−1}.
    public let times: [Double]
    /// The noise level at each grid time.
    public let levels: [NoiseLevel]

    public init(schedule: Schedule, times: [Double]) throws {
        guard !times.isEmpty else { throw ArgumentError("steps", "a sampler needs at least one step") }
        for i in 1..<max(times.count, 1) where !(times[i] < times[i - 1]) {
            throw ArgumentError("time grid",
                                "times must decrease strictly (t[\(i - 1)] = \(times[i - 1]), t[\(i)] = \(times[i]))")
        }
        self.schedule = schedule
        self.times = times
        levels = try times.map { try NoiseLevel(t: $0, schedule: schedule) }
        if let bad = levels.first(where: { !($0.sigma > 0) || !($0.alpha > 0) }) {
            throw ArgumentError("time grid", "t = \(bad.t.map { "\($0)" } ?? "?") "
                                + "has α = \(bad.alpha), σ = \(bad.sigma); "
                                + "samplers need α > 0 and σ > 0 on the grid")
        }
    }

    /// N, the number of intervals (the final one to σ = 0 included).
    public var steps: Int { times.count }

    /// σ̃ = σ/α at grid time i.
    public func scaledSigma(_ i: Int) -> Double { levels[i].sigma / levels[i].alpha }

    /// The largest σ̃ of the schedule (at its upper time end, or just below it where α vanishes).
    public var largestScaledSigma: Double {
        let upper = schedule.timeRange.upperBound
        for t in [upper, upper - 1e-9, upper - 1e-6, upper - 1e-3] {
            if let c = try? schedule.coefficients(at: t), c.alpha > 0 { return c.sigma / c.alpha }
        }
        return scaledSigma(0)
    }

    /// The noise level whose scaled noise is σ̃ (for churned or adaptive steps between grid times).
    public func level(scaledSigma: Double) throws -> NoiseLevel {
        let t = try schedule.time(logSNR: -log(scaledSigma))
        return try NoiseLevel(t: t, schedule: schedule)
    }
}

/// The grids of ``TimeGrid`` by name, for a sampler run.
public enum GridKind: String, Sendable, CaseIterable {
    /// Uniform in t.
    case uniform
    /// Uniform in λ = log(α/σ).
    case logSNR = "log-snr"
    /// Karras et al. ρ = 7 spacing in σ̃.
    case karras
    /// DDPM timestep subsets, diffusers' spacings (discrete schedules only).
    case linspace, leading, trailing

    /// The recipe of ``TimeGrid`` this name stands for.
    public var spacing: TimeGrid.Spacing {
        switch self {
        case .uniform: .uniform
        case .logSNR: .logSNR
        case .karras: .karras()
        case .linspace: .ddpm(.linspace)
        case .leading: .ddpm(.leading)
        case .trailing: .ddpm(.trailing)
        }
    }
}

extension SamplingPath {
    /// N grid times of a kind between the ends of the schedule's usable range
    /// (``Schedule/usableTimeRange``) unless `tMax` and `tMin` are given.
    public static func make(_ kind: GridKind, schedule: Schedule, steps: Int,
                            tMax: Double? = nil, tMin: Double? = nil) throws -> SamplingPath {
        try MemoryBudget.requireSteps("steps", steps)
        let usable = schedule.usableTimeRange
        let upper = tMax ?? usable.upperBound, lower = tMin ?? usable.lowerBound
        let times: [Double]
        if case .ddpm = kind.spacing {
            // diffusers' spacings fix both ends themselves.
            guard schedule.discrete != nil else {
                throw ArgumentError("grid", "\(kind.rawValue) spacing needs a discrete schedule "
                                    + "(ddpm, ddpm-scaled-linear, ddpm-cosine)")
            }
            times = try TimeGrid.times(kind.spacing, for: schedule, count: steps)
        } else if steps == 1 {
            // One grid time (then the final interval to σ = 0): t_max alone.
            times = [upper]
        } else {
            times = try TimeGrid.times(kind.spacing, for: schedule, count: steps, from: upper, to: lower)
        }
        return try SamplingPath(schedule: schedule, times: times)
    }
}
