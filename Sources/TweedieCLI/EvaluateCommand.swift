import ArgumentParser
import Foundation
import Tweedie

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure any sample file against a model's exact p_0: the report of `tweedie sample`.",
        discussion: """
        Reads C samples (a .npy array of shape (C, D) or (C, N, d), from any pipeline) and prints \
        the report `tweedie sample` prints: mean −log p_0 against the entropy estimate, the mode \
        weights and their total-variation distance to π, and the sliced Wasserstein distance, each \
        beside its Monte Carlo noise floor (the same figure for exact samples of p_0 of the same \
        size, drawn from seeds derived from --seed). With --out, writes every measurement (also \
        the per-mode moment errors, MMD² and the energy distance) with its noise floor as JSON.
        """)

    @Option(help: "A built-in model name or a .json/.npz model file.") var model: String
    @Option(help: "The samples: a .npy array of shape (C, D) or (C, N, d).") var samples: String
    @Option(help: "Seed of the exact reference samples.") var seed: UInt64 = 0
    @Option(help: "Random directions of the sliced Wasserstein distance.")
    var projections: Int = SlicedWasserstein.defaultProjections
    @Option(help: "Also write every measurement and its noise floor to this .json file.") var out: String?
    @Flag(name: .shortAndLong, help: "Print no report.") var quiet = false

    func validate() throws {
        guard (1...SlicedWasserstein.maximumProjections).contains(projections) else {
            throw ValidationError("--projections must lie in 1...\(SlicedWasserstein.maximumProjections), "
                                  + "got \(projections)")
        }
        if let out, !out.hasSuffix(".json") { throw ValidationError("--out must name a .json file, got '\(out)'") }
    }

    func run() throws {
        try OutputPaths.requireSafe(outputs: out.map { [("--out", $0)] } ?? [],
                                    inputs: [("--model", model), ("--samples", samples)])
        let m = try loadModel(model)
        let file = URL(fileURLWithPath: samples).lastPathComponent
        let x = try modelPoints(m, ArrayFile.readMatrix(URL(fileURLWithPath: samples)), file: file)
        let quality: SampleQuality, measurements: [Tweedie.Measurement]
        do {
            quality = try SampleQuality(samples: x, mixture: m.prior, seed: seed, projections: projections)
            measurements = try SampleEvaluation.measure(x, model: m, seed: seed,
                                                        options: .init(projections: projections))
        } catch let error as ArgumentError where error.argument == "samples" {
            throw CommandFailure("\(file): \(error.reason)")
        }
        if let out { try AtomicFile.write(Tweedie.Measurement.json(measurements), to: URL(fileURLWithPath: out)) }
        guard !quiet else { return }
        var lines = ["evaluated \(x.rows) samples of \(file) against \(m.name ?? "the model") "
                     + "(\(dimensionText(m)), K = \(m.componentCount)), seed \(seed)", ""]
        lines += sampleReport(quality, mixture: m.prior, seed: seed)
        if let out { lines += ["", "wrote \(out): \(measurements.map { $0.name }.joined(separator: ", "))"] }
        print(lines.joined(separator: "\n"))
    }
}
