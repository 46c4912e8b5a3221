import ArgumentParser
import Tweedie

/// The options of a sampling run that `sample` and `compare` share: the seed of the noise stream,
/// the batch size (which changes no result) and the directions of the sliced Wasserstein distance.
struct RunOptions: ParsableArguments {
    @Option(help: "Seed of the noise stream: sample i starts from the noise of (seed, i).") var seed: UInt64 = 0
    @Option(name: .customLong("batch-size"), help: """
        Samples per batch (the samples do not depend on it). \
        Default: 4096, fewer above D = 256 (2^20 numbers a batch).
        """)
    var batchSize: Int?
    @Option(help: "Random directions of the sliced Wasserstein distance.")
    var projections: Int = SlicedWasserstein.defaultProjections

    func validate() throws {
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard (1...SlicedWasserstein.maximumProjections).contains(projections) else {
            throw ValidationError("--projections must lie in 1...\(SlicedWasserstein.maximumProjections), "
                                  + "got \(projections)")
        }
    }

    /// `--batch-size`, or the default for points of dimension `d`.
    func batchSize(dimension d: Int) -> Int { batchSize ?? SamplingRun.defaultBatchSize(dimension: d) }
}
