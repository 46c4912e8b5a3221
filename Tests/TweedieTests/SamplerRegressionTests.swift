import Foundation
import Synchronization
import Testing
import Tweedie
@testable import TweedieSamplers

/// A model that records every call's input and level, and forwards to another.
final class SamplerCallRecorder: DenoisingModel, @unchecked Sendable {
    let inner: any DenoisingModel
    private let log = Mutex<[(Matrix, NoiseLevel)]>([])
    init(_ inner: any DenoisingModel) { self.inner = inner }
    var calls: [(Matrix, NoiseLevel)] { log.withLock { $0 } }
    var dimension: Int { inner.dimension }
    var noiseCovariance: NoiseCovariance { inner.noiseCovariance }
    func denoise(_ x: Matrix, at level: NoiseLevel) throws -> Matrix {
        log.withLock { $0.append((x, level)) }
        return try inner.denoise(x, at: level)
    }
}

@Suite struct SamplerRegressionTests {
    /// pc, one interval followed step by step with the sampler's own keyed normals (white box):
    /// Langevin corrector x_c = x + εΣs + √(2ε) L z, ε = 2 (α_t/α_s)² r² ‖z‖²/‖Lᵀs‖² (Song et al.
    /// 2021, Algorithm 5 with 1 − β = (α_t/α_s)² < 1), then the ancestral predictor.
    /// Regression: the signal retention was once (α_s/α_t)² > 1, a larger step than intended.
    @Test(arguments: [0, 3])
    func predictorCorrectorStepByStep(interval: Int) throws {
        let (model, _, _, sigmaMatrix) = try samplerTestMixture()
        let oracle = try Oracle(model)
        let l = sigmaMatrix.cholesky, lInverse = l.inverse
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 6)
        let stream = NoiseStream(seed: 55)
        let x = try initialState(count: 6, model: oracle, path: path, noise: stream)
        let recorder = SamplerCallRecorder(oracle)
        let snr = 0.16
        _ = try PredictorCorrectorSampler(snr: snr).sample(x, model: recorder, path: path, noise: stream, firstSample: 0,
                                                           monitor: SamplingMonitor())
        let calls = recorder.calls
        #expect(calls.count == 2 * 6 - 1)
        let (xt, now) = calls[2 * interval], next = path.levels[interval + 1]
        #expect(calls[2 * interval + 1].1 == now && calls[2 * interval + 2].1 == next)
        let keyed = StepNoise(stream: stream, firstSample: 0, rows: 6, dimension: 3)
        let z = keyed.standard(interval: interval, .corrector), w = keyed.standard(interval: interval, .main)
        let den = try oracle.evaluate(xt, alpha: now.alpha, sigma: now.sigma)
        let retention = pow(now.alpha / next.alpha, 2)
        #expect(retention < 1)
        for r in 0..<6 {
            // Σs from the oracle's score, by the dense Σ.
            let sigmaScore = sigmaMatrix.apply(den.score.row(r))
            let whitenedScore = lInverse.apply(sigmaScore)
            let zNorm = z.row(r).reduce(0) { $0 + $1 * $1 }, sNorm = whitenedScore.reduce(0) { $0 + $1 * $1 }
            let epsilon = 2 * retention * snr * snr * zNorm / sNorm
            let corrected = vectorAdd(vectorAdd(xt.row(r), vectorScale(epsilon, sigmaScore)),
                                      vectorScale((2 * epsilon).squareRoot(), l.apply(z.row(r))))
            #expect(samplerRelativeError(calls[2 * interval + 1].0.row(r), corrected) <= 1e-11, "corrector, row \(r)")
            // Predictor: ancestral step from the corrected point (DDIM η = 1 form).
            let x0 = try oracle.evaluate(Matrix(rows: 1, columns: 3, elements: corrected), alpha: now.alpha, sigma: now.sigma).denoised.row(0)
            let c = ReferenceSamplers.bridgeVariance((now.alpha, now.sigma), (next.alpha, next.sigma))
            let epsilonHat = vectorScale(1 / now.sigma, vectorSub(corrected, vectorScale(now.alpha, x0)))
            let predicted = vectorAdd(vectorAdd(vectorScale(next.alpha, x0), vectorScale((next.sigma * next.sigma - c).squareRoot(), epsilonHat)),
                                      vectorScale(c.squareRoot(), l.apply(w.row(r))))
            #expect(samplerRelativeError(calls[2 * interval + 2].0.row(r), predicted) <= 1e-11, "predictor, row \(r)")
        }
    }

    /// rk45's last step lands on the end point exactly. Regression: u + (end − u) could round to
    /// one ulp above the end, leaving a one-ulp step and a spurious "step size underflow" (seen for
    /// edm runs ending at σ̃ = 0.7193 with tolerance 1e-3). Many end points near σ̃ = 1, where
    /// log σ̃ ≈ 0 makes that rounding likely.
    @Test func rk45ReachesEndPointsNearOne() throws {
        let oracle = try Oracle(BuiltinModels.ring8())
        var failures: [String] = []
        for j in 0..<24 {
            let tMin = 0.5 + 0.0731 * Double(j)
            let path = try SamplingPath.make(.karras, schedule: .edm(), steps: 2, tMin: tMin)
            let x = try initialState(count: 5, model: oracle, path: path, noise: NoiseStream(seed: 1))
            for r in 0..<5 {
                do {
                    _ = try RK45Sampler(relativeTolerance: 1e-3, absoluteTolerance: 1e-3).sample(
                        Matrix(rows: 1, columns: 2, elements: x.row(r)), model: oracle, path: path,
                        noise: NoiseStream(seed: 1), firstSample: r, monitor: SamplingMonitor())
                } catch {
                    failures.append("σ̃_min = \(tMin), sample \(r): \(error)")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// A one-step path is allowed (t_max, then x̂_0). Regression: `make` asked TimeGrid for a
    /// 1-point grid, which it refuses.
    @Test(arguments: GridKind.allCases)
    func oneStepPath(kind: GridKind) throws {
        let schedule: Schedule = [.linspace, .leading, .trailing].contains(kind) ? .ddpm() : .vpLinear()
        let path = try SamplingPath.make(kind, schedule: schedule, steps: 1)
        #expect(path.steps == 1)
        if schedule.discrete == nil {
            let two = try SamplingPath.make(kind, schedule: schedule, steps: 2)
            #expect(path.times[0] == two.times[0])
        }
        let oracle = try Oracle(BuiltinModels.ring8())
        let x = try initialState(count: 3, model: oracle, path: path, noise: NoiseStream(seed: 1))
        let out = try EulerSampler().sample(x, model: oracle, path: path, noise: NoiseStream(seed: 1), firstSample: 0,
                                            monitor: SamplingMonitor())
        #expect(out == (try oracle.denoise(x, at: path.levels[0])))
    }

    @Test func pathsRejectBadGrids() throws {
        #expect(throws: ArgumentError.self) { _ = try SamplingPath(schedule: .vpLinear(), times: []) }
        #expect(throws: ArgumentError.self) { _ = try SamplingPath(schedule: .vpLinear(), times: [0.5, 0.5]) }
        #expect(throws: ArgumentError.self) { _ = try SamplingPath(schedule: .vpLinear(), times: [0.5, 0.0]) }  // σ = 0
        #expect(throws: ArgumentError.self) { _ = try SamplingPath.make(.karras, schedule: .vpLinear(), steps: 0) }
        let oracle = try Oracle(BuiltinModels.ring8())
        let path = try SamplingPath.make(.karras, schedule: .edm(), steps: 4)
        #expect(throws: ArgumentError.self) {
            _ = try initialState(count: 3, model: oracle, path: path, noise: NoiseStream(seed: 1), standardNormals: Matrix(rows: 2, columns: 2))
        }
        // The starting state is σ_{t_0} L z.
        let z = Matrix([[0.3, -1.2], [2.0, 0.1]])
        let x = try initialState(count: 2, model: oracle, path: path, noise: NoiseStream(seed: 1), standardNormals: z)
        #expect(isClose(x.elements, z.elements.map { 80 * $0 }, rtol: 1e-15, atol: 0))
    }
}
