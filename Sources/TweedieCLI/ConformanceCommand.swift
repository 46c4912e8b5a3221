import ArgumentParser
import Foundation
import Tweedie

struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Does a sampler converge to the exact law, and at what order?",
        discussion: """
        Runs the sampler on the exact denoiser of the model (identity noise; k-diffusion's convention \
        x_σ = x_0 + σ ε) on Karras levels from --sigma-max to --sigma-min, then 0, at each step count, always \
        from the same start: σ_max z with z of sample mean 0 and sample covariance I exactly, so that a \
        deterministic sampler's figures carry no sample noise. On a Gaussian model it measures the KL of the \
        output's moments to q_ref, the law every consistent sampler on those levels tends to (the exact flow \
        to σ_min, then x̂_0), fits the order p of KL ∝ N^(−2p), and says whether the sampler converges and, \
        with --order, whether at the order it claims (docs/math.md §12.6). A stochastic sampler's figures are \
        read against the floor of exact draws of q_ref. On a mixture only the moment errors are measured. \
        Python functions in k-diffusion's signature are checked by tweedie.torch.conformance.
        """)

    @Option(help: "A built-in model name or a .json/.npz model file with identity noise (Gaussian: the KL).")
    var model: String
    @Option(help: "The sampler, name[:option=value…] as for `tweedie sample` (e.g. rk45:rtol=1e-9:atol=1e-9).")
    var sampler = "heun"
    @Option(help: "The order the sampler claims (e.g. 1 for euler, 2 for heun): slower convergence is flagged.")
    var order: Double?
    @Option(help: "Increasing step counts, comma-separated.") var steps = "4,8,16,32,64,128,256,512,1024"
    @Option(help: "Samples per run.") var count = 4096
    @Option(help: "Seed of the start and of the sampler's noise.") var seed: UInt64 = 0
    @Option(name: .customLong("sigma-min"), help: "The last level before 0.") var sigmaMin = 0.05
    @Option(name: .customLong("sigma-max"), help: "The first level.") var sigmaMax = 80.0
    @Option(help: "Write the report to this .json file.") var out: String?

    func validate() throws {
        if let out, !out.hasSuffix(".json") { throw ValidationError("--out must name a .json file, got '\(out)'") }
    }

    func run() throws {
        try OutputPaths.requireSafe(outputs: out.map { [("--out", $0)] } ?? [], inputs: [("--model", model)])
        let counts = try commaSeparated(steps, option: "--steps",
                                        invalid: { "'\(printable($0))' is not a whole number" }) { Int($0) }
        let configuration: SamplerConfiguration
        do { configuration = try SamplerConfiguration(parsing: sampler) } catch {
            throw CommandFailure("--sampler: \(error.reason)")
        }
        let m = try loadModel(model)
        let report: SamplerConformance.Report
        do {
            let check = try SamplerConformance(model: m, sigmaMin: sigmaMin, sigmaMax: sigmaMax, count: count,
                                               seed: seed)
            report = try check.check(configuration.makeSampler(), steps: counts, expectedOrder: order)
        } catch let error as ArgumentError {
            throw CommandFailure("--\(error.argument): \(error.reason)")
        }
        printReport(report, model: m)
        if let out { try AtomicFile.write(Data(json(report).utf8), to: URL(fileURLWithPath: out)) }
    }

    private func printReport(_ r: SamplerConformance.Report, model m: MixtureModel) {
        let kind = m.componentCount == 1 ? "Gaussian" : "\(m.componentCount) components: moment errors only"
        print("conformance of \(sampler) on \(m.name ?? model) (D = \(m.dimension), \(kind)); "
              + "Karras levels \(format(sigmaMax)) → \(format(sigmaMin)), then 0; \(count) samples, seed \(seed)")
        if r.deterministic {
            print("deterministic: the same output from any noise seed, so the figures carry no sample noise")
        } else {
            print("stochastic: sample-noise floor of the KL to q_ref \(format(r.noiseFloor)) (exact draws of q_ref)")
        }
        if !r.gridFloor.isNaN {
            print("KL(q_ref ‖ p_0) = \(format(r.gridFloor)) nats: what stopping at σ_min leaves")
        }
        print("")
        var rows = [["steps", "model calls", "KL to q_ref", "KL to p_0", "mean error", "covariance error"]]
        for i in r.steps.indices {
            rows.append([String(r.steps[i]), format(r.modelCalls[i]), format(r.kl[i]), format(r.klToPrior[i]),
                         format(r.meanError[i]), format(r.covarianceError[i])])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for row in rows {
            print("  " + zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        print("")
        print(r.verdict)
    }

    private func json(_ r: SamplerConformance.Report) -> String {
        func numbers(_ xs: [Double]) -> String { "[" + xs.map(JSONWriter.number).joined(separator: ", ") + "]" }
        let fields: [(String, String)] = [
            ("sampler", JSONWriter.quoted(sampler)), ("model", JSONWriter.quoted(model)),
            ("sigma_min", JSONWriter.number(sigmaMin)), ("sigma_max", JSONWriter.number(sigmaMax)),
            ("count", String(count)), ("seed", String(seed)),
            ("steps", "[" + r.steps.map(String.init).joined(separator: ", ") + "]"),
            ("model_calls", numbers(r.modelCalls)), ("kl", numbers(r.kl)), ("kl_to_p0", numbers(r.klToPrior)),
            ("mean_error", numbers(r.meanError)), ("covariance_error", numbers(r.covarianceError)),
            ("grid_floor", JSONWriter.number(r.gridFloor)), ("noise_floor", JSONWriter.number(r.noiseFloor)),
            ("deterministic", r.deterministic ? "true" : "false"), ("order", JSONWriter.number(r.order)),
            ("converges", r.converges ? "true" : "false"),
            ("expected_order", r.expectedOrder.map(JSONWriter.number) ?? "null"),
            ("conforms", r.conforms ? "true" : "false"), ("verdict", JSONWriter.quoted(r.verdict)),
        ]
        return "{\n" + fields.map { "  \"\($0)\": \($1)" }.joined(separator: ",\n") + "\n}\n"
    }
}
