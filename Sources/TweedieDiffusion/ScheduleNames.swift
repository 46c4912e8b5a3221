extension Schedule {
    /// The names ``named(_:)`` accepts (besides the alias `karras` for `edm`).
    public static let allNames = ["vp-linear", "vp-cosine", "ve", "edm", "flow",
                                  "ddpm", "ddpm-scaled-linear", "ddpm-cosine", "polynomial"]

    private static let aliases = ["karras": "edm"]

    /// The parameters each name accepts, in specification order.
    private static let parameterNames: [String: [String]] = [
        "vp-linear": ["beta_min", "beta_max"],
        "vp-cosine": ["s"],
        "ve": ["sigma_min", "sigma_max"],
        "edm": ["sigma_min", "sigma_max", "rho"],
        "flow": [],
        "ddpm": ["beta_start", "beta_end", "steps"],
        "ddpm-scaled-linear": ["beta_start", "beta_end", "steps"],
        "ddpm-cosine": ["s", "max_beta", "steps"],
        "polynomial": ["power", "precision", "clip", "steps"],
    ]

    /// The schedule a specification names: a name from ``allNames`` (or `karras`), optionally
    /// followed by `:` and comma-separated `key=value` overrides of the defaults, e.g.
    /// `vp-linear`, `vp-linear:beta_max=15`, `edm:sigma_max=160,rho=5`, `ddpm:steps=500`.
    /// Keys are the parameter names of the factory methods in snake case (`beta_min`, `s`,
    /// `sigma_max`, `rho`, `beta_start`, `max_beta`, `steps`, …). Names are case-insensitive.
    ///
    /// Throws ``ScheduleError/unknownName(_:known:)`` for an unknown name and
    /// ``ScheduleError/invalidParameter(schedule:parameter:reason:)`` for an unknown key, a
    /// malformed or repeated one, or a value the schedule rejects.
    public static func named(_ specification: String) throws(ScheduleError) -> Schedule {
        let parts = specification.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let written = parts[0].trimmingWhitespace().lowercased()
        let name = aliases[written] ?? written
        guard let keys = parameterNames[name] else {
            throw .unknownName(written, known: allNames.map { $0 == "edm" ? "edm (or karras)" : $0 })
        }
        let values = try parseParameters(parts.count > 1 ? String(parts[1]) : "", schedule: name, keys: keys)
        func value(_ key: String, _ fallback: Double) -> Double { values[key] ?? fallback }
        func steps() throws(ScheduleError) -> Int {
            guard let v = values["steps"] else { return 1000 }
            guard v == v.rounded(), v >= 1, v <= Double(Int32.max) else {
                throw .invalidParameter(schedule: name, parameter: "steps",
                                        reason: "must be a positive integer, got \(formatParameter(v))")
            }
            return Int(v)
        }

        // Defaults as in the factory methods (a test checks that the two agree).
        switch name {
        case "vp-linear":
            return try Schedule(.vpLinear(betaMin: value("beta_min", 0.1), betaMax: value("beta_max", 20)))
        case "vp-cosine":
            return try Schedule(.vpCosine(s: value("s", 0.008)))
        case "ve":
            return try Schedule(.ve(sigmaMin: value("sigma_min", 0.01), sigmaMax: value("sigma_max", 50)))
        case "edm":
            return try Schedule(.edm(sigmaMin: value("sigma_min", 0.002), sigmaMax: value("sigma_max", 80),
                                     rho: value("rho", 7)))
        case "flow":
            return try Schedule(.flow)
        case "ddpm":
            let recipe = DiscreteSchedule.Recipe.linear(betaStart: value("beta_start", 1e-4),
                                                        betaEnd: value("beta_end", 0.02))
            return try Schedule(.discrete(DiscreteSchedule(recipe, steps: steps())))
        case "ddpm-scaled-linear":
            let recipe = DiscreteSchedule.Recipe.scaledLinear(betaStart: value("beta_start", 0.00085),
                                                              betaEnd: value("beta_end", 0.012))
            return try Schedule(.discrete(DiscreteSchedule(recipe, steps: steps())))
        case "polynomial":
            let recipe = DiscreteSchedule.Recipe.polynomial(power: value("power", 2),
                                                            precision: value("precision", 1e-5),
                                                            clip: value("clip", 0.001))
            return try Schedule(.discrete(DiscreteSchedule(recipe, steps: steps())))
        default:  // "ddpm-cosine"
            let recipe = DiscreteSchedule.Recipe.cosine(s: value("s", 0.008), maxBeta: value("max_beta", 0.999))
            return try Schedule(.discrete(DiscreteSchedule(recipe, steps: steps())))
        }
    }

    /// `key=value,key=value` → values, every key known and given once, every value a finite number.
    private static func parseParameters(_ text: String, schedule: String,
                                        keys: [String]) throws(ScheduleError) -> [String: Double] {
        var values: [String: Double] = [:]
        let trimmed = text.trimmingWhitespace()
        if trimmed.isEmpty { return values }
        let known = keys.isEmpty ? "none" : keys.joined(separator: ", ")
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = pair[0].trimmingWhitespace()
            guard pair.count == 2 else {
                throw .invalidParameter(schedule: schedule, parameter: key.isEmpty ? "parameters" : key,
                                        reason: "must be written key=value")
            }
            guard keys.contains(key) else {
                throw .invalidParameter(schedule: schedule, parameter: key,
                                        reason: "is not a parameter (known: \(known))")
            }
            guard values[key] == nil else {
                throw .invalidParameter(schedule: schedule, parameter: key, reason: "is given twice")
            }
            let valueText = pair[1].trimmingWhitespace()
            guard let v = Double(valueText), v.isFinite else {
                throw .invalidParameter(schedule: schedule, parameter: key,
                                        reason: "must be a finite number, got '\(valueText)'")
            }
            values[key] = v
        }
        return values
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
