import Foundation
import TweedieDistributions

/// A discrete DDPM schedule (docs/math.md §1 last row, §4): variances β_1 … β_T, ᾱ_i = Π_{s≤i}(1 − β_s)
/// with ᾱ_0 = 1, and step i read as the continuous α_i = √ᾱ_i, σ_i = √(1 − ᾱ_i) at t_i = i/T.
///
/// Steps are numbered 1 … T as in the papers. HuggingFace diffusers numbers its timesteps
/// k = 0 … T−1 with `alphas_cumprod[k]` = ᾱ_{k+1}: timestep k is step i = k + 1, time (k+1)/T
/// (see ``time(timestep:)``).
///
/// Betas are computed in Float64. diffusers builds `linear` and `scaled_linear` betas with
/// `torch.linspace(..., dtype=torch.float32)` and takes the cumulative product in float32, so its
/// values differ from these in about the 7th significant digit.
///
/// As a continuous ``Schedule`` (``Schedule/discrete(_:)``) log ᾱ is interpolated linearly in t
/// between the knots t_i = i/T, i.e. on (t_{i−1}, t_i] the schedule has the constant rate
/// β(t) = −T log(1 − β_i) and ᾱ(t) = ᾱ_{i−1} (1 − β_i)^{T(t − t_{i−1})}. It passes through every
/// (t_i, α_i, σ_i) exactly; h and g² are piecewise constant, and at a knot t_i they take the value
/// of the segment to its left (at t = 0, of the first segment).
public struct DiscreteSchedule: Sendable, Equatable, CustomStringConvertible {
    /// How the betas were made; the parameters of ``Schedule/named(_:)``.
    public enum Recipe: Sendable, Equatable {
        /// β linear from `betaStart` (i = 1) to `betaEnd` (i = T) (Ho et al.; diffusers "linear").
        case linear(betaStart: Double, betaEnd: Double)
        /// √β linear from √`betaStart` to √`betaEnd`, squared (Stable Diffusion; diffusers
        /// "scaled_linear").
        case scaledLinear(betaStart: Double, betaEnd: Double)
        /// Nichol & Dhariwal: β_i = min(1 − f(i/T)/f((i−1)/T), `maxBeta`) with
        /// f(u) = cos²(π/2·(u+s)/(1+s)) (diffusers "squaredcos_cap_v2").
        case cosine(s: Double, maxBeta: Double)
        /// The polynomial schedule of E(3)-equivariant diffusion (Hoogeboom et al.; `polynomial_2` there
        /// for `power` 2): c_i = Π_{j≤i} clip(f_j/f_{j−1}, `clip`, 1) with f_i = (1 − (i/T)^power)², f_{−1} = 1,
        /// then ᾱ_i = (1 − 2`precision`) c_i + `precision` for i = 0 … T — so ᾱ_0 = 1 − `precision`, not 1
        /// (docs/math.md §13.3).
        case polynomial(power: Double, precision: Double, clip: Double)
        /// Betas given explicitly.
        case custom
    }

    public let recipe: Recipe
    /// β_1 … β_T, stored at indices 0 … T−1.
    public let betas: [Double]
    /// log ᾱ_0 … log ᾱ_T at indices 0 … T (log ᾱ_0 = 0): running sums of log(1 − β_i), which keep
    /// ᾱ's relative accuracy at every step.
    public let logAlphaBars: [Double]

    /// T, the number of steps.
    public var stepCount: Int { betas.count }

    /// A schedule with the given betas β_1 … β_T, each in (0, 1).
    public init(betas: [Double]) throws(ScheduleError) {
        try self.init(recipe: .custom, betas: betas)
    }

    /// The betas of `recipe` over `steps` steps, its parameters checked.
    public init(_ recipe: Recipe, steps: Int) throws(ScheduleError) {
        let name = Self.name(of: recipe)
        guard steps >= 1 else {
            throw .invalidParameter(schedule: name, parameter: "steps", reason: "must be ≥ 1, got \(steps)")
        }
        guard steps <= MemoryBudget.maximumSteps else {
            throw .invalidParameter(schedule: name, parameter: "steps",
                                    reason: "must be at most \(MemoryBudget.maximumSteps), got \(steps)")
        }
        let betas: [Double]
        switch recipe {
        case let .linear(start, end):
            try Self.checkBetaEnds(name, start, end)
            betas = Self.linspace(start, end, count: steps)
        case let .scaledLinear(start, end):
            try Self.checkBetaEnds(name, start, end)
            betas = Self.linspace(start.squareRoot(), end.squareRoot(), count: steps).map { $0 * $0 }
        case let .cosine(s, maxBeta):
            guard s.isFinite, s >= 0 else {
                throw .invalidParameter(schedule: name, parameter: "s", reason: "must be finite and ≥ 0, got \(s)")
            }
            guard maxBeta > 0, maxBeta < 1 else {
                throw .invalidParameter(schedule: name, parameter: "max_beta",
                                        reason: "must lie in (0, 1), got \(maxBeta)")
            }
            betas = Self.cosineBetas(s: s, maxBeta: maxBeta, steps: steps)
        case let .polynomial(power, precision, clip):
            guard power.isFinite, power > 0 else {
                throw .invalidParameter(schedule: name, parameter: "power",
                                        reason: "must be finite and > 0, got \(power)")
            }
            guard precision > 0, precision < 0.5 else {
                throw .invalidParameter(schedule: name, parameter: "precision",
                                        reason: "must lie in (0, 0.5), got \(precision)")
            }
            guard clip > 0, clip < 1 else {
                throw .invalidParameter(schedule: name, parameter: "clip", reason: "must lie in (0, 1), got \(clip)")
            }
            self.init(recipe: recipe, logAlphaBars: Self.polynomialLogAlphaBars(power: power, precision: precision,
                                                                                clip: clip, steps: steps))
            return
        case .custom:
            throw .invalidParameter(schedule: name, parameter: "recipe", reason: "custom betas need init(betas:)")
        }
        try self.init(recipe: recipe, betas: betas)
    }

    /// A schedule from its log ᾱ_0 … log ᾱ_T (strictly decreasing), the betas derived as
    /// β_i = −expm1(log ᾱ_i − log ᾱ_{i−1}).
    private init(recipe: Recipe, logAlphaBars logs: [Double]) {
        self.recipe = recipe
        self.logAlphaBars = logs
        self.betas = (1..<logs.count).map { -expm1(logs[$0] - logs[$0 - 1]) }
    }

    /// log ᾱ_i of ``Recipe/polynomial(power:precision:clip:)``.
    static func polynomialLogAlphaBars(power: Double, precision: Double, clip: Double, steps: Int) -> [Double] {
        var logs: [Double] = []
        logs.reserveCapacity(steps + 1)
        var previous = 1.0, logC = 0.0
        for i in 0...steps {
            let f = pow(1 - pow(Double(i) / Double(steps), power), 2)
            logC += log(min(max(f / previous, clip), 1))
            previous = f
            // ᾱ = (1 − 2s) c + s, from log c without underflow.
            logs.append(log((1 - 2 * precision) * exp(logC) + precision))
        }
        return logs
    }

    private init(recipe: Recipe, betas: [Double]) throws(ScheduleError) {
        let name = Self.name(of: recipe)
        guard !betas.isEmpty else {
            throw .invalidParameter(schedule: name, parameter: "betas", reason: "must not be empty")
        }
        if let i = betas.firstIndex(where: { !($0 > 0 && $0 < 1) }) {
            throw .invalidParameter(schedule: name, parameter: "betas",
                                    reason: "β_\(i + 1) = \(betas[i]) is not in (0, 1)")
        }
        var logs = [0.0]
        logs.reserveCapacity(betas.count + 1)
        for b in betas { logs.append(logs[logs.count - 1] + log1p(-b)) }
        self.recipe = recipe
        self.betas = betas
        self.logAlphaBars = logs
    }

    /// Builds a schedule whose parameters the caller vouches for; a bad parameter traps.
    private static func checked(_ recipe: Recipe, steps: Int) -> DiscreteSchedule {
        do { return try DiscreteSchedule(recipe, steps: steps) } catch { preconditionFailure(error.description) }
    }

    /// DDPM (Ho et al.): β linear from `betaStart` to `betaEnd`.
    public static func linear(betaStart: Double = 1e-4, betaEnd: Double = 0.02, steps: Int = 1000) -> DiscreteSchedule {
        checked(.linear(betaStart: betaStart, betaEnd: betaEnd), steps: steps)
    }

    /// Stable Diffusion's schedule: √β linear from √`betaStart` to √`betaEnd`.
    public static func scaledLinear(betaStart: Double = 0.00085, betaEnd: Double = 0.012,
                                    steps: Int = 1000) -> DiscreteSchedule {
        checked(.scaledLinear(betaStart: betaStart, betaEnd: betaEnd), steps: steps)
    }

    /// Nichol & Dhariwal's cosine schedule, β clipped at `maxBeta`.
    public static func cosine(s: Double = 0.008, maxBeta: Double = 0.999, steps: Int = 1000) -> DiscreteSchedule {
        checked(.cosine(s: s, maxBeta: maxBeta), steps: steps)
    }

    /// The polynomial schedule of E(3)-equivariant diffusion (docs/math.md §13.3).
    public static func polynomial(power: Double = 2, precision: Double = 1e-5, clip: Double = 0.001,
                                  steps: Int = 1000) -> DiscreteSchedule {
        checked(.polynomial(power: power, precision: precision, clip: clip), steps: steps)
    }

    // MARK: Per-step values (i = 1 … T; ᾱ, α, σ also at i = 0)

    /// β_i, i ∈ 1 … T.
    public func beta(step i: Int) -> Double {
        precondition((1...stepCount).contains(i), "step \(i) is outside 1...\(stepCount)")
        return betas[i - 1]
    }

    /// ᾱ_i = ᾱ_0 Π_{s≤i}(1 − β_s), i ∈ 0 … T (ᾱ_0 = 1 except for the polynomial recipe) (docs/math.md §1).
    public func alphaBar(step i: Int) -> Double { exp(logAlphaBar(step: i)) }

    /// α_i = √ᾱ_i, the continuous α of step i (docs/math.md §1).
    public func alpha(step i: Int) -> Double { exp(0.5 * logAlphaBar(step: i)) }

    /// σ_i = √(1 − ᾱ_i), the continuous σ of step i (docs/math.md §1), accurate also where ᾱ_i ≈ 1.
    public func sigma(step i: Int) -> Double { VariancePreserving.sigma(logAlpha: 0.5 * logAlphaBar(step: i)) }

    private func logAlphaBar(step i: Int) -> Double {
        precondition((0...stepCount).contains(i), "step \(i) is outside 0...\(stepCount)")
        return logAlphaBars[i]
    }

    /// t_i = i/T, the continuous time of step i ∈ 0 … T.
    public func time(step i: Int) -> Double {
        precondition((0...stepCount).contains(i), "step \(i) is outside 0...\(stepCount)")
        return Double(i) / Double(stepCount)
    }

    /// (k + 1)/T, the continuous time of diffusers' 0-based timestep k ∈ 0 … T−1 (step k + 1).
    public func time(timestep k: Int) -> Double {
        precondition((0..<stepCount).contains(k), "timestep \(k) is outside 0..<\(stepCount)")
        return Double(k + 1) / Double(stepCount)
    }

    /// The recipe's name as accepted by ``Schedule/named(_:)``.
    public var name: String { Self.name(of: recipe) }

    public var description: String {
        switch recipe {
        case let .linear(a, b), let .scaledLinear(a, b):
            "\(name):beta_start=\(formatParameter(a)),beta_end=\(formatParameter(b)),steps=\(stepCount)"
        case let .cosine(s, maxBeta):
            "\(name):s=\(formatParameter(s)),max_beta=\(formatParameter(maxBeta)),steps=\(stepCount)"
        case let .polynomial(power, precision, clip):
            "\(name):power=\(formatParameter(power)),precision=\(formatParameter(precision)),"
                + "clip=\(formatParameter(clip)),steps=\(stepCount)"
        case .custom:
            "\(name) (\(stepCount) custom betas)"
        }
    }

    static func name(of recipe: Recipe) -> String {
        switch recipe {
        case .linear: "ddpm"
        case .scaledLinear: "ddpm-scaled-linear"
        case .cosine: "ddpm-cosine"
        case .polynomial: "polynomial"
        case .custom: "ddpm-custom"
        }
    }

    // MARK: Construction helpers

    private static func checkBetaEnds(_ name: String, _ start: Double, _ end: Double) throws(ScheduleError) {
        for (key, value) in [("beta_start", start), ("beta_end", end)] where !(value > 0 && value < 1) {
            throw .invalidParameter(schedule: name, parameter: key, reason: "must lie in (0, 1), got \(value)")
        }
    }

    /// `count` points from `start` to `end` inclusive, as numpy.linspace computes them
    /// (start + i·step, the last point set to `end`).
    static func linspace(_ start: Double, _ end: Double, count: Int) -> [Double] {
        guard count > 1 else { return [start] }
        let step = (end - start) / Double(count - 1)
        var points = (0..<count).map { start + Double($0) * step }
        points[count - 1] = end
        return points
    }

    /// Nichol & Dhariwal's β_i = 1 − f(t_i)/f(t_{i−1}), f(u) = cos²(k(u+s)), k = π/(2(1+s)),
    /// clipped at `maxBeta`. With a = k(t_{i−1}+s) and b = k(t_i+s),
    /// 1 − cos²b/cos²a = sin(a+b) sin(b−a)/cos²a, free of the cancellation of the ratio form; and
    /// since k(2+2s) = π, sin(a+b) = sin(k(2T−2i+1)/T), cos a = sin(k(T−i+1)/T), sin(b−a) = sin(k/T):
    /// every angle is k times an exact ratio, so no digits are lost near π.
    static func cosineBetas(s: Double, maxBeta: Double, steps: Int) -> [Double] {
        let k = Double.pi / (2 * (1 + s)), n = Double(steps)
        let sinWidth = sin(k / n)
        return (1...steps).map { i in
            let cosA = sin(k * (Double(steps - i + 1) / n))
            let beta = sin(k * (Double(2 * (steps - i) + 1) / n)) * sinWidth / (cosA * cosA)
            return min(beta, maxBeta)
        }
    }
}

/// A discrete schedule read in continuous time by log-linear interpolation of ᾱ (see
/// ``DiscreteSchedule``): on segment i, log ᾱ(t) = log ᾱ_{i−1} + T(t − t_{i−1}) log(1 − β_i).
struct DiscreteFormulas: ScheduleFormulas {
    let schedule: DiscreteSchedule

    var name: String { schedule.name }
    var parameters: KeyValuePairs<String, Double> {
        switch schedule.recipe {
        case let .linear(a, b), let .scaledLinear(a, b):
            ["beta_start": a, "beta_end": b, "steps": Double(schedule.stepCount)]
        case let .cosine(s, maxBeta):
            ["s": s, "max_beta": maxBeta, "steps": Double(schedule.stepCount)]
        case let .polynomial(power, precision, clip):
            ["power": power, "precision": precision, "clip": clip, "steps": Double(schedule.stepCount)]
        case .custom:
            ["steps": Double(schedule.stepCount)]
        }
    }
    var timeRange: ClosedRange<Double> { 0...1 }

    /// The segment i ∈ 1 … T holding t (t ∈ (t_{i−1}, t_i], t = 0 in segment 1) and T(t − t_{i−1}).
    private func segment(_ t: Double) -> (i: Int, fraction: Double) {
        let n = schedule.stepCount
        let u = t * Double(n)
        let i = min(max(Int(u.rounded(.up)), 1), n)
        return (i, u - Double(i - 1))
    }

    /// log(1 − β_i), the change of log ᾱ across segment i.
    private func logDecay(_ i: Int) -> Double { log1p(-schedule.betas[i - 1]) }

    /// log α(t) = ½ log ᾱ(t), interpolated.
    private func logAlpha(_ t: Double) -> Double {
        let (i, f) = segment(t)
        return 0.5 * (schedule.logAlphaBars[i - 1] + f * logDecay(i))
    }

    func alpha(_ t: Double) -> Double { exp(logAlpha(t)) }
    func sigma(_ t: Double) -> Double { VariancePreserving.sigma(logAlpha: logAlpha(t)) }
    func alphaDerivative(_ t: Double) -> Double { alpha(t) * drift(t) }

    /// σ' = −α² h/σ; +∞ at t = 0 where σ = 0 and σ ≈ √(β(0) t).
    func sigmaDerivative(_ t: Double) -> Double {
        let s = sigma(t)
        if s == 0 { return .infinity }
        let a = alpha(t)
        return -a * a * drift(t) / s
    }

    func logSNR(_ t: Double) -> Double { VariancePreserving.logSNR(logAlpha: logAlpha(t)) }

    /// log ᾱ* = 2 log α(λ) = −softplus(−2λ); find the segment whose ends bracket it (log ᾱ is
    /// strictly decreasing) and invert the linear interpolation there.
    func time(logSNR lambda: Double) -> Double {
        let target = 2 * VariancePreserving.logAlpha(logSNR: lambda)
        let logs = schedule.logAlphaBars, n = schedule.stepCount
        if target >= logs[0] { return 0 }  // at or above the first knot's λ (log ᾱ_0 = 0 but for polynomial)
        if target == -.infinity { return .infinity }
        // Smallest i ≥ 1 with log ᾱ_i ≤ target; n if none (extrapolates past t = 1).
        var lo = 1, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if logs[mid] <= target { hi = mid } else { lo = mid + 1 }
        }
        return (Double(lo - 1) + (target - logs[lo - 1]) / logDecay(lo)) / Double(n)
    }

    /// h = ½ T log(1 − β_i) on segment i.
    func drift(_ t: Double) -> Double { 0.5 * Double(schedule.stepCount) * logDecay(segment(t).i) }
    /// g² = −2h (variance preserving) = −T log(1 − β_i) on segment i.
    func diffusionSquared(_ t: Double) -> Double { -2 * drift(t) }
}
