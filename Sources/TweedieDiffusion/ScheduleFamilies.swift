import Foundation

// The closed forms of each continuous schedule family (docs/math.md §1 table), one struct per family.
// Derived quantities follow docs/math.md §1: λ = log(α/σ), h = d/dt log α, g² = dσ²/dt − 2hσ².

/// softplus(x) = log(1 + eˣ), without overflow for large x or loss of digits for very negative x.
@inline(__always)
func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

/// The logistic function 1/(1 + e⁻ˣ); exact 0 and 1 at ∓∞.
@inline(__always)
func logistic(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

/// Relations shared by variance-preserving schedules (α² + σ² = 1), written in log α so that
/// σ keeps its digits where α ≈ 1.
enum VariancePreserving {
    /// σ = √(1 − α²) = √(−expm1(2 log α)).
    static func sigma(logAlpha: Double) -> Double { (-expm1(2 * logAlpha)).squareRoot() }

    /// λ = log α − ½ log(1 − α²); +∞ at α = 1.
    static func logSNR(logAlpha: Double) -> Double { logAlpha - 0.5 * log(-expm1(2 * logAlpha)) }

    /// Inverse of ``logSNR(logAlpha:)``: α² = 1/(1 + e^(−2λ)), so log α = −½ softplus(−2λ).
    static func logAlpha(logSNR lambda: Double) -> Double { -0.5 * softplus(-2 * lambda) }
}

/// vp-linear: log α_t = −¼t²(β_max − β_min) − ½tβ_min, σ_t = √(1 − α_t²) (docs/math.md §1).
/// With β(t) = β_min + t(β_max − β_min): h_t = −½β(t) and g_t² = β(t).
struct VPLinearFormulas: ScheduleFormulas {
    let betaMin: Double
    let betaMax: Double

    init(betaMin: Double, betaMax: Double) throws(ScheduleError) {
        let name = "vp-linear"
        guard betaMin.isFinite, betaMin >= 0 else {
            throw .invalidParameter(schedule: name, parameter: "beta_min",
                                    reason: "must be finite and ≥ 0, got \(betaMin)")
        }
        guard betaMax.isFinite, betaMax >= betaMin, betaMax > 0 else {
            throw .invalidParameter(schedule: name, parameter: "beta_max",
                                    reason: "must be finite, > 0 and ≥ beta_min = \(betaMin), got \(betaMax)")
        }
        self.betaMin = betaMin
        self.betaMax = betaMax
    }

    var name: String { "vp-linear" }
    var parameters: KeyValuePairs<String, Double> { ["beta_min": betaMin, "beta_max": betaMax] }
    var timeRange: ClosedRange<Double> { 0...1 }

    /// β(t) = β_min + t(β_max − β_min).
    func beta(_ t: Double) -> Double { betaMin + t * (betaMax - betaMin) }

    /// log α_t = −¼t²(β_max − β_min) − ½tβ_min (docs/math.md §1, vp-linear).
    func logAlpha(_ t: Double) -> Double { -0.25 * t * t * (betaMax - betaMin) - 0.5 * t * betaMin }

    func alpha(_ t: Double) -> Double { exp(logAlpha(t)) }
    func sigma(_ t: Double) -> Double { VariancePreserving.sigma(logAlpha: logAlpha(t)) }
    func alphaDerivative(_ t: Double) -> Double { alpha(t) * drift(t) }

    /// σ' = −α α'/σ = −α² h/σ. At σ = 0 (t = 0) σ ≈ √(β_min t): +∞, or √(½(β_max − β_min)) if
    /// β_min = 0 (then σ ≈ t √(½(β_max − β_min))).
    func sigmaDerivative(_ t: Double) -> Double {
        let s = sigma(t)
        if s == 0 { return betaMin > 0 ? .infinity : (0.5 * (betaMax - betaMin)).squareRoot() }
        let a = alpha(t)
        return -a * a * drift(t) / s
    }

    func logSNR(_ t: Double) -> Double { VariancePreserving.logSNR(logAlpha: logAlpha(t)) }

    /// Solves ½(β_max − β_min)t² + β_min t = c with c = −2 log α = softplus(−2λ), taking the
    /// non-negative root in the form t = 2c / (β_min + √(β_min² + 2(β_max − β_min)c)), which has
    /// no cancellation.
    func time(logSNR lambda: Double) -> Double {
        let c = softplus(-2 * lambda)
        if c == 0 { return 0 }
        if c == .infinity { return .infinity }
        return 2 * c / (betaMin + (betaMin * betaMin + 2 * (betaMax - betaMin) * c).squareRoot())
    }

    /// h_t = −½β(t).
    func drift(_ t: Double) -> Double { -0.5 * beta(t) }
    /// g_t² = −2h_t(α² + σ²) = β(t).
    func diffusionSquared(_ t: Double) -> Double { beta(t) }
}

/// vp-cosine: α_t = cos(π/2·(t+s)/(1+s)) / cos(π/2·s/(1+s)), σ_t = √(1 − α_t²) (docs/math.md §1).
///
/// Written with k = π/(2(1+s)) and θ₀ = ks, the angle θ_t = k(t+s) and its complement
/// φ_t = π/2 − θ_t = k(1−t):
/// α = sin φ / cos θ₀ (exactly 0 at t = 1),
/// σ² = (cos²θ₀ − cos²θ)/cos²θ₀ = sin(θ+θ₀) sin(θ−θ₀)/cos²θ₀ = sin(k(t+2s)) sin(kt)/cos²θ₀
/// (no cancellation near t = 0), h = −k cot φ, g² = −2h.
struct VPCosineFormulas: ScheduleFormulas {
    let s: Double
    /// k = π/(2(1+s)).
    let k: Double
    /// cos θ₀ and sin θ₀ with θ₀ = ks.
    let cosTheta0: Double, sinTheta0: Double

    init(s: Double) throws(ScheduleError) {
        guard s.isFinite, s >= 0 else {
            throw .invalidParameter(schedule: "vp-cosine", parameter: "s", reason: "must be finite and ≥ 0, got \(s)")
        }
        self.s = s
        k = Double.pi / (2 * (1 + s))
        cosTheta0 = cos(k * s)
        sinTheta0 = sin(k * s)
    }

    var name: String { "vp-cosine" }
    var parameters: KeyValuePairs<String, Double> { ["s": s] }
    var timeRange: ClosedRange<Double> { 0...1 }

    func alpha(_ t: Double) -> Double { sin(k * (1 - t)) / cosTheta0 }
    func sigma(_ t: Double) -> Double { (sin(k * (t + 2 * s)) * sin(k * t)).squareRoot() / cosTheta0 }
    func alphaDerivative(_ t: Double) -> Double { -k * cos(k * (1 - t)) / cosTheta0 }

    /// σ' = −α α'/σ = k sin(2φ) / (2 cos²θ₀ σ); at σ = 0 (t = 0): +∞, or k when s = 0.
    func sigmaDerivative(_ t: Double) -> Double {
        let sg = sigma(t)
        if sg == 0 { return s == 0 ? k : .infinity }
        return k * sin(2 * k * (1 - t)) / (2 * cosTheta0 * cosTheta0 * sg)
    }

    func logSNR(_ t: Double) -> Double { log(alpha(t)) - log(sigma(t)) }

    /// From α² = 1/(1 + e^(−2λ)) and σ² = 1 − α²: cos θ = α cos θ₀ and
    /// sin θ = S = √(sin²θ₀ + σ² cos²θ₀), hence
    /// sin(kt) = sin(θ − θ₀) = cos θ₀ σ² / (S + α sin θ₀) and cos(kt) = α cos²θ₀ + S sin θ₀,
    /// and kt = atan2 of the two (accurate at every t, no cancellation).
    func time(logSNR lambda: Double) -> Double {
        let a = logistic(2 * lambda).squareRoot()
        let v = logistic(-2 * lambda)
        let S = (sinTheta0 * sinTheta0 + v * cosTheta0 * cosTheta0).squareRoot()
        let sinKT = cosTheta0 * v / (S + a * sinTheta0)
        let cosKT = a * cosTheta0 * cosTheta0 + S * sinTheta0
        return atan2(sinKT, cosKT) / k
    }

    /// h_t = α'/α = −k cot(k(1−t)); −∞ at t = 1.
    func drift(_ t: Double) -> Double {
        let phi = k * (1 - t)
        return -k * cos(phi) / sin(phi)
    }

    /// g_t² = −2h_t (α² + σ² = 1).
    func diffusionSquared(_ t: Double) -> Double { -2 * drift(t) }
}

/// ve: α_t = 1, σ_t = σ_min (σ_max/σ_min)^t (docs/math.md §1). With L = log(σ_max/σ_min):
/// σ' = Lσ, h = 0, g² = dσ²/dt = 2Lσ², λ = −log σ_min − Lt.
struct VEFormulas: ScheduleFormulas {
    let sigmaMin: Double, sigmaMax: Double
    /// L = log(σ_max/σ_min).
    let logRatio: Double

    init(sigmaMin: Double, sigmaMax: Double) throws(ScheduleError) {
        try checkSigmaRange(schedule: "ve", sigmaMin: sigmaMin, sigmaMax: sigmaMax)
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        logRatio = log(sigmaMax / sigmaMin)
    }

    var name: String { "ve" }
    var parameters: KeyValuePairs<String, Double> { ["sigma_min": sigmaMin, "sigma_max": sigmaMax] }
    var timeRange: ClosedRange<Double> { 0...1 }

    func alpha(_ t: Double) -> Double { 1 }
    func sigma(_ t: Double) -> Double { sigmaMin * exp(logRatio * t) }
    func alphaDerivative(_ t: Double) -> Double { 0 }
    func sigmaDerivative(_ t: Double) -> Double { logRatio * sigma(t) }
    func logSNR(_ t: Double) -> Double { -(log(sigmaMin) + logRatio * t) }
    func time(logSNR lambda: Double) -> Double { (-lambda - log(sigmaMin)) / logRatio }
    func drift(_ t: Double) -> Double { 0 }
    func diffusionSquared(_ t: Double) -> Double {
        let sg = sigma(t)
        return 2 * logRatio * sg * sg
    }
}

/// edm: α = 1, σ = t on [σ_min, σ_max] (docs/math.md §1): σ' = 1, h = 0, g² = 2t, λ = −log t.
struct EDMFormulas: ScheduleFormulas {
    let sigmaMin: Double, sigmaMax: Double, rho: Double

    init(sigmaMin: Double, sigmaMax: Double, rho: Double) throws(ScheduleError) {
        try checkSigmaRange(schedule: "edm", sigmaMin: sigmaMin, sigmaMax: sigmaMax)
        guard rho.isFinite, rho > 0 else {
            throw .invalidParameter(schedule: "edm", parameter: "rho", reason: "must be finite and > 0, got \(rho)")
        }
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.rho = rho
    }

    var name: String { "edm" }
    var parameters: KeyValuePairs<String, Double> { ["sigma_min": sigmaMin, "sigma_max": sigmaMax, "rho": rho] }
    var timeRange: ClosedRange<Double> { sigmaMin...sigmaMax }

    func alpha(_ t: Double) -> Double { 1 }
    func sigma(_ t: Double) -> Double { t }
    func alphaDerivative(_ t: Double) -> Double { 0 }
    func sigmaDerivative(_ t: Double) -> Double { 1 }
    func logSNR(_ t: Double) -> Double { -log(t) }
    func time(logSNR lambda: Double) -> Double { exp(-lambda) }
    func drift(_ t: Double) -> Double { 0 }
    func diffusionSquared(_ t: Double) -> Double { 2 * t }
}

/// flow (rectified flow): α_t = 1 − t, σ_t = t (docs/math.md §1): λ = log((1−t)/t),
/// h = −1/(1−t), g² = 2t + 2t²/(1−t) = 2t/(1−t), and t = 1/(1 + e^λ).
struct FlowFormulas: ScheduleFormulas {
    var name: String { "flow" }
    var parameters: KeyValuePairs<String, Double> { [:] }
    var timeRange: ClosedRange<Double> { 0...1 }

    func alpha(_ t: Double) -> Double { 1 - t }
    func sigma(_ t: Double) -> Double { t }
    func alphaDerivative(_ t: Double) -> Double { -1 }
    func sigmaDerivative(_ t: Double) -> Double { 1 }
    func logSNR(_ t: Double) -> Double { log1p(-t) - log(t) }
    func time(logSNR lambda: Double) -> Double { 1 / (1 + exp(lambda)) }
    func drift(_ t: Double) -> Double { -1 / (1 - t) }
    func diffusionSquared(_ t: Double) -> Double { 2 * t / (1 - t) }
}

/// The noise scales a schedule may reach: within [1e-100, 1e100], σ² and the products the oracle
/// forms with it (α²γ + σ², ‖x‖² for points of that spread) stay far inside Float64's range.
let representableSigma: ClosedRange<Double> = 1e-100...1e100

/// σ_min < σ_max, both in ``representableSigma``, with the message naming the schedule and parameter.
func checkSigmaRange(schedule: String, sigmaMin: Double, sigmaMax: Double) throws(ScheduleError) {
    guard sigmaMin.isFinite, sigmaMin > 0 else {
        throw .invalidParameter(schedule: schedule, parameter: "sigma_min",
                                reason: "must be finite and > 0, got \(sigmaMin)")
    }
    guard representableSigma.contains(sigmaMin) else {
        throw .invalidParameter(schedule: schedule, parameter: "sigma_min",
                                reason: "must be at least 1e-100 (σ² must stay far inside Float64's range), "
                                    + "got \(sigmaMin)")
    }
    guard sigmaMax.isFinite, sigmaMax > sigmaMin else {
        throw .invalidParameter(schedule: schedule, parameter: "sigma_max",
                                reason: "must be finite and > sigma_min = \(sigmaMin), got \(sigmaMax)")
    }
    guard representableSigma.contains(sigmaMax) else {
        throw .invalidParameter(schedule: schedule, parameter: "sigma_max",
                                reason: "must be at most 1e100 (σ² must stay far inside Float64's range), "
                                    + "got \(sigmaMax)")
    }
}
