import Foundation

/// A noise schedule: the signal scale α_t and noise scale σ_t of the forward kernel
/// q(x_t | x_0) = N(α_t x_0, σ_t² Σ) on a continuous time range (docs/math.md §1), and everything
/// derived from them: SNR_t = α_t²/σ_t², λ_t = log(α_t/σ_t), h_t = d/dt log α_t and
/// g_t² = dσ_t²/dt − 2 h_t σ_t², the drift and squared diffusion coefficients of the forward SDE
/// dx = h_t x dt + g_t R dw (docs/math.md §5).
///
/// Time runs over ``timeRange``: [0, 1] for every family except ``edm(sigmaMin:sigmaMax:rho:)``,
/// whose time variable *is* σ, over [σ_min, σ_max]. t = `timeRange.lowerBound` is data (or
/// nearly) and t = `timeRange.upperBound` is (nearly) pure noise.
///
/// The accessors (`alpha(_:)`, `sigma(_:)`, …) trap on a time outside ``timeRange``; check
/// untrusted input with ``validate(t:)`` or read everything at once with ``coefficients(at:)``,
/// which throw instead. Where a quantity is infinite at an end of the range (λ = +∞ where σ = 0,
/// λ = −∞ and h = −∞ where α = 0, σ' = +∞ at t = 0 of a VP schedule) the accessors return the
/// signed infinity, never NaN.
///
/// ```swift
/// let s = try Schedule.named("vp-linear:beta_max=15")
/// let t = Schedule.vpLinear(betaMin: 0.1, betaMax: 20)
/// ```
public struct Schedule: Sendable, Equatable, CustomStringConvertible {
    /// A schedule family with its parameters.
    public enum Family: Sendable, Equatable {
        /// Variance preserving, linear β(t) = β_min + t(β_max − β_min):
        /// α_t = exp(−¼t²(β_max − β_min) − ½tβ_min), σ_t = √(1 − α_t²).
        case vpLinear(betaMin: Double, betaMax: Double)
        /// Variance preserving cosine schedule of Nichol & Dhariwal with offset s:
        /// α_t = cos(π/2·(t+s)/(1+s)) / cos(π/2·s/(1+s)), σ_t = √(1 − α_t²).
        case vpCosine(s: Double)
        /// Variance exploding: α_t = 1, σ_t = σ_min (σ_max/σ_min)^t.
        case ve(sigmaMin: Double, sigmaMax: Double)
        /// EDM (Karras et al.): α = 1 and σ = t, for t ∈ [σ_min, σ_max]. ρ only sets the default
        /// exponent of ``TimeGrid/karras(_:count:rho:from:to:)``.
        case edm(sigmaMin: Double, sigmaMax: Double, rho: Double)
        /// Rectified flow: α_t = 1 − t, σ_t = t.
        case flow
        /// A discrete DDPM schedule read in continuous time t = i/T (see ``DiscreteSchedule``).
        case discrete(DiscreteSchedule)
    }

    public let family: Family
    /// The times at which the schedule is defined. Outside it every accessor traps.
    public let timeRange: ClosedRange<Double>
    private let formulas: any ScheduleFormulas

    /// A schedule of `family`, its parameters checked.
    public init(_ family: Family) throws(ScheduleError) {
        let formulas: any ScheduleFormulas
        switch family {
        case let .vpLinear(betaMin, betaMax):
            formulas = try VPLinearFormulas(betaMin: betaMin, betaMax: betaMax)
        case let .vpCosine(s):
            formulas = try VPCosineFormulas(s: s)
        case let .ve(sigmaMin, sigmaMax):
            formulas = try VEFormulas(sigmaMin: sigmaMin, sigmaMax: sigmaMax)
        case let .edm(sigmaMin, sigmaMax, rho):
            formulas = try EDMFormulas(sigmaMin: sigmaMin, sigmaMax: sigmaMax, rho: rho)
        case .flow:
            formulas = FlowFormulas()
        case let .discrete(schedule):
            formulas = DiscreteFormulas(schedule: schedule)
        }
        self.family = family
        self.formulas = formulas
        self.timeRange = formulas.timeRange
    }

    public static func == (lhs: Schedule, rhs: Schedule) -> Bool { lhs.family == rhs.family }

    /// Builds a schedule whose parameters the caller vouches for; a bad parameter is a
    /// programming error and traps with the ``ScheduleError`` message.
    private static func checked(_ family: Family) -> Schedule {
        do { return try Schedule(family) } catch { preconditionFailure(error.description) }
    }

    // MARK: Named constructors (defaults as in docs/math.md §1)

    /// Variance-preserving schedule with β linear in t from `betaMin` to `betaMax`.
    public static func vpLinear(betaMin: Double = 0.1, betaMax: Double = 20) -> Schedule {
        checked(.vpLinear(betaMin: betaMin, betaMax: betaMax))
    }

    /// Variance-preserving cosine schedule with offset `s`.
    public static func vpCosine(s: Double = 0.008) -> Schedule { checked(.vpCosine(s: s)) }

    /// Variance-exploding schedule, σ geometric from `sigmaMin` (t = 0) to `sigmaMax` (t = 1).
    public static func ve(sigmaMin: Double = 0.01, sigmaMax: Double = 50) -> Schedule {
        checked(.ve(sigmaMin: sigmaMin, sigmaMax: sigmaMax))
    }

    /// EDM / Karras schedule: t is σ, over [`sigmaMin`, `sigmaMax`].
    public static func edm(sigmaMin: Double = 0.002, sigmaMax: Double = 80, rho: Double = 7) -> Schedule {
        checked(.edm(sigmaMin: sigmaMin, sigmaMax: sigmaMax, rho: rho))
    }

    /// Rectified flow: α_t = 1 − t, σ_t = t.
    public static var flow: Schedule { checked(.flow) }

    /// A discrete schedule read in continuous time (see ``DiscreteSchedule``).
    public static func discrete(_ schedule: DiscreteSchedule) -> Schedule { checked(.discrete(schedule)) }

    /// DDPM (Ho et al.): β linear from `betaStart` to `betaEnd` over `steps` steps.
    public static func ddpm(betaStart: Double = 1e-4, betaEnd: Double = 0.02, steps: Int = 1000) -> Schedule {
        discrete(.linear(betaStart: betaStart, betaEnd: betaEnd, steps: steps))
    }

    /// Stable Diffusion's "scaled_linear": √β linear from √`betaStart` to √`betaEnd`.
    public static func ddpmScaledLinear(betaStart: Double = 0.00085, betaEnd: Double = 0.012,
                                        steps: Int = 1000) -> Schedule {
        discrete(.scaledLinear(betaStart: betaStart, betaEnd: betaEnd, steps: steps))
    }

    /// Nichol & Dhariwal's discrete cosine schedule, β clipped at `maxBeta`.
    public static func ddpmCosine(s: Double = 0.008, maxBeta: Double = 0.999, steps: Int = 1000) -> Schedule {
        discrete(.cosine(s: s, maxBeta: maxBeta, steps: steps))
    }

    /// The polynomial schedule of E(3)-equivariant diffusion (`polynomial_2` there; docs/math.md §13.3).
    public static func polynomial(power: Double = 2, precision: Double = 1e-5, clip: Double = 0.001,
                                  steps: Int = 1000) -> Schedule {
        discrete(.polynomial(power: power, precision: precision, clip: clip, steps: steps))
    }

    /// The underlying discrete schedule, if this is one.
    public var discrete: DiscreteSchedule? {
        if case let .discrete(d) = family { return d }
        return nil
    }

    /// The family's name as accepted by ``named(_:)``, e.g. `vp-linear`.
    public var name: String { formulas.name }

    /// A specification that ``named(_:)`` turns back into this schedule, e.g.
    /// `vp-linear:beta_min=0.1,beta_max=20`.
    public var description: String {
        let p = formulas.parameters
        if p.isEmpty { return name }
        return name + ":" + p.map { "\($0.key)=\(formatParameter($0.value))" }.joined(separator: ",")
    }

    // MARK: Time checks

    /// Throws ``ScheduleError/timeOutOfRange(schedule:time:range:)`` unless `t` lies in
    /// ``timeRange`` (NaN never does).
    public func validate(t: Double) throws(ScheduleError) {
        guard timeRange.contains(t) else {
            throw .timeOutOfRange(schedule: name, time: t, range: timeRange)
        }
    }

    @inline(__always)
    private func require(_ t: Double) {
        precondition(timeRange.contains(t),
                     ScheduleError.timeOutOfRange(schedule: name, time: t, range: timeRange).description)
    }

    // MARK: Coefficients

    /// α_t, the signal scale (docs/math.md §1).
    public func alpha(_ t: Double) -> Double { require(t); return formulas.alpha(t) }

    /// σ_t, the noise scale (docs/math.md §1).
    public func sigma(_ t: Double) -> Double { require(t); return formulas.sigma(t) }

    /// dα_t/dt in closed form.
    public func alphaDerivative(_ t: Double) -> Double { require(t); return formulas.alphaDerivative(t) }

    /// dσ_t/dt in closed form; +∞ where σ = 0 and σ grows like √t (VP schedules at t = 0).
    public func sigmaDerivative(_ t: Double) -> Double { require(t); return formulas.sigmaDerivative(t) }

    /// SNR_t = α_t²/σ_t² (docs/math.md §1); +∞ where σ = 0, 0 where α = 0.
    public func snr(_ t: Double) -> Double {
        require(t)
        let a = formulas.alpha(t), s = formulas.sigma(t)
        return (a * a) / (s * s)
    }

    /// λ_t = log(α_t/σ_t), the half log-SNR (docs/math.md §1); ±∞ where σ or α vanishes.
    public func logSNR(_ t: Double) -> Double { require(t); return formulas.logSNR(t) }

    /// h_t = d/dt log α_t (docs/math.md §1), the drift coefficient of the forward SDE (§5).
    public func drift(_ t: Double) -> Double { require(t); return formulas.drift(t) }

    /// g_t² = dσ_t²/dt − 2 h_t σ_t² (docs/math.md §1), the squared diffusion coefficient (§5).
    public func diffusionSquared(_ t: Double) -> Double { require(t); return formulas.diffusionSquared(t) }

    /// g_t = √(g_t²), the diffusion coefficient of the forward SDE (docs/math.md §5).
    public func diffusion(_ t: Double) -> Double { require(t); return formulas.diffusionSquared(t).squareRoot() }

    /// The time at which λ_t = `logSNR`, in closed form (docs/math.md §1 inverted per family).
    ///
    /// λ_t is strictly decreasing, so the inverse is unique. A result that misses ``timeRange`` by
    /// rounding only (at most 1e-12 relative to the end point) is set to the end point; a λ the
    /// schedule does not reach throws ``ScheduleError/logSNROutOfRange(schedule:logSNR:range:)``.
    public func time(logSNR lambda: Double) throws(ScheduleError) -> Double {
        let t = formulas.time(logSNR: lambda)
        if timeRange.contains(t) { return t }
        for end in [timeRange.lowerBound, timeRange.upperBound] where abs(t - end) <= 1e-12 * max(abs(end), 1) {
            return end
        }
        throw .logSNROutOfRange(schedule: name, logSNR: lambda,
                                range: formulas.logSNR(timeRange.upperBound)...formulas.logSNR(timeRange.lowerBound))
    }

    /// The times where samplers and the probability-flow likelihood may start and end: the
    /// time range, with each end moved inward by 10⁻³ of its width where it is degenerate (σ = 0
    /// at the lower end: vp-linear, vp-cosine, flow and discrete schedules start at t = 10⁻³;
    /// α = 0 or an infinite drift at the upper end: vp-cosine and flow stop at t = 0.999).
    public var usableTimeRange: ClosedRange<Double> {
        let range = timeRange, inset = 1e-3 * (range.upperBound - range.lowerBound)
        let lower = formulas.sigma(range.lowerBound) > 0 ? range.lowerBound : range.lowerBound + inset
        let upperIsUsable = formulas.alpha(range.upperBound) > 0 && formulas.drift(range.upperBound).isFinite
        return lower...(upperIsUsable ? range.upperBound : range.upperBound - inset)
    }

    /// Every coefficient at one time, after checking `t`.
    public struct Coefficients: Sendable, Equatable {
        public let t: Double
        /// α_t.
        public let alpha: Double
        /// σ_t.
        public let sigma: Double
        /// λ_t = log(α_t/σ_t).
        public let logSNR: Double
        /// h_t = d/dt log α_t.
        public let drift: Double
        /// g_t².
        public let diffusionSquared: Double
    }

    /// α_t, σ_t, λ_t, h_t and g_t² at `t`; throws if `t` is outside ``timeRange``.
    public func coefficients(at t: Double) throws(ScheduleError) -> Coefficients {
        try validate(t: t)
        return Coefficients(t: t, alpha: formulas.alpha(t), sigma: formulas.sigma(t),
                            logSNR: formulas.logSNR(t), drift: formulas.drift(t),
                            diffusionSquared: formulas.diffusionSquared(t))
    }
}

/// Shortest round-tripping text of a parameter, without a trailing ".0" (`20`, `0.1`, `1e-04`).
func formatParameter(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return "\(x)"
}

/// The closed forms of one schedule family, each in one place. Implementations may assume
/// `t ∈ timeRange`; ``Schedule`` checks it.
protocol ScheduleFormulas: Sendable {
    var name: String { get }
    /// Parameters in specification order, keyed as in ``Schedule/named(_:)``.
    var parameters: KeyValuePairs<String, Double> { get }
    var timeRange: ClosedRange<Double> { get }
    func alpha(_ t: Double) -> Double
    func sigma(_ t: Double) -> Double
    func alphaDerivative(_ t: Double) -> Double
    func sigmaDerivative(_ t: Double) -> Double
    func logSNR(_ t: Double) -> Double
    /// The inverse of ``logSNR(_:)``, unchecked: may return a time outside ``timeRange`` or ±∞.
    func time(logSNR: Double) -> Double
    func drift(_ t: Double) -> Double
    func diffusionSquared(_ t: Double) -> Double
}
