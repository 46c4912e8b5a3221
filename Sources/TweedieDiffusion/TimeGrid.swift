import Foundation

/// How diffusers' `DDPMScheduler` / `DDIMScheduler.set_timesteps` pick N of the T training
/// timesteps (its `timestep_spacing` option).
public enum TimestepSpacing: String, CaseIterable, Sendable {
    /// `round(linspace(0, T−1, N))`, reversed: both ends included.
    case linspace
    /// `j · (T div N) + steps_offset` for j = N−1 … 0.
    case leading
    /// `round(T − j · T/N) − 1` for j = 0 … N−1: starts at T−1.
    case trailing
}

/// Sampler time grids: N times decreasing from a start time (default: the schedule's largest
/// time) to an end time (default: its smallest), both included, so N − 1 steps.
public enum TimeGrid {
    /// A grid recipe, for choosing one at run time (see ``times(_:for:count:from:to:)``).
    public enum Spacing: Sendable, Equatable {
        /// Equal steps in t.
        case uniform
        /// Equal steps in λ = log(α/σ).
        case logSNR
        /// Karras et al.'s ρ-spacing of σ/α; `nil` takes the edm schedule's ρ, else 7.
        case karras(rho: Double? = nil)
        /// A subset of a discrete schedule's steps, as diffusers picks them.
        case ddpm(TimestepSpacing, stepsOffset: Int = 0)
    }

    /// The grid `spacing` describes. `start` and `end` default to the ends of the schedule's
    /// time range and must be left `nil` for `.ddpm`, which needs a discrete schedule.
    public static func times(_ spacing: Spacing, for schedule: Schedule, count: Int,
                             from start: Double? = nil, to end: Double? = nil) throws(ScheduleError) -> [Double] {
        switch spacing {
        case .uniform:
            return try uniform(schedule, count: count, from: start, to: end)
        case .logSNR:
            return try uniformLogSNR(schedule, count: count, from: start, to: end)
        case let .karras(rho):
            return try karras(schedule, count: count, rho: rho, from: start, to: end)
        case let .ddpm(timestepSpacing, offset):
            guard let discrete = schedule.discrete else {
                throw .invalidGrid("DDPM timestep spacing needs a discrete schedule (ddpm, ddpm-scaled-linear, "
                                   + "ddpm-cosine), not \(schedule.name)")
            }
            guard start == nil, end == nil else {
                throw .invalidGrid("DDPM timestep spacing fixes both ends; leave the start and end times unset")
            }
            return try ddpm(discrete, count: count, spacing: timestepSpacing, stepsOffset: offset)
        }
    }

    /// `count` times equally spaced in t from `start` down to `end`.
    public static func uniform(_ schedule: Schedule, count: Int,
                               from start: Double? = nil, to end: Double? = nil) throws(ScheduleError) -> [Double] {
        let (a, b) = try ends(schedule, count: count, start, end)
        return interpolate(from: a, to: b, count: count)
    }

    /// `count` times equally spaced in λ = log(α/σ) (docs/math.md §1) from λ(`start`) up to λ(`end`),
    /// mapped to t by the schedule's closed-form inverse. λ must be finite at both ends: pass an
    /// end time above 0 for VP and flow schedules, and a start time below 1 for vp-cosine and flow.
    public static func uniformLogSNR(_ schedule: Schedule, count: Int,
                                     from start: Double? = nil,
                                     to end: Double? = nil) throws(ScheduleError) -> [Double] {
        let (a, b) = try ends(schedule, count: count, start, end)
        let la = schedule.logSNR(a), lb = schedule.logSNR(b)
        for (t, l) in [(a, la), (b, lb)] where !l.isFinite {
            throw .invalidGrid("log-SNR λ is \(l) at t = \(t) for \(schedule.name); choose a time where it is finite")
        }
        var times = try interpolate(from: la, to: lb, count: count).map { (l) throws(ScheduleError) in
            try schedule.time(logSNR: l)
        }
        times[0] = a
        times[count - 1] = b
        return times
    }

    /// Karras et al.'s grid: with σ̃ = σ/α = e^(−λ) (σ itself for α = 1 schedules),
    /// σ̃_i = (σ̃_max^(1/ρ) + i/(N−1) (σ̃_min^(1/ρ) − σ̃_max^(1/ρ)))^ρ for i = 0 … N−1,
    /// σ̃_max = σ̃(`start`) and σ̃_min = σ̃(`end`), mapped to t through λ = −log σ̃ and the
    /// schedule's inverse. σ̃ must be finite at `start` (pass a start below 1 for vp-cosine and
    /// flow); it may be 0 at `end`. `rho` defaults to the edm schedule's ρ, else 7.
    public static func karras(_ schedule: Schedule, count: Int, rho: Double? = nil,
                              from start: Double? = nil, to end: Double? = nil) throws(ScheduleError) -> [Double] {
        let (a, b) = try ends(schedule, count: count, start, end)
        let rho = rho ?? { if case let .edm(_, _, r) = schedule.family { r } else { 7 } }()
        guard rho.isFinite, rho > 0 else { throw .invalidGrid("ρ must be finite and > 0, got \(rho)") }
        let sigmaMax = schedule.sigma(a) / schedule.alpha(a)
        let sigmaMin = schedule.sigma(b) / schedule.alpha(b)
        guard sigmaMax.isFinite else {
            throw .invalidGrid("σ/α is infinite at t = \(a) for \(schedule.name); choose a start time where α > 0")
        }
        let roots = interpolate(from: pow(sigmaMax, 1 / rho), to: pow(sigmaMin, 1 / rho), count: count)
        var times = try roots.map { (r) throws(ScheduleError) in try schedule.time(logSNR: -rho * log(r)) }
        times[0] = a
        times[count - 1] = b
        return times
    }

    /// The continuous times (k + 1)/T of the diffusers timesteps k from
    /// ``ddpmTimesteps(trainingSteps:count:spacing:stepsOffset:)`` (see ``DiscreteSchedule``).
    /// The grid ends at the time of the smallest timestep, not at 0; a sampler's last step goes on
    /// to ᾱ_0 = 1 (diffusers' `set_alpha_to_one`).
    public static func ddpm(_ schedule: DiscreteSchedule, count: Int, spacing: TimestepSpacing,
                            stepsOffset: Int = 0) throws(ScheduleError) -> [Double] {
        try ddpmTimesteps(trainingSteps: schedule.stepCount, count: count, spacing: spacing, stepsOffset: stepsOffset)
            .map { schedule.time(timestep: $0) }
    }

    /// `count` of the 0-based training timesteps 0 … T−1, decreasing, as diffusers'
    /// `DDPMScheduler.set_timesteps` / `DDIMScheduler.set_timesteps` choose them for
    /// `timestep_spacing` = `spacing` and `steps_offset` = `stepsOffset` (which only `leading`
    /// uses), with numpy's float arithmetic and round-half-to-even.
    ///
    /// One deliberate difference: for `trailing` diffusers calls `np.arange(T, 0, −T/N)`, whose
    /// length is computed in floating point and for some N is N + 1 (e.g. T = 1000, N = 61), giving
    /// a spurious extra timestep −1. This returns the N intended timesteps.
    ///
    /// Throws if `count` is not in 1 … T or a timestep falls outside 0 … T−1 (possible with
    /// `leading` and a positive offset).
    public static func ddpmTimesteps(trainingSteps: Int, count: Int, spacing: TimestepSpacing,
                                     stepsOffset: Int = 0) throws(ScheduleError) -> [Int] {
        let t = trainingSteps, n = count
        guard t >= 1 else { throw .invalidGrid("the number of training steps must be ≥ 1, got \(t)") }
        guard (1...t).contains(n) else {
            throw .invalidGrid("the number of timesteps must lie in 1...\(t) (the training steps), got \(n)")
        }
        let timesteps: [Int]
        switch spacing {
        case .linspace:
            timesteps = DiscreteSchedule.linspace(0, Double(t - 1), count: n)
                .reversed().map { Int($0.rounded(.toNearestOrEven)) }
        case .leading:
            let ratio = t / n
            timesteps = (0..<n).reversed().map { $0 * ratio + stepsOffset }
        case .trailing:
            // np.arange(T, 0, −T/N): value 1 is T + (−T/N); value j ≥ 2 is T + j·δ with
            // δ = value 1 − T (numpy's fill rule). Then round half to even and subtract 1.
            let start = Double(t), first = start + (-(start / Double(n)))
            let delta = first - start
            timesteps = (0..<n).map { j in
                let v = j == 0 ? start : j == 1 ? first : start + Double(j) * delta
                return Int(v.rounded(.toNearestOrEven)) - 1
            }
        }
        if let bad = timesteps.first(where: { !(0..<t).contains($0) }) {
            throw .invalidGrid("\(spacing.rawValue) spacing with steps offset \(stepsOffset) gives timestep \(bad), "
                               + "outside 0...\(t - 1)")
        }
        return timesteps
    }

    // MARK: Helpers

    /// The grid ends, defaulted to the time range's ends and checked: both in range, start > end,
    /// count ≥ 2.
    private static func ends(_ schedule: Schedule, count: Int, _ start: Double?,
                             _ end: Double?) throws(ScheduleError) -> (Double, Double) {
        guard count >= 2 else { throw .invalidGrid("a grid needs at least 2 times, got \(count)") }
        let a = start ?? schedule.timeRange.upperBound, b = end ?? schedule.timeRange.lowerBound
        try schedule.validate(t: a)
        try schedule.validate(t: b)
        guard a > b else {
            throw .invalidGrid("the start time \(a) must exceed the end time \(b) (grids run from noise to data)")
        }
        return (a, b)
    }

    /// `count` ≥ 2 points from `a` to `b`, both exact.
    private static func interpolate(from a: Double, to b: Double, count: Int) -> [Double] {
        var points = (0..<count).map { a + (b - a) * (Double($0) / Double(count - 1)) }
        points[count - 1] = b
        return points
    }
}
