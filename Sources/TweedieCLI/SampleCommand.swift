import ArgumentParser
import Foundation
import Tweedie
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw samples of p_0 with a diffusion sampler driven by the exact oracle, "
            + "and report how close they are.",
        discussion: """
        The sampler starts from x = σ_{t_0} R z at the first grid time (z ~ N(0, I) from the seed, or \
        the C×D array of --init) and runs the reverse process with the model's exact denoiser. \
        Samples are drawn in batches of --batch-size; sample i uses only the noise of (--seed, i), so \
        the result does not depend on the batch size. The report compares the samples with exact \
        samples of p_0 (seeds derived from --seed): mean −log p_0 against the entropy estimate, \
        per-mode weights and their total-variation distance to π, and the sliced Wasserstein-2 \
        distance, each beside its Monte Carlo noise floor.
        """)

    @Option(help: "A built-in model name or a .json/.npz model file.") var model: String
    @Option(help: "Schedule: \(Schedule.allNames.joined(separator: ", ")) (parameters as name:key=value,...).")
    var schedule: String
    @Option(help: "The sampler.") var sampler: SamplerConfiguration.Kind
    @Option(help: "Number of steps N (grid times; the last interval ends at σ = 0). Not for rk45, which is adaptive.")
    var steps: Int?
    @Option(help: "Number of samples C.") var count: Int
    @OptionGroup var runOptions: RunOptions
    @Option(name: .customLong("init"), help: "Starting standard normals z: a .npy array of shape (C, D) or (C, N, d).")
    var initialNoise: String?
    @Option(help: "Time grid (default: karras; trailing for discrete schedules).") var grid: GridKind?
    @Option(help: """
        An explicit grid instead of --steps and --grid: the times t_0 > … > t_{N−1} of the schedule \
        (σ for edm), comma-separated, or the optimal grid of a `tweedie schedule optimize --out` .json \
        file made for the same schedule; every sampler then ends at σ = 0.
        """)
    var times: String?

    @Option(help: "ddim: η (0 deterministic, 1 ancestral); dpmpp-2m-sde: η (default 1).") var eta: Double?
    @Option(help: "ddpm: posterior variance beta-tilde (default) or forward variance beta.")
    var variance: DDPMSampler.Variance?
    @Option(name: .customLong("s-churn"), help: "heun: stochastic churn S_churn (default 0).") var churn: Double?
    @Option(name: .customLong("s-tmin"), help: "heun: churn only where σ̃ = σ/α ≥ S_tmin (default 0).")
    var churnMinimum: Double?
    @Option(name: .customLong("s-tmax"), help: "heun: churn only where σ̃ = σ/α ≤ S_tmax (default ∞).")
    var churnMaximum: Double?
    @Option(name: .customLong("s-noise"), help: "heun, dpmpp-2m-sde: noise scale S_noise (default 1).")
    var noiseScale: Double?
    @Option(help: "pc: signal-to-noise ratio r of the Langevin corrector (default 0.16).") var snr: Double?
    @Option(help: "rk45: relative tolerance (default 1e-5).") var rtol: Double?
    @Option(help: "rk45: absolute tolerance (default 1e-5).") var atol: Double?

    @Option(help: """
        Guide the sampler towards an observation (--operator, --y, --noise-std or --noise-covariance) and report \
        against the exact posterior p(x_0 | y).
        """)
    var guidance: GuidanceMethod?
    @Option(help: "dps: guidance strength ζ (default 1: the likelihood at the point estimate).") var zeta: Double?
    @Option(help: """
        Arithmetic of the sampler's denoiser: float64 (the exact oracle) or float32 (data-set models: \
        single-precision products, within about 1e-5 of the data's spread; the report stays in Float64).
        """)
    var precision: Precision = .float64
    @Option(help: """
        Certified pruning for data sets (Σ = I): each denoiser call skips the components it can prove \
        negligible and is certified within ε ‖x_t‖ of the exact sum (e.g. 1e-8); the report gives the \
        largest bound reached.
        """)
    var prune: Double?
    @OptionGroup var observation: ObservationOptions

    @Option(help: "Output .npy file for the samples (the model's point shape; written atomically).") var out: String
    @Option(help: """
        Also write the trajectory to this .npz file: times (N) and x (N+1 × C × D), the state at each \
        grid time and the samples (rk45: the first and last only).
        """)
    var trajectory: String?
    @Option(help: "Also draw the samples over the model's density to this .svg file.") var plot: String?
    @Option(help: """
        Also write the samples as a molecular file, one frame per sample (models of shape N×3): .xyz \
        (multi-frame), .sdf (one record per sample) or .pdb (one MODEL per sample), by extension; the \
        elements are the model's atom symbols (C where it has none).
        """)
    var xyz: String?
    @Option(help: """
        Data sets: also write each sample's nearest training item, d₁, d₂, d₁/d₂ and whether it is memorized \
        (d₁/d₂ < 1/3) to this .csv file.
        """)
    var memorization: String?
    @Option(help: """
        Data sets of images: also draw the first 16 samples beside their nearest training images to this .png file.
        """)
    var nearestImages: String?
    @Flag(name: .shortAndLong, help: "Print no report.") var quiet = false

    /// The sampler options given, parsed, by their names in the catalogue.
    private var samplerOptions: [SamplerConfiguration.Option: SamplerConfiguration.Value] {
        let values: [(SamplerConfiguration.Option, SamplerConfiguration.Value?)] = [
            (.eta, eta.map { .number($0) }), (.variance, variance.map { .variance($0) }),
            (.sChurn, churn.map { .number($0) }), (.sTmin, churnMinimum.map { .number($0) }),
            (.sTmax, churnMaximum.map { .number($0) }), (.sNoise, noiseScale.map { .number($0) }),
            (.snr, snr.map { .number($0) }), (.rtol, rtol.map { .number($0) }), (.atol, atol.map { .number($0) })]
        return values.reduce(into: [:]) { result, entry in result[entry.0] = entry.1 }
    }

    /// A request's field as this command's option: `batch_size` is `--batch-size`.
    static func option(_ field: String) -> String { "--" + field.replacingOccurrences(of: "_", with: "-") }

    /// The options as a sampling request (the observation read from its files, for a model of
    /// dimension `dimension`).
    func request(dimension: Int) throws -> SampleRequest {
        let configuration: SamplerConfiguration
        do { configuration = try SamplerConfiguration(sampler, values: samplerOptions) } catch {
            throw ValidationError("--\(error.argument) \(error.reason)")
        }
        var request = SampleRequest(sampler: configuration, schedule: schedule, grid: grid, steps: steps,
                                    count: count, seed: runOptions.seed, batchSize: runOptions.batchSize,
                                    precision: precision,
                                    guidance: guidance.map { SampleRequest.Guidance($0, zeta: zeta) },
                                    observation: try observation.observation(dimension: dimension), prune: prune)
        request.times = try times.map(Self.parseTimes)
        return request
    }

    /// `--times`: numbers separated by commas, or the optimal grid's `times` of a `schedule optimize
    /// --out` file (made for the same schedule).
    static func parseTimes(_ text: String) throws -> [Double] {
        if text.hasSuffix(".json") {
            let data = try FileContents.read(URL(fileURLWithPath: text))
            guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let optimal = root["optimal"] as? [String: Any], let times = optimal["times"] as? [Double],
                  !times.isEmpty else {
                throw CommandFailure("--times: \(text) holds no optimal.times (a schedule optimize --out file)")
            }
            return times.last == 0 ? Array(times.dropLast()) : times
        }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var values: [Double] = []
        for part in parts {
            guard let x = Double(part.trimmingCharacters(in: .whitespaces)), x.isFinite else {
                throw ValidationError("--times: '\(part)' is not a finite number")
            }
            values.append(x)
        }
        return values.last == 0 ? Array(values.dropLast()) : values
    }

    func validate() throws {
        let outputs: [(String, String?, String)] = [("--out", out, ".npy"), ("--trajectory", trajectory, ".npz"),
                                                    ("--plot", plot, ".svg"),
                                                    ("--memorization", memorization, ".csv"),
                                                    ("--nearest-images", nearestImages, ".png")]
        if let xyz, (try? MolecularFile.Format(URL(fileURLWithPath: xyz))) == nil {
            throw ValidationError("--xyz must name a .xyz, .sdf or .pdb file, got '\(xyz)'")
        }
        // Distinct suffixes keep the output files distinct.
        for case let (flag, path?, suffix) in outputs {
            guard path.hasSuffix(suffix) else {
                throw ValidationError("\(flag) must name a \(suffix) file, got '\(path)'")
            }
        }
    }

    func run() throws {
        try OutputPaths.requireSafe(outputs: outputFiles,
                                    inputs: [("--model", model)] + (initialNoise.map { [("--init", $0)] } ?? [])
                                        + observation.inputs)
        let m = try loadModel(model)
        let setup: SamplingSetup
        do {
            setup = try request(dimension: m.dimension).prepare(model: m, exactPosterior: true)
        } catch let error as RequestError {
            throw CommandFailure(error.message(spelling: Self.option))
        }
        let plan = try SamplePlan(self, setup: setup)
        let start = Date()
        let run = try draw(plan)
        let elapsed = Date().timeIntervalSince(start)
        if let writer = plan.writer {
            try writer.finish().commit()
            return
        }
        // The report is computed before anything is written: a failure leaves no files.
        let quality = quiet ? nil
            : Result {
                try SampleQuality(samples: run.samples, mixture: plan.reference.prior, seed: runOptions.seed,
                                  projections: runOptions.projections)
            }
        // A deterministic linear sampler from the seed's own start: its exact output density and KL(q_N ‖ p_0).
        // (It runs the exact Float64 oracle, so it describes a --precision float32 run only approximately: skipped.)
        let kl = quiet || plan.posterior != nil || initialNoise != nil || precision == .float32
            || plan.model.dimension > SamplerStudy.maximumKLDimension ? nil
            : try SamplerKL(model: plan.model, sampler: plan.sampler, path: plan.path, count: count,
                            seed: runOptions.seed)
        // A stochastic sampler with Gaussian steps: the KL of its chain to the exact reverse chain.
        var pathKL: SamplerPathKL?
        if !quiet, plan.posterior == nil, precision == .float64, !plan.sampler.isDeterministic,
           let stepper = plan.sampler as? any GaussianStepSampler {
            pathKL = try SamplerPathKL(model: plan.model, sampler: stepper, path: plan.path, count: max(count, 2),
                                       seed: runOptions.seed)
        }
        try writeOutputs(plan, run: run)
        if let quality {
            var lines = summary(plan, run: run, elapsed: elapsed, quality: quality, kl: kl)
            if case .dirac = plan.model.prior.covariances, plan.posterior == nil,
               let found = try? nearestTrainingItems(plan, run: run) {
                let ratios = zip(found.nearestDistances, found.secondNearestDistances).map { $1 > 0 ? $0 / $1 : 0 }
                let copies = ratios.filter { $0 < Memorization.ratioThreshold }.count
                let sorted = found.nearestDistances.sorted()
                let at = lines.lastIndex(where: { $0.hasPrefix("wrote ") }).map { $0 - 1 } ?? lines.count
                lines.insert(contentsOf: [
                    "",
                    "  memorization: \(copies) of \(count) samples "
                        + "(\(format(100 * Double(copies) / Double(count), 3))%) "
                        + "have d₁/d₂ < 1/3, the criterion of Gu et al. (d₁, d₂: distances to the nearest and "
                        + "second-nearest training items); "
                        + "mean d₁/d₂ = \(format(ratios.reduce(0, +) / Double(count))), "
                        + "median d₁ = \(format(sorted[sorted.count / 2]))"], at: at)
            }
            if let pathKL {
                let at = lines.lastIndex(where: { $0.hasPrefix("wrote ") }).map { $0 - 1 } ?? lines.count
                lines.insert(contentsOf: ["",
                                          "  path KL to the exact reverse chain on the grid = "
                                          + "\(format(pathKL.total.mean)) ± \(format(pathKL.total.standardError)) nats "
                                          + "(starting mismatch \(format(pathKL.start.mean)); "
                                          + "\(pathKL.intervals.count) intervals, "
                                          + "the final denoising step not included; "
                                          + "\(count) exact paths)"], at: at)
            }
            print(lines.joined(separator: "\n"))
        }
    }

    /// The files this run writes, by option.
    private var outputFiles: [(option: String, path: String)] {
        [("--out", out), ("--trajectory", trajectory), ("--plot", plot), ("--xyz", xyz),
         ("--memorization", memorization), ("--nearest-images", nearestImages)]
            .compactMap { option, path in path.map { (option: option, path: $0) } }
    }

    /// Everything decided before sampling: the sampler and its path, the starting noise, and
    /// whether the samples stream to --out (nothing else needs them in memory).
    private struct SamplePlan {
        /// The request, ready to run.
        let setup: SamplingSetup
        let model: MixtureModel
        /// What the samples are measured against: p_0, or the exact posterior p(x_0 | y) when guided.
        let reference: MixtureModel
        let posterior: ExactPosterior?
        /// The reference's oracle (for the plot).
        let oracle: Oracle
        var sampler: any Sampler { setup.sampler }
        var path: SamplingPath { setup.path }
        /// "karras grid, 18 steps" or "adaptive steps".
        let stepsText: String
        let standardNormals: Matrix?
        let atoms: Int?
        let writer: ArrayFile.RowWriter?

        init(_ command: SampleCommand, setup: SamplingSetup) throws {
            self.setup = setup
            let m = setup.model!
            model = m
            posterior = setup.posterior
            reference = setup.reference!
            oracle = try setup.posterior.map { try Oracle($0.model) } ?? setup.priorOracle!
            let d = m.dimension, count = command.count
            let streams = command.quiet && command.trajectory == nil && command.plot == nil && command.xyz == nil
            if !streams {
                do { try MemoryBudget.require("count", "\(count) samples × D = \(d)", elements: [count, d]) } catch {
                    throw CommandFailure("--count: \(error.reason); "
                                         + "with --quiet (and no --trajectory, --plot or --xyz) "
                                         + "the samples are written batch by batch, bounded by disk space only")
                }
            }
            stepsText = setup.request.sampler.kind.isAdaptive ? "adaptive steps"
                : command.times != nil ? "given grid, \(setup.path.steps) steps"
                : "\((command.grid ?? .default(for: setup.schedule)).rawValue) grid, \(setup.path.steps) steps"
            if command.xyz != nil {
                guard let shape = m.shape, shape.count == 2, shape[1] == 3 else {
                    let shapeText = m.shape.map { $0.map(String.init).joined(separator: "×") } ?? "\(d)"
                    throw CommandFailure("--xyz needs a model whose points are N×3 atoms; "
                                         + "\(m.name ?? "the model") has point shape \(shapeText)")
                }
                atoms = shape[0]
            } else {
                atoms = nil
            }
            for (flag, path) in command.outputFiles {
                let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
                      isDirectory.boolValue else {
                    throw CommandFailure("\(flag): no such directory \(directory.path)")
                }
            }
            standardNormals = try command.initialNoise.map { (file) throws in
                let url = URL(fileURLWithPath: file)
                let z = try ArrayFile.readMatrix(url)
                guard z.rows == count, z.columns == d else {
                    throw CommandFailure("--init: \(url.lastPathComponent) holds \(z.rows)×\(z.columns) numbers; "
                                         + "expected \(count)×\(d) standard normals (--count × D)")
                }
                do {
                    try requirePoints(z, "--init: \(url.lastPathComponent)")
                } catch {
                    throw CommandFailure("\(error)")
                }
                return z
            }
            if streams {
                do {
                    writer = try ArrayFile.RowWriter(URL(fileURLWithPath: command.out), rows: count,
                                                     pointShape: m.shape ?? [d])
                } catch {
                    throw CommandFailure("--count \(count): \(error)")
                }
            } else {
                writer = nil
            }
        }
    }

    /// Runs the sampler batch by batch (sample i uses only the noise of (runOptions.seed, i)), with a
    /// progress bar on a terminal.
    private func draw(_ plan: SamplePlan) throws -> SamplingRun {
        let batchSize = min(runOptions.batchSize(dimension: plan.model.dimension), count)
        let batchCount = count / batchSize + (count % batchSize == 0 ? 0 : 1)
        let bar = isatty(2) != 0 ? ProgressBar(total: batchCount * plan.path.steps) : nil
        defer { bar?.finish() }
        let steps = plan.path.steps
        var onBatch: ((Range<Int>, Matrix) throws -> Void)?
        if let writer = plan.writer {
            let m = plan.model
            onBatch = { _, batch in try writer.append(m.embed(batch)) }
        }
        var progress: (@Sendable (Int, Int, Int, Int) -> Void)?
        if let bar { progress = { batch, _, done, _ in bar.update(batch * steps + done) } }
        do {
            return try plan.setup.run(standardNormals: plan.standardNormals, recordsTrajectory: trajectory != nil,
                                      keepsSamples: plan.writer == nil, onBatch: onBatch, progress: progress)
        } catch let error as SamplerDivergence {
            let given = samplerOptions.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { "--\($0.key.rawValue) \($0.value)" }
            throw CommandFailure("--sampler \(plan.sampler.name): \(error)"
                                 + "\(given.isEmpty ? "" : " (given \(given.joined(separator: " ")))")")
        }
    }

    /// All outputs or none: each staged, then all renamed into place.
    private func writeOutputs(_ plan: SamplePlan, run: SamplingRun) throws {
        let m = plan.model, name = m.name ?? "model"
        try AtomicFile.writingTogether {
            // With a zero centre of mass the run is in reduced coordinates: points are embedded (§13.1).
            let samples = m.embed(run.samples)
            try ArrayFile.write(samples, to: URL(fileURLWithPath: out), shape: m.shape)
            if let trajectory {
                // rk45 records only the start and the end: times then holds t_0 alone.
                let times = Array(plan.path.times.prefix(max(run.trajectory.count - 1, 0)))
                try ArrayFile.writeArchive([("times", NDArray(times)),
                                            ("x", NDArray(stacking: run.trajectory.map(m.embed), rows: count,
                                                          columns: m.pointDimension))],
                                           to: URL(fileURLWithPath: trajectory))
            }
            if let xyz, let atoms = plan.atoms {
                let symbols = m.atomSymbols ?? Array(repeating: "C", count: atoms)
                try MolecularFile.write(Conformers(symbols: symbols, frames: samples,
                                                   titles: (0..<samples.rows).map { "sample \($0) of \(name)" }),
                                        to: URL(fileURLWithPath: xyz))
            }
            if memorization != nil || nearestImages != nil {
                let found = try nearestTrainingItems(plan, run: run)
                if let memorization {
                    var lines = ["sample,nearest,d1,d2,ratio,memorized"]
                    for i in 0..<run.samples.rows {
                        let (d1, d2) = (found.nearestDistances[i], found.secondNearestDistances[i])
                        let ratio = d2 > 0 ? d1 / d2 : 0
                        lines.append("\(i),\(found.nearestComponents[i]),\(d1),\(d2),\(ratio),"
                                     + "\(ratio < Memorization.ratioThreshold ? 1 : 0)")
                    }
                    try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8),
                                         to: URL(fileURLWithPath: memorization))
                }
                if let nearestImages {
                    do {
                        try NearestGrid.write(samples: run.samples, model: m, nearest: found.nearestComponents,
                                              count: 16, to: URL(fileURLWithPath: nearestImages))
                    } catch let error as ArgumentError { throw CommandFailure("--\(error.argument): \(error.reason)") }
                }
            }
            if let plot {
                let guided = guidance.map { " guided by \($0.rawValue), over p(x_0 | y)" } ?? ""
                let title = "\(name): \(plan.sampler.name)\(guided), \(schedule), \(plan.stepsText), \(count) samples"
                do {
                    try writeSamplePlot(model: plan.reference, oracle: plan.oracle, samples: run.samples, title: title,
                                        to: URL(fileURLWithPath: plot))
                } catch let error as ArgumentError { throw CommandFailure("--\(error.argument): \(error.reason)") }
            }
        }
    }

    /// Each sample's two nearest training items (data sets only).
    private func nearestTrainingItems(_ plan: SamplePlan, run: SamplingRun) throws -> Memorization {
        guard case .dirac = plan.model.prior.covariances else {
            throw CommandFailure("--memorization and --nearest-images are for data-set models (Dirac components)")
        }
        do { return try Memorization(samples: run.samples, mixture: plan.model.prior) } catch {
            throw CommandFailure("--memorization: \(error.reason)")
        }
    }

    /// The printed summary: what ran, what it cost, the report and the files written.
    private func summary(_ plan: SamplePlan, run: SamplingRun, elapsed: TimeInterval,
                         quality: Result<SampleQuality, Error>, kl: SamplerKL?) -> [String] {
        let m = plan.model, d = m.dimension, path = plan.path
        let batchSize = min(runOptions.batchSize(dimension: d), count)
        var lines: [String] = []
        lines.append("sampled \(count) points of \(m.name ?? "model") (D = \(d), K = \(m.componentCount)) "
                     + "with \(plan.sampler.name): "
                     + "schedule \(schedule), \(plan.stepsText) "
                     + "(t = \(format(path.times.first!)) → \(format(path.times.last!)) → 0), seed \(runOptions.seed)")
        lines.append("model calls \(format(run.modelCallsPerSample)) per sample "
                     + "(\(run.batchedModelCalls) batched calls, "
                     + "\(run.batchCount) batch\(run.batchCount == 1 ? "" : "es") of ≤ \(batchSize)); "
                     + "wall time \(format(elapsed, 3)) s")
        if let log = plan.setup.certificates {
            let c = log.summary
            let share = c.prunedPairs > 0 ? c.keptPairs / c.prunedPairs : 1
            lines.append("pruning certified: ‖x̂_0 − E[x_0 | x_t]‖ ≤ \(format(c.largestErrorBound)) "
                         + "(≤ \(format(c.largestRelativeErrorBound)) ‖x_t‖; ε = \(format(prune ?? .nan))), "
                         + "neglected posterior mass ≤ \(format(c.largestNeglectedMass)); "
                         + "\(format(100 * share, 3))% of components weighed in pruned calls, "
                         + "\(c.exactPoints) of \(c.points) point-calls answered exactly")
        }
        if let posterior = plan.posterior, let method = guidance {
            lines.append("guidance \(method.rawValue)\(method == .dps ? " (ζ = \(format(zeta ?? 1)))" : ""): "
                         + "y of d_y = \(posterior.observation.observedDimension), "
                         + "log p(y) = \(format(posterior.logEvidence)); "
                         + "measured against the exact posterior p(x_0 | y)")
        }
        lines.append("")
        switch quality {
        case .failure(let error): lines.append("no report: \(error)")
        case .success(let q):
            lines.append(contentsOf: sampleReport(q, mixture: plan.reference.prior, seed: runOptions.seed,
                                                  target: plan.posterior == nil ? "p_0" : "p(x_0 | y)"))
        }
        if let kl {
            lines.append("")
            lines.append("  KL(q_N ‖ p_0) = \(format(kl.kl)) ± \(format(kl.standardError)) nats, "
                         + "from the exact density of each sample "
                         + "(its Jacobian carried through \(plan.sampler.name)); "
                         + (kl.isTrustworthy
                            ? "control-variate estimate (the plain mean of log q_N − log p_0 is "
                                + "\(format(kl.plainKL)) ± \(format(kl.plainStandardError)))"
                            : "the plain mean of log q_N − log p_0, as p_0/q_N is heavy-tailed (control-variate form "
                                + "\(format(kl.controlVariateKL)) ± \(format(kl.controlVariateStandardError)))")
                         + "; effective sample size \(format(kl.effectiveSampleSize)) of \(kl.count)"
                         + (kl.reverseKL.map {
                             "; the other direction, KL(p_0 ‖ q_N) = \(format($0)) "
                                 + "± \(format(kl.reverseStandardError ?? .nan)) by importance weights"
                         } ?? ""))
        }
        let frameCount = run.trajectory.count
        var outputs = ["\(out) \(pythonShape([count] + (m.shape ?? [d])))"]
        if let trajectory {
            outputs.append("\(trajectory) (times (\(max(frameCount - 1, 0)),), x (\(frameCount), \(count), \(d)))")
        }
        if let xyz { outputs.append("\(xyz) (\(count) frames)") }
        if let memorization { outputs.append(memorization) }
        if let nearestImages {
            outputs.append("\(nearestImages) (\(min(count, 16)) samples beside their nearest training images)")
        }
        if let plot { outputs.append(plot) }
        lines.append("")
        lines.append("wrote " + outputs.joined(separator: ", "))
        return lines
    }

    private func pythonShape(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}

/// A one-line progress bar on stderr, redrawn when the percentage changes.
final class ProgressBar: @unchecked Sendable {
    private let total: Int
    private var shown = -1
    private let lock = NSLock()

    init(total: Int) { self.total = max(total, 1) }

    func update(_ done: Int) {
        lock.lock(); defer { lock.unlock() }
        let percent = min(100, max(0, done * 100 / total))
        guard percent != shown else { return }
        shown = percent
        let width = 30, filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\rsampling [\(bar)] \(percent)%".utf8))
    }

    /// Erases the bar.
    func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
