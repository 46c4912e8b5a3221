import Foundation
import Testing
import Tweedie

@Suite struct ScheduleCommandTests {
    static func standardNormal(in dir: URL) throws -> String {
        let url = dir.appendingPathComponent("normal.json")
        let json = #"{"weights": [1], "means": [[0, 0]], "covariance_type": "full", "covariances": [[[1, 0], [0, 1]]]}"#
        try Data(json.utf8).write(to: url)
        return url.path
    }

    /// The table names every grid with its KL; the JSON holds the optimal levels (then 0) and each
    /// published grid's KL, equal to the library's; with the last level held, kl_optimal on N(0, I)
    /// is the optimum for ddim (gap +0.0%).
    @Test func optimizeWritesTheGridsAndTheirKL() throws {
        let dir = try CLI.scratch()
        let model = try Self.standardNormal(in: dir)
        let out = dir.appendingPathComponent("grid.json"), plot = dir.appendingPathComponent("kl.svg")
        let run = try CLI.run(["schedule", "optimize", "--model", model, "--sampler", "ddim", "--calls", "6",
                               "--keep-end", "--out", out.path, "--plot", plot.path, "--plot-calls", "8"])
        #expect(run.status == 0, "\(run.stderr)")
        for grid in ["optimal", "karras", "kl-optimal", "uniform-lambda", "ays"] { #expect(run.stdout.contains(grid)) }
        #expect(run.stdout.contains("kl-optimal      ") && run.stdout.contains("+0.0%"), "\(run.stdout)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        let optimal = try #require(json["optimal"] as? [String: Any])
        let sigmas = try #require(optimal["sigmas"] as? [Double])
        #expect(sigmas.count == 7 && sigmas.first == 80 && sigmas.last == 0)
        let published = try #require(json["published"] as? [String: [String: Any]])
        let karras = try #require(published["karras"]?["kl"] as? Double)
        let objective = try ExactGridKL(model: ModelFile.read(URL(fileURLWithPath: model)), method: .euler)
        let expected = try objective.divergence(levels: PublishedGrid.karras.levels(count: 6, sigmaMax: 80,
                                                                                    sigmaMin: 0.002))
        #expect(karras == expected)
        let svg = try String(contentsOf: plot, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"))
        #expect(svg.contains("kl-optimal"))
    }

    /// A mixture is replaced by its Gaussian fit, and the report says so.
    @Test func aMixtureIsFitted() throws {
        let run = try CLI.run(["schedule", "optimize", "--model", "ring8", "--sampler", "dpmpp-2m", "--calls", "5"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("its Gaussian fit"))
    }

    /// Each bad input: one line naming the option, a non-zero exit, nothing written.
    @Test(arguments: [
        (["--sampler", "ddpm"], "--sampler"),
        (["--sampler", "heun:s-churn=1"], "--sampler"),
        (["--sampler", "nonsense"], "sampler"),
        (["--calls", "0"], "--calls"),
        (["--calls", "200"], "--calls"),
        (["--model", "spiral-dirac", "--sigma-min", "0"], "--sigma-min"),
        (["--model", "no-such-model"], "no-such-model"),
        (["--sigma-max", "0.001"], "--sigma-min"),
        (["--sigma-max", "nan"], "--sigma-max"),
        (["--out", "grid.txt"], "--out"),
    ])
    func badInputIsOneLine(change: [String], expected: String) throws {
        let dir = try CLI.scratch()
        var arguments = ["schedule", "optimize", "--model", try Self.standardNormal(in: dir), "--calls", "4"]
        var i = 0
        while i < change.count {
            if let j = arguments.firstIndex(of: change[i]) { arguments[j + 1] = change[i + 1] } else {
                arguments += [change[i], change[i + 1]]
            }
            i += 2
        }
        if !arguments.contains("--out") { arguments += ["--out", dir.appendingPathComponent("grid.json").path] }
        let run = try CLI.run(arguments)
        #expect(run.status != 0)
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        #expect(run.stderr.contains(expected), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("grid.json").path))
    }
}
