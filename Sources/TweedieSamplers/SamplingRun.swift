import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

/// Samples drawn in batches by
/// ``Sampler/run(count:model:path:noise:batchSize:standardNormals:recordsTrajectory:progress:)``,
/// with what the run cost.
public struct SamplingRun: Sendable {
    /// The samples, C×D (0×D when the run was asked not to keep them).
    public var samples: Matrix
    /// Model calls per sample, averaged over the batches.
    public var modelCallsPerSample: Double
    /// Calls to the model in all batches together.
    public var batchedModelCalls: Int
    public var batchCount: Int
    /// With `recordsTrajectory`: the state of every sample at each recorded step (C×D each), the
    /// samples last; rk45 records only its start and end.
    public var trajectory: [Matrix]

    /// The batch size when none is given: 4096 samples, fewer above D = 256 so that a batch holds
    /// at most 2^20 numbers (8 MiB a state). A model call on a few hundred 2-D points costs more in
    /// its fixed part (a thread hand-off, allocations) than in arithmetic; thousands amortize it.
    /// The samples do not depend on the batch size.
    public static func defaultBatchSize(dimension: Int) -> Int {
        max(256, min(4096, (1 << 20) / max(dimension, 1)))
    }
}

extension Sampler {
    /// Draws `count` samples in batches of `batchSize`. Sample i starts from σ_{t_0} R z_i, with
    /// z_i from the noise stream or row i of `standardNormals` (C×D), and uses only the noise of
    /// (seed, i), so the result is the same, bit for bit, whatever the batch size. `progress` is
    /// called with (batch, batches, intervals done in the batch, intervals in all). Without
    /// `batchSize`, batches are ``SamplingRun/defaultBatchSize(dimension:)`` samples.
    ///
    /// `onBatch` receives each batch's samples in order (rows `range` of the result), e.g. to write
    /// them to a file as they come; with `keepsSamples` false the run keeps none of them, so its
    /// memory does not grow with `count`.
    public func run(count: Int, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                    batchSize: Int? = nil, standardNormals: Matrix? = nil, recordsTrajectory: Bool = false,
                    keepsSamples: Bool = true,
                    onBatch: ((_ range: Range<Int>, _ samples: Matrix) throws -> Void)? = nil,
                    progress: (@Sendable (Int, Int, Int, Int) -> Void)? = nil) throws -> SamplingRun {
        try validateOptions()
        guard count >= 0 else { throw ArgumentError("count", "must be non-negative, got \(count)") }
        let d = model.dimension
        let requestedBatchSize = batchSize ?? SamplingRun.defaultBatchSize(dimension: d)
        guard requestedBatchSize >= 1 else {
            throw ArgumentError("batch-size", "must be at least 1, got \(requestedBatchSize)")
        }
        if keepsSamples {
            try MemoryBudget.require("count", "\(count) samples × D = \(d)", elements: [count, d])
        }
        if recordsTrajectory {
            try MemoryBudget.require("count",
                                     "a trajectory of \(path.times.count) states × \(count) samples × D = \(d)",
                                     elements: [path.times.count, count, d])
        }
        if let standardNormals, standardNormals.rows != count || standardNormals.columns != d {
            throw ArgumentError("init", "the starting noise is \(standardNormals.rows)×\(standardNormals.columns), "
                                + "expected \(count)×\(d)")
        }
        let batchSize = min(requestedBatchSize, max(count, 1))  // no overflow in the batch bounds below
        let batches = stride(from: 0, to: count, by: batchSize).map { $0..<min(count, $0 + batchSize) }
        var run = SamplingRun(samples: Matrix(rows: keepsSamples ? count : 0, columns: d), modelCallsPerSample: 0,
                              batchedModelCalls: 0, batchCount: batches.count, trajectory: [])
        for (index, rows) in batches.enumerated() {
            let report = progress.map { report in
                { @Sendable (done: Int, all: Int) in report(index, batches.count, done, all) }
            }
            let monitor = SamplingMonitor(recordsTrajectory: recordsTrajectory, progress: report)
            let z = standardNormals.map {
                Matrix(rows: rows.count, columns: d,
                       elements: Array($0.elements[(rows.lowerBound * d)..<(rows.upperBound * d)]))
            }
            let x = try initialState(count: rows.count, model: model, path: path, noise: noise,
                                     firstSample: rows.lowerBound, standardNormals: z)
            let result = try sample(x, model: model, path: path, noise: noise, firstSample: rows.lowerBound,
                                    monitor: monitor)
            try onBatch?(rows, result)
            if keepsSamples {
                run.samples.elements.replaceSubrange((rows.lowerBound * d)..<(rows.upperBound * d),
                                                     with: result.elements)
            }
            run.batchedModelCalls += monitor.modelCalls
            run.modelCallsPerSample += monitor.modelCallsPerSample * Double(rows.count) / Double(count)
            if recordsTrajectory {
                if index == 0 {
                    run.trajectory = [Matrix](repeating: Matrix(rows: count, columns: d),
                                              count: monitor.trajectory.count)
                }
                for (frame, state) in zip(run.trajectory.indices, monitor.trajectory) {
                    run.trajectory[frame].elements.replaceSubrange((rows.lowerBound * d)..<(rows.upperBound * d),
                                                                   with: state.elements)
                }
            }
        }
        return run
    }
}
