import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import Tweedie

@Suite struct CompareCommandTests {
    static let files = ["results.csv", "report.md", "error_vs_nfe.svg", "config.json"]

    static func compare(_ arguments: [String]) throws -> CLIRun {
        try CLI.run(["compare"] + arguments)
    }

    static func text(_ directory: URL, _ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// results.csv with the wall-time column emptied: the only figure that differs between runs.
    static func resultsWithoutWallTime(_ directory: URL) throws -> String {
        let lines = try text(directory, "results.csv").split(separator: "\n", omittingEmptySubsequences: false)
        let column = try #require(lines.first?.split(separator: ",").firstIndex(of: "wall_time_s"))
        return lines.map { line in
            var fields = line.split(separator: ",", omittingEmptySubsequences: false)
            if fields.count > column { fields[column] = "" }
            return fields.joined(separator: ",")
        }.joined(separator: "\n")
    }

    /// A failure is one line on stderr, a non-zero exit, and no output directory.
    static func expectCleanFailure(_ run: CLIRun, mentioning phrase: String, out: URL,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status != 0, sourceLocation: sourceLocation)
        #expect(run.stderr.hasPrefix("tweedie: error: "), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stderr.contains(phrase), "missing '\(phrase)' in \(run.stderr)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: out.path), "left \(out.path) behind", sourceLocation: sourceLocation)
    }

    /// A small run creates the directory and writes all four files: one CSV row per sampler and
    /// step count with every measurement and its floor, the path error for deterministic rows
    /// only, a Markdown table, an SVG with a line per sampler, and the configuration.
    @Test func smallRunWritesEveryFile() throws {
        let out = try CLI.scratch().appendingPathComponent("nested/study")
        let run = try Self.compare(["--model", "ring8", "--schedule", "vp-linear", "--samplers", "euler,ddim:eta=1",
                                    "--steps", "3,6", "--count", "60", "--seed", "4", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty, "no progress bar when stderr is not a terminal: \(run.stderr)")
        #expect(run.stdout.contains("wrote"))
        for name in Self.files { #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path)) }

        let csv = try Self.text(out, "results.csv")
        let table = try StudyTable(csv: csv)
        #expect(table.rows.map(\.sampler) == ["euler", "euler", "ddim:eta=1", "ddim:eta=1"])
        #expect(table.rows.map(\.steps) == [3, 6, 3, 6])
        #expect(table.rows.map(\.isDeterministic) == [true, true, false, false])
        #expect(table.rows.map(\.modelCallsPerSample) == [3, 6, 3, 6])
        let header = try #require(csv.split(separator: "\n").first).split(separator: ",").map(String.init)
        #expect(Array(header.prefix(5)) == StudyTable.fixedColumns)
        for name in ["sliced_w2", "tv_mode_weights", "path_error", "path_error_median"] {
            #expect(header.contains(name) && header.contains(name + "_floor"), "missing \(name) in \(header)")
        }
        for row in table.rows {
            #expect((row.measurement("path_error") != nil) == row.isDeterministic)
            #expect(row.measurement("path_error")?.noiseFloor == nil)
            let sliced = try #require(row.measurement("sliced_w2"))
            #expect(sliced.value > 0 && (sliced.noiseFloor ?? 0) > 0)
        }
        // Written in full: the text reads back to the same text.
        #expect(table.csv() == csv)

        let report = try Self.text(out, "report.md")
        for phrase in ["# Sampler study: ring8", "| sampler | steps | NFE |", "| euler | 3 | 3 |", "| ddim:eta=1 | 6 | 6 |",
                       "## Empirical order of convergence", "floor-corrected", "rk45"] {
            #expect(report.contains(phrase), "missing '\(phrase)' in:\n\(report)")
        }

        let svg = try Data(contentsOf: out.appendingPathComponent("error_vs_nfe.svg"))
        let document = try XMLDocument(data: svg)
        #expect(document.rootElement()?.name == "svg")
        let svgText = String(decoding: svg, as: UTF8.self)
        for phrase in [">euler<", ">ddim:eta=1<", ">euler: path error<", "noise floor", "stroke-dasharray"] {
            #expect(svgText.contains(phrase), "missing '\(phrase)' in the chart")
        }

        let configuration = try StudyConfiguration(json: Data(contentsOf: out.appendingPathComponent("config.json")))
        #expect(configuration.samplers == ["euler", "ddim:eta=1"])
        #expect(configuration.steps == [3, 6])
        #expect(configuration.count == 60 && configuration.seed == 4 && configuration.shard == nil)
    }

    /// Two shards merged give the files of one run: results.csv identical except the wall-time
    /// column, report.md, error_vs_nfe.svg and config.json identical.
    @Test func mergedShardsEqualOneRun() throws {
        let dir = try CLI.scratch()
        let arguments = ["--model", "ring8", "--schedule", "vp-cosine", "--samplers", "euler,heun,ddpm", "--steps", "2,5",
                         "--count", "40", "--seed", "9", "--batch-size", "16", "-q"]
        let whole = dir.appendingPathComponent("whole"), merged = dir.appendingPathComponent("merged")
        let shards = [1, 2].map { dir.appendingPathComponent("shard\($0)") }
        #expect(try Self.compare(arguments + ["--out", whole.path]).status == 0)
        for (k, shard) in shards.enumerated() {
            let run = try Self.compare(arguments + ["--shard", "\(k + 1)/2", "--out", shard.path])
            #expect(run.status == 0, "\(run.stderr)")
        }
        // Rows 0, 2, 4 and 1, 3, 5 of the grid.
        #expect(try StudyTable(csv: Self.text(shards[0], "results.csv")).rows.map { "\($0.sampler)/\($0.steps)" }
                    == ["euler/2", "heun/2", "ddpm/2"])
        #expect(try StudyTable(csv: Self.text(shards[1], "results.csv")).rows.map { "\($0.sampler)/\($0.steps)" }
                    == ["euler/5", "heun/5", "ddpm/5"])
        #expect(try Self.text(shards[0], "report.md").contains("shard 1/2"))

        // The later shard first: the merge restores grid order.
        let run = try Self.compare(["--merge", shards[1].path, shards[0].path, "--out", merged.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("6 of 6 rows"), "\(run.stdout)")
        #expect(try Self.resultsWithoutWallTime(merged) == Self.resultsWithoutWallTime(whole))
        for name in ["report.md", "error_vs_nfe.svg", "config.json"] {
            #expect(try Self.text(merged, name) == Self.text(whole, name), "\(name) differs")
        }
    }

    /// A guided study crosses samplers with guidance methods (rows sampler+method), is measured
    /// against the exact posterior, and its shards merge into the files of one run.
    @Test func guidedStudyShardsAndMerges() throws {
        let dir = try PosteriorCommandTests.observationFiles()
        let arguments = ["--model", "ring8", "--schedule", "edm", "--samplers", "euler,ddpm", "--steps", "3",
                         "--count", "30", "--guidance", "exact,tmpd", "-q"] + PosteriorCommandTests.observationArguments(dir)
        let whole = dir.appendingPathComponent("whole"), merged = dir.appendingPathComponent("merged")
        let shards = [1, 2].map { dir.appendingPathComponent("shard\($0)") }
        let run = try Self.compare(arguments + ["--out", whole.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try StudyTable(csv: Self.text(whole, "results.csv")).rows.map(\.sampler)
                    == ["euler+exact", "euler+tmpd", "ddpm+exact", "ddpm+tmpd"])
        let report = try Self.text(whole, "report.md")
        #expect(report.contains("exact posterior p(x_0 | y)") && report.contains("samplers × guidance × steps"), "\(report)")
        let configuration = try StudyConfiguration(json: Data(contentsOf: whole.appendingPathComponent("config.json")))
        #expect(configuration.guidance == ["exact", "tmpd"] && configuration.observation?.y == [1.2])
        for (k, shard) in shards.enumerated() {
            #expect(try Self.compare(arguments + ["--shard", "\(k + 1)/2", "--out", shard.path]).status == 0)
        }
        #expect(try Self.compare(["--merge", shards[1].path, shards[0].path, "--out", merged.path]).status == 0)
        #expect(try Self.resultsWithoutWallTime(merged) == Self.resultsWithoutWallTime(whole))
        // Guidance without an observation, or an unknown method, fails before anything runs.
        let out = dir.appendingPathComponent("never")
        Self.expectCleanFailure(try Self.compare(["--model", "ring8", "--schedule", "edm", "--samplers", "euler", "--steps", "3",
                                                  "--count", "5", "--guidance", "mmps", "--out", out.path]),
                                mentioning: "--guidance", out: out)
        Self.expectCleanFailure(try Self.compare(["--model", "ring8", "--schedule", "edm", "--samplers", "euler", "--steps", "3",
                                                  "--count", "5", "--guidance", "mmps,magic", "--out", out.path]
                                                 + PosteriorCommandTests.observationArguments(dir)),
                                mentioning: "magic", out: out)
    }

    /// On ring8 (vp-linear, Karras grid) Euler converges with order ≈ 1 and Heun with order ≈ 2
    /// in the median path error.
    @Test func fittedOrdersOfEulerAndHeun() throws {
        let out = try CLI.scratch().appendingPathComponent("orders")
        let run = try Self.compare(["--model", "ring8", "--schedule", "vp-linear", "--samplers", "euler,heun",
                                    "--steps", "10,20,40,80", "--count", "200", "--seed", "1", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        let configuration = try StudyConfiguration(json: Data(contentsOf: out.appendingPathComponent("config.json")))
        let rows = try StudyTable(csv: Self.text(out, "results.csv")).rows
        let fits = StudyOrder.fits(rows, pathErrorResolution: StudyReport.pathErrorResolution(configuration))
        let euler = try #require(fits.first { $0.sampler == "euler" }), heun = try #require(fits.first { $0.sampler == "heun" })
        #expect(euler.metric == "path_error_median" && euler.points.count == 4)
        let eulerOrder = try #require(euler.order), heunOrder = try #require(heun.order)
        #expect((0.75...1.4).contains(eulerOrder), "euler order \(eulerOrder)")
        #expect((1.6...3.0).contains(heunOrder), "heun order \(heunOrder)")
        let report = try Self.text(out, "report.md")
        #expect(report.contains("| euler | `path_error_median` | 4 | \(String(format: "%.2f", eulerOrder)) |"), "\(report)")
    }

    /// A single-Gaussian model: linear samplers and samplers with Gaussian steps get the exact W2 of
    /// their output law (no noise floor), halving with the step for euler, and its split; a
    /// stochastic sampler without Gaussian steps (heun with churn) gets none.
    @Test func singleGaussianRowsHaveTheExactWasserstein() throws {
        let dir = try CLI.scratch()
        let model = dir.appendingPathComponent("gauss.json")
        try Data(#"""
        {"weights": [1], "means": [[1, -1]], "covariance_type": "full", "covariances": [[[1, 0.6], [0.6, 0.5]]],
         "noise": {"type": "full", "covariance": [[1, 0.3], [0.3, 0.8]]}}
        """#.utf8).write(to: model)
        let out = dir.appendingPathComponent("study")
        let run = try Self.compare(["--model", model.path, "--schedule", "vp-linear", "--samplers", "euler,ddpm,heun:s-churn=1",
                                    "--steps", "8,16,32", "--count", "100", "--seed", "2", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = try Self.text(out, "results.csv").split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = try #require(lines[0].firstIndex(of: "exact_w2"))
        let euler = lines.dropFirst().filter { $0[0] == "euler" }.map { Double($0[column])! }
        #expect(euler.count == 3)
        for (coarse, fine) in zip(euler, euler.dropFirst()) { #expect(fine < 0.7 * coarse && fine > 0.3 * coarse) }
        #expect(lines.dropFirst().filter { $0[0] == "ddpm" }.allSatisfy { !$0[column].isEmpty })
        #expect(lines.dropFirst().filter { $0[0] == "heun:s-churn=1" }.allSatisfy { $0[column].isEmpty })
        for name in ["exact_w2_exact_start", "exact_w2_exact_flow", "exact_w2_truncation", "path_kl", "kl"] {
            #expect(lines[0].contains(Substring(name)), "missing column \(name)")
        }
    }

    @Test func unknownSamplerFailsCleanly() throws {
        let out = try CLI.scratch().appendingPathComponent("never")
        let run = try Self.compare(["--model", "ring8", "--schedule", "vp-linear", "--samplers", "euler,leapfrog",
                                    "--steps", "4", "--count", "10", "--out", out.path])
        Self.expectCleanFailure(run, mentioning: "unknown sampler 'leapfrog'", out: out)
        let option = try Self.compare(["--model", "ring8", "--schedule", "vp-linear", "--samplers", "euler:eta=1",
                                       "--steps", "4", "--count", "10", "--out", out.path])
        Self.expectCleanFailure(option, mentioning: "--eta is not an option of the euler sampler", out: out)
    }

    @Test func shardOutOfRangeFailsCleanly() throws {
        let out = try CLI.scratch().appendingPathComponent("never")
        let run = try Self.compare(["--model", "ring8", "--schedule", "vp-linear", "--samplers", "euler",
                                    "--steps", "4", "--count", "10", "--shard", "3/2", "--out", out.path])
        Self.expectCleanFailure(run, mentioning: "--shard", out: out)
    }

    /// --slurm's own options are checked before anything is submitted (the submission itself is
    /// tested against a real Slurm by `make test-slurm`).
    @Test(arguments: [
        (["--wait"], "--wait goes with --slurm N"),
        (["--sbatch", "--time=1:00"], "--sbatch goes with --slurm N"),
        (["--slurm", "0"], "--slurm must be at least 1"),
        (["--slurm", "3"], "--slurm 3: the study has 2 rows, so at most 2 shards"),
        (["--slurm", "2", "--shard", "1/2"], "does not go with --shard"),
    ])
    func slurmOptionsFailCleanly(extra: [String], expected: String) throws {
        let out = try CLI.scratch().appendingPathComponent("never")
        let run = try Self.compare(["--model", "ring8", "--schedule", "vp-linear", "--samplers", "euler,heun",
                                    "--steps", "4", "--count", "10", "--out", out.path] + extra)
        Self.expectCleanFailure(run, mentioning: expected, out: out)
    }

    /// Shards of different studies (here: different seeds) are not merged.
    @Test func mergeOfMismatchedConfigurationsFailsCleanly() throws {
        let dir = try CLI.scratch()
        let parts = [1, 2].map { dir.appendingPathComponent("part\($0)") }
        for (k, part) in parts.enumerated() {
            let run = try Self.compare(["--model", "ring8", "--schedule", "vp-linear", "--samplers", "euler", "--steps", "2,3",
                                        "--count", "10", "--seed", "\(k)", "--shard", "\(k + 1)/2", "-q", "--out", part.path])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let out = dir.appendingPathComponent("merged")
        let run = try Self.compare(["--merge", parts[0].path, parts[1].path, "--out", out.path])
        Self.expectCleanFailure(run, mentioning: "seed: 0 vs 1", out: out)
        // The same shard twice holds every row twice.
        let twice = try Self.compare(["--merge", parts[0].path, parts[0].path, "--out", out.path])
        Self.expectCleanFailure(twice, mentioning: "is in both", out: out)
    }

    @Test func mergeOfMissingDirectoryFailsCleanly() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("merged")
        let run = try Self.compare(["--merge", dir.appendingPathComponent("absent").path, "--out", out.path])
        Self.expectCleanFailure(run, mentioning: "no such directory", out: out)
        // A directory without results is not a study.
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let notStudy = try Self.compare(["--merge", empty.path, "--out", out.path])
        Self.expectCleanFailure(notStudy, mentioning: "config.json", out: out)
    }
}
