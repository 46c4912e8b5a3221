import Foundation
import Tweedie
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the rows of a sampler study: each sampler at each step count from the same starting
/// noise, measured against p_0, with the path error of deterministic samplers against a tightly
/// solved ODE endpoint (computed once for each pair of path ends, shared by those rows).
struct SamplerStudy {
    let model: MixtureModel
    let oracle: Oracle
    let schedule: Schedule
    let grid: GridKind
    let configuration: StudyConfiguration
    let samplers: [String: SamplerConfiguration]
    let stream: NoiseStream
    private let bar: ProgressBar?
    private var rowsDone = 0
    private let rowCount: Int
    /// Reference ODE endpoints by (first grid time, last grid time).
    private var references: [[Double]: Matrix] = [:]

    /// Progress units per row.
    private static let unitsPerRow = 1000

    init(model: MixtureModel, schedule: Schedule, grid: GridKind, configuration: StudyConfiguration,
         samplers: [String: SamplerConfiguration]) throws {
        self.model = model
        oracle = try Oracle(model)
        self.schedule = schedule
        self.grid = grid
        self.configuration = configuration
        self.samplers = samplers
        stream = NoiseStream(seed: configuration.seed)
        rowCount = configuration.indices(in: configuration.shard).count
        bar = isatty(2) != 0 ? ProgressBar(total: rowCount * Self.unitsPerRow) : nil
    }

    /// The rows of the configuration's shard, in grid order.
    mutating func run() throws -> [StudyRow] {
        var rows: [StudyRow] = []
        for index in configuration.indices(in: configuration.shard) {
            let (name, steps) = configuration.entry(index)
            do {
                rows.append(try row(name, steps: steps))
            } catch {
                bar?.finish()
                throw CommandFailure("\(name) at \(steps) steps: \(error)")
            }
            rowsDone += 1
        }
        bar?.finish()
        return rows
    }

    private mutating func row(_ name: String, steps: Int) throws -> StudyRow {
        let entry = samplers[name]!
        let sampler = entry.makeSampler()
        let path = try entry.path(schedule: schedule, grid: grid, steps: entry.kind.isAdaptive ? nil : steps)
        let start = Date()
        let (samples, callsPerSample) = try draw(sampler, path: path, share: 0..<0.8)
        let wallTime = Date().timeIntervalSince(start)
        let deterministic = sampler.isDeterministic
        var measurements = try SampleEvaluation.measure(samples, model: model, seed: configuration.seed,
                                                        options: .init(projections: configuration.projections))
        // A single Gaussian and a linear sampler: the exact output law and its W2 (no sampling noise).
        if model.componentCount == 1, GaussianOutputLaw.isLinear(sampler) {
            measurements.append(try GaussianOutputLaw(model: model, sampler: sampler, path: path).measurement)
        }
        if deterministic {
            let reference = try self.reference(for: path)
            measurements.append(try SampleEvaluation.pathError(samples: samples, reference: reference))
            measurements.append(StudyPathError.median(samples: samples, reference: reference))
        }
        return StudyRow(sampler: name, steps: steps, isDeterministic: deterministic, modelCallsPerSample: callsPerSample,
                        wallTime: wallTime, measurements: measurements)
    }

    /// All samples of a sampler on a path, batch by batch (sample i from the noise of (seed, i)),
    /// and the model calls per sample. `share` is the part of the row's progress it covers.
    private func draw(_ sampler: any Sampler, path: SamplingPath, share: Range<Double>) throws -> (Matrix, Double) {
        var progress: (@Sendable (Int, Int, Int, Int) -> Void)?
        if let bar {
            let base = Double(rowsDone * Self.unitsPerRow), units = Double(Self.unitsPerRow)
            let width = share.upperBound - share.lowerBound, start = share.lowerBound
            progress = { batch, batches, done, all in
                let fraction = start + width * (Double(batch) + Double(done) / Double(max(all, 1))) / Double(batches)
                bar.update(Int(base + units * fraction))
            }
        }
        let run = try sampler.run(count: configuration.count, model: oracle, path: path, noise: stream,
                                  batchSize: configuration.batchSize, progress: progress)
        return (run.samples, run.modelCallsPerSample)
    }

    /// The rk45 solution (rtol = atol = the reference tolerance) from the path's starting state to
    /// its last grid time, then x̂_0, as every ODE sampler on the path ends. A one-step path
    /// (which has no last time of its own) is measured against the ends of the two-step grid.
    private mutating func reference(for path: SamplingPath) throws -> Matrix {
        var end = path.times.last!
        if path.steps == 1, let two = try? SamplingPath.make(grid, schedule: schedule, steps: 2) { end = two.times.last! }
        let first = path.times[0]
        let key = [first, end]
        if let known = references[key] { return known }
        let ends = try SamplingPath(schedule: schedule, times: end < first ? [first, end] : [first])
        let solver = RK45Sampler(relativeTolerance: configuration.referenceTolerance,
                                 absoluteTolerance: configuration.referenceTolerance)
        let (solution, _) = try draw(solver, path: ends, share: 0.8..<1)
        references[key] = solution
        return solution
    }
}
