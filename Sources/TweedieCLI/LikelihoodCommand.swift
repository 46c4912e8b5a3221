import ArgumentParser
import Foundation
import Tweedie

struct LikelihoodCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "likelihood",
        abstract: "Log-likelihoods of points by the probability-flow ODE, checked against the analytic log p_0.",
        discussion: """
        Integrates dx/dt = h_t x − ½g_t²Σ∇log p_t(x) with d log p/dt = −(h_t D − ½g_t² tr(ΣH)) from \
        --t-min to --t-max by adaptive Dormand–Prince steps, each point on its own, and adds the \
        prior's log-density at the end point: log p_{t_min}(x) (docs/math.md §5). The divergence is the \
        oracle's exact tr(ΣH), or Hutchinson's estimate from --probes Rademacher probes (central \
        differences of the score), reported with its standard error. Writes the B log-likelihoods \
        (nats) to --out and prints each beside the analytic log p_0(x) (where p_0 has a density) and \
        the exact log p_{t_min}(x).
        """)

    @Option(help: "A built-in model name or a .json/.npz model file.") var model: String
    @Option(name: .customLong("x"), help: "Data points x_0: a .npy array of shape (B, D) or (B, N, d).")
    var points: String
    @Option(help: "Schedule: \(Schedule.allNames.joined(separator: ", ")) (parameters as name:key=value,...).")
    var schedule: String
    @Option(help: "Relative tolerance of the ODE solver.") var rtol: Double = 1e-6
    @Option(help: "Absolute tolerance of the ODE solver.") var atol: Double = 1e-6
    @Option(name: .customLong("t-min"),
            help: "Start time (default: the schedule's lower end where σ > 0, else 1e-3 of the range).")
    var startTime: Double?
    @Option(name: .customLong("t-max"), help: """
        End time, where the prior is evaluated (default: the schedule's upper end where α > 0, else 1e-3 of the \
        range below).
        """)
    var endTime: Double?
    @Option(help: "Prior at t_max: marginal (the exact p_{t_max}) or gaussian (N(0, σ²Σ)).")
    var prior: String = "marginal"
    @Option(help: "Divergence: exact (the oracle's tr(ΣH)) or hutchinson.") var divergence: String = "exact"
    @Option(help: "hutchinson: number of probes (default 16).") var probes: Int?
    @Option(help: "hutchinson: seed of the probes (default 0).") var seed: UInt64?
    @Option(help: "Output .npy file for the log-likelihoods, shape (B) (written atomically).") var out: String
    @Flag(name: .shortAndLong, help: "Print no report.") var quiet = false

    static let priors: [String: ProbabilityFlowLikelihood.Prior] = ["marginal": .exactMarginal, "gaussian": .gaussian]

    func validate() throws {
        guard Self.priors[prior] != nil else {
            throw ValidationError("--prior must be marginal or gaussian, got '\(prior)'")
        }
        switch divergence {
        case "exact":
            if probes != nil || seed != nil {
                throw ValidationError("--probes and --seed apply to --divergence hutchinson only")
            }
        case "hutchinson":
            if let probes, probes < 2 {
                throw ValidationError("--probes must be at least 2 (for a standard error), got \(probes)")
            }
        default:
            throw ValidationError("--divergence must be exact or hutchinson, got '\(divergence)'")
        }
        guard out.hasSuffix(".npy") else { throw ValidationError("--out must name a .npy file, got '\(out)'") }
    }

    func run() throws {
        try OutputPaths.requireSafe(outputs: [("--out", out)], inputs: [("--model", model), ("--x", points)])
        let m = try loadModel(model)
        let oracle = try Oracle(m)
        let parsedSchedule = try Schedule.named(schedule)
        let x = try modelPoints(m, ArrayFile.readMatrix(URL(fileURLWithPath: points)), file: points)
        let method: ProbabilityFlowLikelihood.Divergence = divergence == "exact"
            ? .exact : .hutchinson(probes: probes ?? 16, seed: seed ?? 0)
        let likelihood: ProbabilityFlowLikelihood
        do {
            likelihood = try ProbabilityFlowLikelihood(oracle: oracle, schedule: parsedSchedule,
                                                       prior: Self.priors[prior]!, divergence: method,
                                                       relativeTolerance: rtol, absoluteTolerance: atol,
                                                       startTime: startTime, endTime: endTime)
        } catch {
            throw CommandFailure("--\(error.argument.replacingOccurrences(of: "_", with: "-")): \(error.reason)")
        }
        let directory = URL(fileURLWithPath: out).deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw CommandFailure("--out: no such directory \(directory.path)")
        }
        let start = Date()
        let results: [LikelihoodResult]
        do { results = try likelihood.logLikelihood(x) } catch {
            throw CommandFailure("\(points): \(error)")
        }
        let elapsed = Date().timeIntervalSince(start)
        let values = results.map(\.logLikelihood)
        try NPY.write(.numbers(NDArray(values)), to: URL(fileURLWithPath: out))
        guard !quiet else { return }
        print(try report(results, x: x, model: m, likelihood: likelihood, elapsed: elapsed))
        print("wrote \(out): log-likelihoods (\(values.count))")
    }

    private func report(_ results: [LikelihoodResult], x: Matrix, model: MixtureModel,
                        likelihood: ProbabilityFlowLikelihood, elapsed: TimeInterval) throws -> String {
        let b = results.count
        let hutchinson = divergence == "hutchinson"
        let method = hutchinson ? "Hutchinson, \(probes ?? 16) probes, seed \(seed ?? 0)" : "exact tr(ΣH)"
        let priorText = likelihood.prior == .gaussian ? "N(0, σ²Σ)" : "exact p_{t_max}"
        var lines = [
            "probability-flow likelihood of \(model.name ?? "model") (\(dimensionText(model))) under \(schedule): "
                + "t \(format(likelihood.startTime)) → \(format(likelihood.endTime)), prior \(priorText), "
                + "divergence \(method), rtol \(format(rtol)), atol \(format(atol))",
        ]
        let atStart = try likelihood.oracle.evaluate(x, at: likelihood.startTime,
                                                     schedule: likelihood.schedule).logDensity
        var analytic: [Double]?
        do { analytic = try PriorDensity(model.prior).logDensity(x) } catch {
            lines.append("analytic log p_0 unavailable: \(error)")
        }
        let evaluations = results.map { Double($0.functionEvaluations) }
        lines.append("\(b) points in \(format(elapsed, 3)) s; function evaluations per point: "
                     + "mean \(format(evaluations.reduce(0, +) / Double(max(b, 1)))), "
                     + "max \(format(evaluations.max() ?? 0))")
        lines.append("")
        let shown = min(b, 8)
        var header = ["point", "ODE log-lik"]
        if hutchinson { header.append("SE") }
        header += ["log p_0", "ODE − log p_0", "ODE − log p_t_min", "NFE"]
        var rows: [[String]] = []
        for i in 0..<shown {
            let r = results[i]
            var row = ["\(i)", format(r.logLikelihood, 8)]
            if hutchinson { row.append(format(r.standardError, 3)) }
            row += [analytic.map { format($0[i], 8) } ?? "–",
                    analytic.map { format(r.logLikelihood - $0[i], 3) } ?? "–",
                    format(r.logLikelihood - atStart[i], 3), "\(r.functionEvaluations)"]
            rows.append(row)
        }
        lines.append(tableText(header, rows))
        if b > shown { lines.append("  … \(b - shown) more points") }
        lines.append("")
        func summary(_ values: [Double], _ label: String) -> String {
            let differences = (0..<b).map { abs(results[$0].logLikelihood - values[$0]) }
            return "|ODE − \(label)|: mean \(format(differences.reduce(0, +) / Double(max(b, 1)), 3)), "
                + "max \(format(differences.max() ?? 0, 3)) nats"
        }
        if let analytic { lines.append(summary(analytic, "log p_0")) }
        lines.append(summary(atStart, "log p_t_min"))
        let (reference, name) = analytic.map { ($0, "log p_0") } ?? (atStart, "log p_t_min")
        if hutchinson {
            let standardErrors = results.map(\.standardError)
            let within = (0..<b).filter {
                abs(results[$0].logLikelihood - reference[$0]) <= 2 * results[$0].standardError
            }.count
            lines.append("standard error: mean \(format(standardErrors.reduce(0, +) / Double(max(b, 1)), 3)), "
                         + "max \(format(standardErrors.max() ?? 0, 3)); "
                         + "\(within) of \(b) points within 2 SE of \(name)")
        }
        return lines.joined(separator: "\n")
    }
}
