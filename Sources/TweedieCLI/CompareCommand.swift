import ArgumentParser
import Foundation
import Tweedie

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run a grid of samplers × step counts from the same noise, measure each against p_0, and fit orders of convergence.",
        discussion: """
        Every (sampler, steps) pair runs --count samples with the same --seed: sample i starts from \
        the noise of (seed, i) in every run, so rows differ only by the sampler. Each row is measured \
        against exact samples of p_0 (every figure of `tweedie sample` beside its noise floor); for a \
        deterministic sampler also the path error, the RMS distance to the probability-flow ODE \
        solved by rk45 at rtol = atol = 1e-8 from the same starting noise. Writes DIR/results.csv \
        (every number in full), DIR/report.md (key figures, and per sampler the empirical order of \
        convergence), DIR/error_vs_nfe.svg and DIR/config.json. --shard i/n runs grid rows ≡ i−1 \
        (mod n); `tweedie compare --merge DIR1 DIR2 … --out DIR` merges the shards into the files \
        one run would have written (wall times aside).
        """)

    @Option(help: "A built-in model name or a .json/.npz model file.") var model: String?
    @Option(help: "Schedule: \(Schedule.allNames.joined(separator: ", ")) (parameters as name:key=value,...).")
    var schedule: String?
    @Option(help: """
        Samplers, comma-separated, from \(SamplerConfiguration.Kind.allCases.map(\.rawValue).joined(separator: ", ")); \
        sampler options as name:option=value[:option=value], e.g. ddim:eta=1 or heun:s-churn=2. rk45 is adaptive: \
        its rows run the same solve at every step count.
        """)
    var samplers: String?
    @Option(help: "Step counts N, comma-separated, e.g. 5,10,20,50.") var steps: String?
    @Option(help: "Number of samples C per run.") var count: Int?
    @OptionGroup var runOptions: RunOptions
    @Option(help: "Time grid (default: karras; trailing for discrete schedules).") var grid: GridKind?
    @Option(help: "Run only part i of n (1-based): the grid rows whose index ≡ i − 1 (mod n), samplers outer.")
    var shard: String?
    @Option(parsing: .upToNextOption, help: "Merge these result directories (shards of one study) instead of running.")
    var merge: [String] = []
    @Option(help: "Output directory (created if missing).") var out: String
    @Flag(name: .shortAndLong, help: "Print nothing on success.") var quiet = false

    /// rtol = atol of the reference ODE solve.
    static let referenceTolerance = 1e-8

    func validate() throws {
        if !merge.isEmpty {
            let given: [(String, Bool)] = [("--model", model != nil), ("--schedule", schedule != nil),
                                           ("--samplers", samplers != nil), ("--steps", steps != nil),
                                           ("--count", count != nil), ("--grid", grid != nil), ("--shard", shard != nil)]
            if let flag = given.first(where: \.1)?.0 {
                throw ValidationError("--merge reads its configuration from the directories; \(flag) belongs to a run")
            }
            return
        }
        for (flag, value) in [("--model", model), ("--schedule", schedule), ("--samplers", samplers), ("--steps", steps)]
        where value == nil {
            throw ValidationError("missing \(flag) (or merge shards with --merge DIR ...)")
        }
        guard count != nil else { throw ValidationError("missing --count (or merge shards with --merge DIR ...)") }
        _ = try samplerSpecifications()
        _ = try stepCounts()
        if let count, count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        _ = try parsedShard()
    }

    func samplerSpecifications() throws -> [SamplerConfiguration] {
        let texts = (samplers ?? "").split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !texts.contains("") else { throw ValidationError("--samplers: empty entry in '\(samplers ?? "")'") }
        if let repeated = texts.enumerated().first(where: { texts[..<$0.offset].contains($0.element) })?.element {
            throw ValidationError("--samplers: '\(repeated)' is listed twice")
        }
        return try texts.map { text in
            do throws(ArgumentError) { return try SamplerConfiguration(parsing: text) } catch {
                throw ValidationError(error.argument == "sampler" ? "--samplers: \(error.reason)" : "--samplers: '\(text)': --\(error.argument) \(error.reason)")
            }
        }
    }

    /// The --samplers entries as written (their names in results).
    func samplerTexts() throws -> [String] {
        (samplers ?? "").split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func stepCounts() throws -> [Int] {
        var counts: [Int] = []
        for text in (steps ?? "").split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let n = Int(trimmed), n >= 1 else {
                throw ValidationError("--steps: '\(trimmed)' is not a positive integer (expected e.g. 5,10,20)")
            }
            guard !counts.contains(n) else { throw ValidationError("--steps: \(n) is listed twice") }
            counts.append(n)
        }
        return counts
    }

    func parsedShard() throws -> StudyShard? {
        guard let shard else { return nil }
        do { return try StudyShard(shard) } catch { throw ValidationError("--shard: \(error)") }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: out)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CommandFailure("--out: \(directory.path) is a file, not a directory")
        }
        let configuration: StudyConfiguration, rows: [StudyRow]
        if merge.isEmpty {
            (configuration, rows) = try runStudy()
        } else {
            (configuration, rows) = try mergeStudies()
        }
        let written = try StudyFiles.write(configuration, rows: rows, to: directory)
        guard !quiet else { return }
        var lines: [String] = []
        if merge.isEmpty {
            let part = configuration.shard.map { ", shard \($0)" } ?? ""
            lines.append("compared \(configuration.samplers.count) sampler\(configuration.samplers.count == 1 ? "" : "s") × "
                         + "\(configuration.steps.count) step count\(configuration.steps.count == 1 ? "" : "s") on \(configuration.model): "
                         + "\(rows.count) rows\(part), \(configuration.count) samples each, seed \(configuration.seed)")
        } else {
            lines.append("merged \(merge.count) director\(merge.count == 1 ? "y" : "ies"): \(rows.count) of \(configuration.gridSize) rows")
        }
        let fits = StudyOrder.fits(rows, pathErrorResolution: StudyReport.pathErrorResolution(configuration))
        if !fits.isEmpty {
            lines.append("")
            lines.append(tableText(["sampler", "error", "points", "order p", "slope vs NFE"], fits.map { fit in
                [fit.sampler, fit.isFloorCorrected ? "\(fit.metric) (floor-corrected)" : fit.metric, "\(fit.points.count)",
                 fit.order.map { String(format: "%.2f", $0) } ?? "n/a",
                 fit.slopeVersusModelCalls.map { String(format: "%.2f", $0) } ?? "n/a"]
            }))
        }
        lines.append("")
        lines.append("wrote " + written.map(\.path).joined(separator: ", "))
        print(lines.joined(separator: "\n"))
    }

    /// Runs this command's rows of the grid.
    private func runStudy() throws -> (StudyConfiguration, [StudyRow]) {
        let m = try loadModel(model!)
        let parsedSchedule = try Schedule.named(schedule!)
        let configuration = StudyConfiguration(
            model: model!, dimension: m.dimension, components: m.componentCount, schedule: schedule!,
            grid: (grid ?? .default(for: parsedSchedule)).rawValue, samplers: try samplerTexts(), steps: try stepCounts(),
            count: count!, seed: runOptions.seed, projections: runOptions.projections, referenceTolerance: Self.referenceTolerance,
            shard: try parsedShard(), batchSize: runOptions.batchSize)
        let bar = isatty(2) != 0 ? ProgressBar(total: 100_000) : nil
        var study = try SamplerStudy(model: m, configuration: configuration,
                                     progress: bar.map { bar in { fraction in bar.update(Int(fraction * 100_000)) } })
        defer { bar?.finish() }
        let rows = try study.run()
        return (configuration, rows)
    }

    /// Reads and merges the --merge directories.
    private func mergeStudies() throws -> (StudyConfiguration, [StudyRow]) {
        var parts: [StudyMerge.Part] = []
        for path in merge {
            let directory = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CommandFailure("--merge: no such directory \(path)")
            }
            parts.append(try StudyFiles.read(directory))
        }
        do {
            return try StudyMerge.merge(parts)
        } catch {
            throw CommandFailure("--merge: \(error)")
        }
    }
}
