import ArgumentParser
import Tweedie

/// The noise level of a command: `--t T --schedule NAME`, or `--alpha A --sigma S` directly.
struct NoiseLevelOptions: ParsableArguments {
    // `.unconditional`: `--t -0.5` reads -0.5 as the value (and is then refused as out of range)
    // rather than as an unknown option.
    @Option(parsing: .unconditional, help: "Time t of the schedule (with --schedule).") var t: Double?
    @Option(help: "Schedule: \(Schedule.allNames.joined(separator: ", ")) (parameters as name:key=value,...).")
    var schedule: String?
    @Option(parsing: .unconditional, help: "Signal scale α ≥ 0 (with --sigma, instead of --t/--schedule).")
    var alpha: Double?
    @Option(parsing: .unconditional, help: "Noise scale σ > 0 (with --alpha).") var sigma: Double?

    /// Checks that exactly one pair was given; each command calls it from its own `validate()`,
    /// so that its other checks keep their order.
    func check() throws {
        switch (t, schedule, alpha, sigma) {
        case (.some, .some, nil, nil), (nil, nil, .some, .some): break
        default: throw ValidationError("give either --t and --schedule, or --alpha and --sigma")
        }
    }

    /// (α, σ) of the schedule at t, or as given; a t outside the schedule's range is an error.
    func resolve() throws -> (alpha: Double, sigma: Double) {
        if let t, let schedule {
            let c = try Schedule.named(schedule).coefficients(at: t)
            do { try Oracle.validateNoiseLevel(alpha: c.alpha, sigma: c.sigma) } catch {
                throw CommandFailure("--t \(t): at this time of \(schedule), \(error)")
            }
            return (c.alpha, c.sigma)
        }
        do { try Oracle.validateNoiseLevel(alpha: alpha!, sigma: sigma!) } catch {
            throw CommandFailure("--\(error.argument): \(error.reason)")
        }
        return (alpha!, sigma!)
    }

    /// "t = 0.3 of vp-cosine, " when given by time, else empty (for summaries).
    var timeDescription: String {
        guard let t, let schedule else { return "" }
        return "t = \(format(t)) of \(schedule), "
    }
}
