import Foundation
import Testing
@testable import Tweedie

/// `Sampler.run`: batches keyed by sample index give the same samples and trajectory whatever the
/// batch size, and given standard normals reproduce a single call.
@Suite struct SamplingRunTests {
    @Test(arguments: ["ddpm", "heun"])
    func batchSizeDoesNotChangeTheRun(_ name: String) throws {
        let oracle = try Oracle(BuiltinModels.ring8())
        let path = try SamplingPath.make(.karras, schedule: .vpLinear(), steps: 6)
        let sampler: any Sampler = name == "ddpm" ? DDPMSampler() : HeunSampler(churn: 5)
        let noise = NoiseStream(seed: 4)
        let whole = try sampler.run(count: 40, model: oracle, path: path, noise: noise, batchSize: 40, recordsTrajectory: true)
        let pieces = try sampler.run(count: 40, model: oracle, path: path, noise: noise, batchSize: 7, recordsTrajectory: true)
        #expect(whole.samples == pieces.samples)
        #expect(whole.trajectory == pieces.trajectory)
        #expect(whole.trajectory.count == path.steps + 1)
        #expect(pieces.batchCount == 6 && whole.batchCount == 1)
        #expect(whole.modelCallsPerSample == pieces.modelCallsPerSample)

        let z = NoiseStream(seed: 9)
        var normals = Matrix(rows: 40, columns: 2)
        for i in 0..<40 { normals.setRow(i, to: z.normals(sample: i, step: 0, count: 2)) }
        let given = try sampler.run(count: 40, model: oracle, path: path, noise: noise, batchSize: 16, standardNormals: normals)
        let start = try initialState(count: 40, model: oracle, path: path, noise: noise, standardNormals: normals)
        let direct = try sampler.sample(start, model: oracle, path: path, noise: noise, firstSample: 0, monitor: SamplingMonitor())
        #expect(given.samples == direct)
    }
}
