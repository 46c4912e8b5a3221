import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieInverse
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers
import TweedieEvaluation

/// A row of a sampler study that failed, with what went wrong.
public struct StudyRowFailure: Error, CustomStringConvertible {
    public let sampler: String
    public let steps: Int
    public let underlying: any Error
    public var description: String { "\(sampler) at \(steps) steps: \(underlying)" }
}

/// Runs the rows of a sampler study (``StudyConfiguration``): each sampler at each step count
/// from the same starting noise, measured against p_0, with the path error of deterministic
/// samplers against a tightly solved ODE endpoint (computed once for each pair of path ends,
/// shared by those rows). A sharded study runs only its shard's rows; ``StudyMerge`` joins them.
///
/// A guided study (``StudyConfiguration/guidance``) crosses the samplers with guidance methods and
/// measures every row against the exact posterior p(x_0 | y) instead of p_0; its path errors are
/// against the rk45 solve of the same guided probability-flow ODE.
public struct SamplerStudy {
    public let model: MixtureModel
    public let configuration: StudyConfiguration
    let oracle: Oracle
    /// The exact posterior of a guided study.
    public let posterior: ExactPosterior?
    /// What the rows are measured against: p_0 or p(x_0 | y).
    public var target: MixtureModel { posterior?.model ?? model }
    let schedule: Schedule
    let grid: GridKind
    let samplers: [String: SamplerConfiguration]
    let stream: NoiseStream
    /// Called with the fraction of this shard's work done, from 0 to 1.
    private let progress: ((Double) -> Void)?
    private var rowsDone = 0
    private let rowCount: Int
    /// Reference ODE endpoints by guidance method and (first grid time, last grid time).
    private var references: [String: [[Double]: Matrix]] = [:]

    /// Checks everything before anything runs: the schedule, the grid, every sampler's text and
    /// every path of the grid.
    public init(model: MixtureModel, configuration: StudyConfiguration, progress: ((Double) -> Void)? = nil) throws {
        self.model = model
        self.configuration = configuration
        oracle = try Oracle(model)
        schedule = try Schedule.named(configuration.schedule)
        guard let grid = GridKind(rawValue: configuration.grid) else {
            throw ArgumentError("grid", "unknown grid '\(configuration.grid)'")
        }
        self.grid = grid
        var samplers: [String: SamplerConfiguration] = [:]
        for text in configuration.samplers { samplers[text] = try SamplerConfiguration(parsing: text) }
        self.samplers = samplers
        if let given = configuration.observation {
            let dy = given.y.count
            let a = Matrix(rows: given.forwardOperator.count, columns: given.forwardOperator.first?.count ?? 0,
                           elements: given.forwardOperator.flatMap { $0 })
            guard given.forwardOperator.allSatisfy({ $0.count == a.columns }), given.noiseCovariance.count == dy,
                  given.noiseCovariance.allSatisfy({ $0.count == dy }) else {
                throw ArgumentError("observation", "operator, y and noise_covariance have inconsistent shapes")
            }
            let noise = try NoiseCovariance(.full(Matrix(given.noiseCovariance)), dimension: max(dy, 1),
                                            field: "noise_covariance")
            let observation = try LinearObservation(operator: a, y: given.y, noise: noise)
            posterior = try ExactPosterior(prior: model, observation: observation)
            for method in configuration.guidance ?? [] where GuidanceMethod(rawValue: method) == nil {
                throw ArgumentError("guidance", "unknown method '\(method)' "
                                    + "(known: \(GuidanceMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        } else {
            posterior = nil
        }
        for (text, sampler) in samplers {
            for n in configuration.steps where !sampler.kind.isAdaptive || n == configuration.steps[0] {
                do {
                    _ = try sampler.path(schedule: schedule, grid: grid, steps: sampler.kind.isAdaptive ? nil : n)
                } catch {
                    throw StudyRowFailure(sampler: text, steps: n, underlying: error)
                }
            }
        }
        stream = NoiseStream(seed: configuration.seed)
        rowCount = configuration.indices(in: configuration.shard).count
        self.progress = progress
    }

    /// The rows of the configuration's shard, in grid order.
    public mutating func run() throws -> [StudyRow] {
        var rows: [StudyRow] = []
        progress?(0)
        for index in configuration.indices(in: configuration.shard) {
            let (name, steps) = configuration.entry(index)
            do {
                rows.append(try row(name, steps: steps))
            } catch {
                throw StudyRowFailure(sampler: name, steps: steps, underlying: error)
            }
            rowsDone += 1
        }
        progress?(1)
        return rows
    }

    /// The model a row's sampler calls: the oracle, or the oracle guided by `method`.
    private func denoiser(guidance method: String?) throws -> any DenoisingModel {
        guard let method, let posterior else { return oracle }
        return try guidedModel(GuidanceMethod(rawValue: method)!, base: oracle, prior: model,
                               observation: posterior.observation)
    }

    private mutating func row(_ name: String, steps: Int) throws -> StudyRow {
        let (samplerText, guidance) = configuration.parts(of: name)
        let entry = samplers[samplerText]!
        let sampler = entry.makeSampler()
        let denoiser = try denoiser(guidance: guidance)
        let path = try entry.path(schedule: schedule, grid: grid, steps: entry.kind.isAdaptive ? nil : steps)
        let start = Date()
        let (samples, callsPerSample) = try draw(sampler, model: denoiser, path: path, share: 0..<0.8)
        let wallTime = Date().timeIntervalSince(start)
        let deterministic = sampler.isDeterministic
        var measurements = try SampleEvaluation.measure(samples, model: target, seed: configuration.seed,
                                                        options: .init(projections: configuration.projections))
        // A single Gaussian and a linear or Gaussian-step sampler driven by its exact oracle: the
        // exact output law and its W2 (no sampling noise).
        if target.componentCount == 1, guidance == nil || guidance == GuidanceMethod.exact.rawValue,
           GaussianOutputLaw.isSupported(sampler) {
            measurements.append(try GaussianOutputLaw(model: target, sampler: sampler, path: path).measurement)
            // Its split into initialization, discretization and truncation (docs/math.md §12.4).
            measurements.append(contentsOf: try GaussianErrorBudget(model: target, sampler: sampler,
                                                                    path: path).measurements)
        }
        // A deterministic linear sampler on the oracle: its exact output density, and KL(q_N ‖ p_0).
        if guidance == nil, let kl = try Self.klMeasurements(model: model, sampler: sampler, path: path,
                                                             count: configuration.count, seed: configuration.seed) {
            measurements.append(contentsOf: kl)
        }
        // A stochastic sampler with Gaussian steps: the KL of its chain to the exact reverse chain.
        if guidance == nil, !deterministic, let stepper = sampler as? any GaussianStepSampler, path.levels.count >= 2 {
            let kl = try SamplerPathKL(model: model, sampler: stepper, path: path, count: configuration.count,
                                       seed: configuration.seed)
            measurements.append(Measurement(name: "path_kl",
                                            label: "path KL to the exact reverse chain (nats; floor: its SE)",
                                            value: kl.total.mean, noiseFloor: kl.total.standardError))
            measurements.append(Measurement(name: "path_kl_se", label: "standard error of the path KL",
                                            value: kl.total.standardError, noiseFloor: nil))
        }
        if deterministic {
            let reference = try self.reference(for: path, model: denoiser, guidance: guidance)
            measurements.append(try PathError.rms(samples: samples, reference: reference))
            measurements.append(try PathError.median(samples: samples, reference: reference))
        }
        return StudyRow(sampler: name, steps: steps, isDeterministic: deterministic,
                        modelCallsPerSample: callsPerSample, wallTime: wallTime, measurements: measurements)
    }

    /// Jacobians are carried (D + 1 rows per sample) up to this dimension.
    public static let maximumKLDimension = 64

    /// `kl` (its floor column holds the standard error), `kl_se` and `kl_ess` for a deterministic
    /// linear sampler, from the same samples as the row (docs/math.md §12); nil where there is
    /// nothing to compute: another sampler, D above ``maximumKLDimension``, or a p_0 without a
    /// density (Dirac or singular components).
    public static func klMeasurements(model: MixtureModel, sampler: any Sampler, path: SamplingPath, count: Int,
                                      seed: UInt64) throws -> [Measurement]? {
        guard model.dimension <= maximumKLDimension,
              let kl = try SamplerKL(model: model, sampler: sampler, path: path, count: count, seed: seed) else {
            return nil
        }
        return [Measurement(name: "kl", label: "KL(q_N ‖ p_0) (nats; floor: its SE)", value: kl.kl,
                            noiseFloor: kl.standardError),
                Measurement(name: "kl_se", label: "standard error of KL", value: kl.standardError, noiseFloor: nil),
                Measurement(name: "kl_ess", label: "effective sample size of p_0/q_N", value: kl.effectiveSampleSize,
                            noiseFloor: nil)]
            + (kl.reverseKL.map { [Measurement(name: "kl_reverse",
                                               label: "KL(p_0 ‖ q_N) by importance weights (nats; floor: its SE)",
                                               value: $0, noiseFloor: kl.reverseStandardError)] } ?? [])
    }

    /// All samples of a sampler on a path, batch by batch (sample i from the noise of (seed, i)),
    /// and the model calls per sample. `share` is the part of the row's progress it covers.
    private func draw(_ sampler: any Sampler, model: any DenoisingModel, path: SamplingPath,
                      share: Range<Double>) throws -> (Matrix, Double) {
        var report: (@Sendable (Int, Int, Int, Int) -> Void)?
        if let progress {
            let shard = UncheckedSendable(progress)
            let base = Double(rowsDone), rows = Double(max(rowCount, 1))
            let width = share.upperBound - share.lowerBound, start = share.lowerBound
            report = { batch, batches, done, all in
                let fraction = start + width * (Double(batch) + Double(done) / Double(max(all, 1))) / Double(batches)
                shard.value((base + fraction) / rows)
            }
        }
        let run = try sampler.run(count: configuration.count, model: model, path: path, noise: stream,
                                  batchSize: configuration.batchSize, progress: report)
        return (run.samples, run.modelCallsPerSample)
    }

    /// The rk45 solution (rtol = atol = the reference tolerance) from the path's starting state to
    /// its last grid time, then x̂_0, as every ODE sampler on the path ends. A one-step path
    /// (which has no last time of its own) is measured against the ends of the two-step grid.
    private mutating func reference(for path: SamplingPath, model: any DenoisingModel,
                                    guidance: String?) throws -> Matrix {
        var end = path.times.last!
        if path.steps == 1, let two = try? SamplingPath.make(grid, schedule: schedule, steps: 2) {
            end = two.times.last!
        }
        let first = path.times[0]
        let key = [first, end]
        if let known = references[guidance ?? "", default: [:]][key] { return known }
        let ends = try SamplingPath(schedule: schedule, times: end < first ? [first, end] : [first])
        let solver = RK45Sampler(relativeTolerance: configuration.referenceTolerance,
                                 absoluteTolerance: configuration.referenceTolerance)
        let (solution, _) = try draw(solver, model: model, path: ends, share: 0.8..<1)
        references[guidance ?? "", default: [:]][key] = solution
        return solution
    }
}
