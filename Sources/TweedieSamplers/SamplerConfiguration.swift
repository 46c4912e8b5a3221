import TweedieDiffusion
import TweedieDistributions

/// A sampler as users name it, with its options: the catalogue that the command line, sampler
/// studies and any other front end share.
///
/// Written as text it is the sampler's name followed by `:option=value` pairs, e.g. `heun`,
/// `ddim:eta=1` or `heun:s-churn=2:s-noise=1.003` (``init(parsing:)``, ``description``).
/// Options take the names of the command line's flags; each sampler reads only its own.
public struct SamplerConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// The samplers, by the names users know them by (k-diffusion / diffusers).
    public enum Kind: String, Sendable, CaseIterable {
        case euler, heun
        case dpmpp2M = "dpmpp-2m"
        case ddim, ddpm
        case dpmpp2MSDE = "dpmpp-2m-sde"
        case eulerMaruyama = "euler-maruyama"
        case pc, rk45, exact

        /// The options this sampler reads.
        public var options: [Option] {
            switch self {
            case .heun: [.sChurn, .sTmin, .sTmax, .sNoise]
            case .ddim: [.eta]
            case .ddpm: [.variance]
            case .dpmpp2MSDE: [.eta, .sNoise]
            case .pc: [.snr]
            case .rk45: [.rtol, .atol]
            case .euler, .dpmpp2M, .eulerMaruyama, .exact: []
            }
        }

        /// An adaptive sampler chooses its own steps: it integrates from the first time of the
        /// path to the last and takes no step count.
        public var isAdaptive: Bool { self == .rk45 }
    }

    /// A sampler option, by its command-line name.
    public enum Option: String, Sendable, CaseIterable {
        case eta, variance
        case sChurn = "s-churn", sTmin = "s-tmin", sTmax = "s-tmax", sNoise = "s-noise"
        case snr, rtol, atol
    }

    /// An option's value, parsed: a number, or for `variance` the DDPM variance.
    public enum Value: Sendable, Equatable, CustomStringConvertible {
        case number(Double)
        case variance(DDPMSampler.Variance)

        /// Shortest form: `2` for an integral number, `1e-08` or `0.7` otherwise, `beta`.
        public var description: String {
            switch self {
            case .number(let v) where v == v.rounded() && abs(v) < 1e15: String(Int64(v))
            case .number(let v): "\(v)"
            case .variance(let v): v.rawValue
            }
        }
    }

    public let kind: Kind
    /// The options given, parsed (each validated by ``init(_:values:)``).
    public let options: [Option: Value]

    /// A sampler with parsed options; throws an ``ArgumentError`` naming an option the sampler
    /// does not read, a value of the wrong kind (a number for `variance`, a variance for any other
    /// option) or a value outside the option's range.
    public init(_ kind: Kind, values: [Option: Value] = [:]) throws(ArgumentError) {
        for option in Option.allCases where values[option] != nil && !kind.options.contains(option) {
            let readers = Kind.allCases.filter { $0.options.contains(option) }.map(\.rawValue)
            throw ArgumentError(option.rawValue,
                                "is not an option of the \(kind.rawValue) sampler "
                                + "(it applies to \(readers.joined(separator: ", ")))")
        }
        for (option, value) in values {
            switch (option, value) {
            case (.variance, .number): throw ArgumentError("variance", "must be beta-tilde or beta, got \(value)")
            case (.variance, .variance), (_, .number): break
            case (_, .variance): throw ArgumentError(option.rawValue, "must be a number, got '\(value)'")
            }
        }
        self.kind = kind
        self.options = values
        try makeSampler().validateOptions()
    }

    /// A sampler with options as written (`"0.5"`, `"beta"`): each parsed, then as
    /// ``init(_:values:)``.
    public init(_ kind: Kind, options: [Option: String]) throws(ArgumentError) {
        var values: [Option: Value] = [:]
        for (option, text) in options {
            if option == .variance {
                guard let variance = DDPMSampler.Variance(rawValue: text) else {
                    throw ArgumentError("variance", "must be beta-tilde or beta, got '\(text)'")
                }
                values[option] = .variance(variance)
            } else {
                guard let number = Double(text) else {
                    throw ArgumentError(option.rawValue, "must be a number, got '\(text)'")
                }
                values[option] = .number(number)
            }
        }
        try self.init(kind, values: values)
    }

    /// Parses `name[:option=value…]`.
    public init(parsing text: String) throws(ArgumentError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let kind = Kind(rawValue: parts[0]) else {
            throw ArgumentError("sampler", "unknown sampler '\(parts[0])' "
                                + "(known: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var options: [Option: String] = [:]
        for item in parts.dropFirst() {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard pair.count == 2, !pair[1].isEmpty else {
                throw ArgumentError("sampler",
                                    "'\(text)': sampler options are written name:option=value, e.g. ddim:eta=1")
            }
            guard let option = Option(rawValue: pair[0]) else {
                throw ArgumentError("sampler", "'\(text)': unknown option '\(pair[0])' "
                                    + "(options: \(Option.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard options[option] == nil else { throw ArgumentError(option.rawValue, "is given twice in '\(text)'") }
            options[option] = pair[1]
        }
        try self.init(kind, options: options)
    }

    /// `name[:option=value…]`, options in catalogue order.
    public var description: String {
        ([kind.rawValue] + Option.allCases.compactMap { option in options[option].map { "\(option.rawValue)=\($0)" } })
            .joined(separator: ":")
    }

    private func number(_ option: Option, default value: Double) -> Double {
        if case .number(let v)? = options[option] { return v }
        return value
    }

    /// The sampler, with the defaults of the literature for the options not given.
    public func makeSampler() -> any Sampler {
        switch kind {
        case .euler: EulerSampler()
        case .heun:
            HeunSampler(churn: number(.sChurn, default: 0), churnMinimum: number(.sTmin, default: 0),
                        churnMaximum: number(.sTmax, default: .infinity), noiseScale: number(.sNoise, default: 1))
        case .dpmpp2M: DPMSolverPlusPlus2MSampler()
        case .ddim: DDIMSampler(eta: number(.eta, default: 0))
        case .ddpm:
            if case .variance(let v)? = options[.variance] {
                DDPMSampler(variance: v)
            } else {
                DDPMSampler(variance: .posterior)
            }
        case .dpmpp2MSDE:
            DPMSolverPlusPlus2MSDESampler(eta: number(.eta, default: 1), noiseScale: number(.sNoise, default: 1))
        case .eulerMaruyama: EulerMaruyamaSampler()
        case .pc: PredictorCorrectorSampler(snr: number(.snr, default: 0.16))
        case .rk45: RK45Sampler(relativeTolerance: number(.rtol, default: 1e-5),
                                absoluteTolerance: number(.atol, default: 1e-5))
        case .exact: ExactSampler()
        }
    }

    /// The path this sampler runs on: `steps` grid times of `grid` (the default grid of the
    /// schedule when nil), or for an adaptive sampler, which takes no step count, the two ends
    /// of the schedule's usable range.
    public func path(schedule: Schedule, grid: GridKind? = nil, steps: Int?) throws -> SamplingPath {
        if kind.isAdaptive {
            guard steps == nil else {
                throw ArgumentError("steps", "\(kind.rawValue) is adaptive and takes no step count "
                                    + "(its tolerances rtol and atol set its accuracy)")
            }
            return try SamplingPath.make(.uniform, schedule: schedule, steps: 2)
        }
        guard let steps else { throw ArgumentError("steps", "the \(kind.rawValue) sampler needs a step count") }
        return try SamplingPath.make(grid ?? GridKind.default(for: schedule), schedule: schedule, steps: steps)
    }
}

extension GridKind {
    /// Karras for continuous schedules, diffusers' `trailing` spacing for discrete ones.
    public static func `default`(for schedule: Schedule) -> GridKind {
        schedule.discrete != nil ? .trailing : .karras
    }
}
