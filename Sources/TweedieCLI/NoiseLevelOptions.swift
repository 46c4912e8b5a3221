import ArgumentParser
import Tweedie

/// The noise level of a command: `--t T --schedule NAME`, or `--alpha A --sigma S` directly.
struct NoiseLevelOptions: ParsableArguments {
    @Option(help: "Time t of the schedule (with --schedule).") var t: Double?
    @Option(help: "Schedule: \(Schedule.allNames.joined(separator: ", ")) (parameters as name:key=value,...).")
    var schedule: String?
    @Option(help: "Signal scale α ≥ 0 (with --sigma, instead of --t/--schedule).") var alpha: Double?
    @Option(help: "Noise scale σ (with --alpha).") var sigma: Double?

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
            return (c.alpha, c.sigma)
        }
        return (alpha!, sigma!)
    }

    /// "t = 0.3 of vp-cosine, " when given by time, else empty (for summaries).
    var timeDescription: String {
        guard let t, let schedule else { return "" }
        return "t = \(format(t)) of \(schedule), "
    }
}
