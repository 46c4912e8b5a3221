import ArgumentParser
import Foundation
import Tweedie

struct TruncationStudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "truncation",
        abstract: "What approximate ideal denoisers drop: top-k truncation and single-precision distances, "
            + "against the exact denoiser of a data set.",
        discussion: """
        At each noise level of the schedule's grid, --count points of p_t (x_t = α μ_k + σ z, k drawn from \
        the weights) are denoised exactly and by the approximations of published codes: the k nearest atoms \
        only (renormalized), and a Float32 cdist with a Float32 softmax. Reported per level, as mean and \
        largest over the points: the posterior mass each truncation neglects and its denoiser's error \
        ‖x̂ − E[x_0 | x_t]‖; for Float32, the total-variation distance of its weights and its denoiser's error.
        """)

    @Option(help: "A data-set model (Dirac components, Σ = I): a .json/.npz file.") var model: String
    @Option(help: "Truncations k, comma-separated.") var k = "2000,2048"
    @Option(help: "Points of p_t per noise level.") var count = 64
    @Option(help: "Seed of the points.") var seed: UInt64 = 0
    @Option(help: "Schedule whose grid gives the noise levels.") var schedule = "edm"
    @Option(help: "Intervals of the grid (levels: steps, from σ_max down).") var steps = 18
    @Option(help: "Also write the figures to this .csv file.") var out: String?

    func run() throws {
        let ks = try k.split(separator: ",").map { text -> Int in
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 1 else {
                throw ValidationError("--k: expected positive integers separated by commas, got '\(k)'")
            }
            return value
        }
        if let out {
            guard out.hasSuffix(".csv") else { throw ValidationError("--out must name a .csv file, got '\(out)'") }
            try OutputPaths.requireSafe(outputs: [("--out", out)], inputs: [("--model", model)])
        }
        let m = try loadModel(model)
        let path = try SamplerConfiguration(parsing: "euler").path(schedule: Schedule.named(schedule), grid: nil,
                                                                    steps: steps)
        let start = Date()
        let study: TruncationStudy
        do {
            study = try TruncationStudy(model: m, levels: path.levels, ks: ks, count: count, seed: seed)
        } catch let error as ArgumentError { throw CommandFailure("--\(error.argument): \(error.reason)") }
        var header = ["σ"]
        for top in ks { header += ["top-\(top) mass (max)", "top-\(top) error (max)"] }
        header += ["Float32 TV (max)", "Float32 error (max)"]
        var rows: [[String]] = []
        var csv = ["sigma,alpha," + ks.map { k in
            "top\(k)_mass_mean,top\(k)_mass_max,top\(k)_error_mean,top\(k)_error_max"
        }
            .joined(separator: ",") + ",float32_tv_mean,float32_tv_max,float32_error_mean,float32_error_max"]
        for level in study.levels {
            var row = [format(level.level.sigma)]
            var line = ["\(level.level.sigma)", "\(level.level.alpha)"]
            for i in ks.indices {
                row += [format(level.neglectedMass[i].largest), format(level.truncationError[i].largest)]
                line += [level.neglectedMass[i].mean, level.neglectedMass[i].largest, level.truncationError[i].mean,
                         level.truncationError[i].largest].map { "\($0)" }
            }
            row += [format(level.singlePrecisionWeightDistance.largest), format(level.singlePrecisionError.largest)]
            line += [level.singlePrecisionWeightDistance.mean, level.singlePrecisionWeightDistance.largest,
                     level.singlePrecisionError.mean, level.singlePrecisionError.largest].map { "\($0)" }
            rows.append(row)
            csv.append(line.joined(separator: ","))
        }
        print("what approximate denoisers drop on \(m.name ?? model) (K = \(m.componentCount), D = \(m.dimension); "
              + "data radius R = \(format(study.radius))): \(count) points of p_t per level of \(schedule), "
              + "seed \(seed), in \(format(Date().timeIntervalSince(start), 3)) s")
        print("")
        printTable(header, rows)
        if let out {
            try AtomicFile.write(Data((csv.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: out))
            print("")
            print("wrote \(out)")
        }
    }
}
