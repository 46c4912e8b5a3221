import ArgumentParser
import Foundation
import Tweedie

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run a grid of samplers × step counts from the same noise, measure each against p_0, "
            + "and fit orders of convergence.",
        discussion: """
        Every (sampler, steps) pair runs --count samples with the same --seed: sample i starts from \
        the noise of (seed, i) in every run, so rows differ only by the sampler. Each row is measured \
        against exact samples of p_0 (every figure of `tweedie sample` beside its noise floor); for a \
        deterministic sampler also the path error, the RMS distance to the probability-flow ODE \
        solved by rk45 at rtol = atol = 1e-8 from the same starting noise. Writes DIR/results.csv \
        (every number in full), DIR/report.md (key figures, and per sampler the empirical order of \
        convergence), DIR/error_vs_nfe.svg and DIR/config.json. --shard i/n runs grid rows ≡ i−1 \
        (mod n); `tweedie compare --merge DIR1 DIR2 … --out DIR` merges the shards into the files \
        one run would have written (wall times aside). --slurm N submits the study to Slurm as a job \
        array of N shards (into DIR/shards/i, logs in DIR/logs) and a merge job that writes DIR once \
        every shard succeeded; submitting again resubmits only the shards not yet finished.
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
    @Option(help: """
        Guidance methods, comma-separated (dps, pigdm, tmpd, mmps, exact), crossed with the samplers; needs the \
        observation options. Rows are named sampler+method and measured against the exact posterior p(x_0 | y).
        """)
    var guidance: String?
    @OptionGroup var observation: ObservationOptions
    @Option(help: "Output directory (created if missing).") var out: String
    @Option(help: "Submit the study to Slurm as a job array of this many shards and a merge job.") var slurm: Int?
    @Option(parsing: .unconditional,
            help: "With --slurm: extra sbatch arguments, e.g. \"--partition=cpu --time=1:00:00\".")
    var sbatch: String?
    @Flag(help: """
        With --slurm: wait for the merge job; a failed shard is named with its log, and the exit status is non-zero.
        """)
    var wait = false
    @Flag(name: .shortAndLong, help: "Print nothing on success.") var quiet = false

    /// rtol = atol of the reference ODE solve.
    static let referenceTolerance = 1e-8

    func validate() throws {
        if slurm == nil, sbatch != nil || wait {
            throw ValidationError("\(wait ? "--wait" : "--sbatch") goes with --slurm N")
        }
        if let slurm {
            guard merge.isEmpty, shard == nil else {
                throw ValidationError("--slurm makes its own shards and merge; "
                                      + "it does not go with \(merge.isEmpty ? "--shard" : "--merge")")
            }
            guard slurm >= 1 else { throw ValidationError("--slurm must be at least 1, got \(slurm)") }
            let rows = try samplerTexts().count * max(guidanceMethods()?.count ?? 1, 1) * stepCounts().count
            guard slurm <= rows else {
                throw ValidationError("--slurm \(slurm): the study has \(rows) rows, so at most \(rows) shards")
            }
        }
        if !merge.isEmpty {
            let given: [(String, Bool)] = [("--model", model != nil), ("--schedule", schedule != nil),
                                           ("--samplers", samplers != nil), ("--steps", steps != nil),
                                           ("--count", count != nil), ("--grid", grid != nil),
                                           ("--shard", shard != nil),
                                           ("--guidance", guidance != nil), ("--operator", observation.isGiven)]
            if let flag = given.first(where: \.1)?.0 {
                throw ValidationError("--merge reads its configuration from the directories; \(flag) belongs to a run")
            }
            return
        }
        for (flag, value) in [("--model", model), ("--schedule", schedule), ("--samplers", samplers),
                              ("--steps", steps)]
        where value == nil {
            throw ValidationError("missing \(flag) (or merge shards with --merge DIR ...)")
        }
        guard count != nil else { throw ValidationError("missing --count (or merge shards with --merge DIR ...)") }
        try validateSamplers()
        _ = try stepCounts()
        let methods = try guidanceMethods()
        if methods != nil, !observation.isGiven {
            throw ValidationError("--guidance needs an observation: --operator A.npy, --y Y.npy "
                                  + "and --noise-std S or --noise-covariance SY.npy")
        }
        if methods == nil, observation.isGiven {
            throw ValidationError("--operator, --y and the observation noise need --guidance "
                                  + "(dps, pigdm, tmpd, mmps, exact)")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        _ = try parsedShard()
    }

    /// Checks every --samplers entry against the library's catalogue (the study parses them again
    /// from its configuration).
    func validateSamplers() throws {
        let texts = try samplerTexts()
        guard !texts.contains("") else { throw ValidationError("--samplers: empty entry in '\(samplers ?? "")'") }
        if let repeated = texts.enumerated().first(where: { texts[..<$0.offset].contains($0.element) })?.element {
            throw ValidationError("--samplers: '\(repeated)' is listed twice")
        }
        for text in texts {
            do throws(ArgumentError) { _ = try SamplerConfiguration(parsing: text) } catch {
                throw ValidationError(error.argument == "sampler"
                                      ? "--samplers: \(error.reason)"
                                      : "--samplers: '\(text)': --\(error.argument) \(error.reason)")
            }
        }
    }

    /// The --samplers entries as written (their names in results).
    func samplerTexts() throws -> [String] {
        (samplers ?? "").split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The --guidance entries, checked (nil without --guidance).
    func guidanceMethods() throws -> [GuidanceMethod]? {
        try guidance.map(TweedieCLI.guidanceMethods)
    }

    func stepCounts() throws -> [Int] {
        try commaSeparated(steps ?? "", option: "--steps",
                           invalid: { "'\($0)' is not a positive integer (expected e.g. 5,10,20)" }) {
            Int($0).flatMap { $0 >= 1 ? $0 : nil }
        }
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
        if let slurm {
            let lines = try submitToSlurm(shards: slurm)
            if !quiet { print(lines.joined(separator: "\n")) }
            return
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
            let guided = configuration.guidance.map { " × \($0.count) guidance method\($0.count == 1 ? "" : "s")" }
                ?? ""
            lines.append("compared \(configuration.samplers.count) "
                         + "sampler\(configuration.samplers.count == 1 ? "" : "s")\(guided) × "
                         + "\(configuration.steps.count) step count\(configuration.steps.count == 1 ? "" : "s") "
                         + "on \(configuration.model): "
                         + "\(rows.count) rows\(part), \(configuration.count) samples each, seed \(configuration.seed)")
        } else {
            lines.append("merged \(merge.count) director\(merge.count == 1 ? "y" : "ies"): "
                         + "\(rows.count) of \(configuration.gridSize) rows")
        }
        let fits = StudyOrder.fits(rows, pathErrorResolution: StudyReport.pathErrorResolution(configuration))
        if !fits.isEmpty {
            lines.append("")
            lines.append(tableText(["sampler", "error", "points", "order p", "slope vs NFE"], fits.map { fit in
                [fit.sampler, fit.isFloorCorrected ? "\(fit.metric) (floor-corrected)" : fit.metric,
                 "\(fit.points.count)",
                 fit.order.map { String(format: "%.2f", $0) } ?? "n/a",
                 fit.slopeVersusModelCalls.map { String(format: "%.2f", $0) } ?? "n/a"]
            }))
        }
        lines.append("")
        lines.append("wrote " + written.map(\.path).joined(separator: ", "))
        print(lines.joined(separator: "\n"))
    }

    /// The study these options describe, for `modelName` (as given, or made absolute for Slurm).
    private func studyConfiguration(_ m: MixtureModel, modelName: String,
                                    shard: StudyShard?) throws -> StudyConfiguration {
        let parsedSchedule = try Schedule.named(schedule!)
        var studyObservation: StudyObservation?
        if let y = try observation.observation(dimension: m.dimension) {
            let a = y.forwardOperator, s = y.noiseMatrix
            studyObservation = StudyObservation(forwardOperator: (0..<a.rows).map { a.row($0) }, y: y.y,
                                                noiseCovariance: (0..<s.rows).map { s.row($0) })
        }
        return StudyConfiguration(
            model: modelName, dimension: m.dimension, components: m.componentCount, schedule: schedule!,
            grid: (grid ?? .default(for: parsedSchedule)).rawValue, samplers: try samplerTexts(),
            steps: try stepCounts(), count: count!, seed: runOptions.seed, projections: runOptions.projections,
            referenceTolerance: Self.referenceTolerance, shard: shard,
            batchSize: runOptions.batchSize(dimension: m.dimension), guidance: try guidanceMethods()?.map(\.rawValue),
            observation: studyObservation)
    }

    /// Submits the study to Slurm (see ``SlurmStudySubmission``).
    private func submitToSlurm(shards: Int) throws -> [String] {
        let m = try loadModel(model!)
        // Tasks may start in another directory: a model file is passed by its absolute path.
        let modelName = FileManager.default.fileExists(atPath: model!)
            ? URL(fileURLWithPath: model!).standardizedFileURL.path : model!
        var arguments = ["--model", modelName, "--schedule", schedule!, "--samplers", samplers!, "--steps", steps!,
                         "--count", "\(count!)", "--seed", "\(runOptions.seed)",
                         "--batch-size", "\(runOptions.batchSize(dimension: m.dimension))",
                         "--projections", "\(runOptions.projections)"]
        if let grid { arguments += ["--grid", grid.rawValue] }
        if let guidance {
            arguments += ["--guidance", guidance]
            for (option, path) in observation.inputs {
                arguments += [option, URL(fileURLWithPath: path).standardizedFileURL.path]
            }
            if let std = observation.noiseStd { arguments += ["--noise-std", "\(std)"] }
        }
        let submission = SlurmStudySubmission(
            directory: URL(fileURLWithPath: out).standardizedFileURL, displayDirectory: out, shardCount: shards,
            studyArguments: arguments,
            configuration: try studyConfiguration(m, modelName: modelName, shard: nil),
            extraArguments: (sbatch ?? "").split(separator: " ").map(String.init))
        return try submission.submit(wait: wait)
    }

    /// Runs this command's rows of the grid.
    private func runStudy() throws -> (StudyConfiguration, [StudyRow]) {
        let m = try loadModel(model!)
        let configuration = try studyConfiguration(m, modelName: model!, shard: try parsedShard())
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
            guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
                  isDirectory.boolValue else {
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
