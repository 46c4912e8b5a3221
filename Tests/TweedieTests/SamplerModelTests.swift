import Foundation
import Synchronization
import Testing
import Tweedie

/// A model that counts its calls (independently of ``SamplingMonitor``) and forwards to another.
final class SamplerCallCounter: DenoisingModel, @unchecked Sendable {
    let inner: any DenoisingModel
    private let calls = Mutex(0)
    init(_ inner: any DenoisingModel) { self.inner = inner }
    var count: Int { calls.withLock { $0 } }
    var dimension: Int { inner.dimension }
    var noiseCovariance: NoiseCovariance { inner.noiseCovariance }
    func denoise(_ x: Matrix, at level: NoiseLevel) throws -> Matrix {
        calls.withLock { $0 += 1 }
        return try inner.denoise(x, at: level)
    }
}

@Suite struct SamplerModelTests {
    // MARK: (6) Prediction adapters

    /// Levels on three schedules, with α' and σ' written here from each family's α_t and σ_t.
    static let levels: [(String, NoiseLevel)] = {
        var out: [(String, NoiseLevel)] = []
        for t in [0.02, 0.3, 0.7, 0.97] {
            let b = 0.1 + t * 19.9, alpha = exp(-0.25 * t * t * 19.9 - 0.05 * t), sigma = (1 - alpha * alpha).squareRoot()
            let da = -0.5 * b * alpha
            out.append(("vp-linear t=\(t)", NoiseLevel(t: t, alpha: alpha, sigma: sigma, alphaDerivative: da,
                                                       sigmaDerivative: -alpha * da / sigma)))
        }
        for t in [0.05, 0.5, 0.95] {
            out.append(("flow t=\(t)", NoiseLevel(t: t, alpha: 1 - t, sigma: t, alphaDerivative: -1, sigmaDerivative: 1)))
        }
        for s in [0.01, 1.0, 30.0] {
            out.append(("edm σ=\(s)", NoiseLevel(t: s, alpha: 1, sigma: s, alphaDerivative: 0, sigmaDerivative: 1)))
        }
        return out
    }()

    /// The library's levels carry the same α, σ and derivatives as the ones written here.
    @Test func noiseLevelsCarryTheScheduleDerivatives() throws {
        for (name, level) in Self.levels {
            let schedule: Schedule = name.hasPrefix("vp") ? .vpLinear() : name.hasPrefix("flow") ? .flow : .edm()
            let library = try NoiseLevel(t: try #require(level.t), schedule: schedule)
            #expect(isClose([library.alpha, library.sigma, library.alphaDerivative, library.sigmaDerivative],
                            [level.alpha, level.sigma, level.alphaDerivative, level.sigmaDerivative], rtol: 1e-12, atol: 1e-14),
                    "\(name): \(library) vs \(level)")
        }
    }

    /// PredictionModel wrapping the oracle's own x̂_0, E[z|x_t], score, and v and flow velocity
    /// computed here from their definitions, gives back the oracle's x̂_0.
    @Test(arguments: PredictionType.allCases)
    func adapterRecoversTheOraclesDenoiser(prediction: PredictionType) throws {
        let (model, _, _, sigma) = try samplerTestMixture()
        let oracle = try Oracle(model)
        let l = sigma.cholesky, lInverse = l.inverse
        var rng = TestRandom(seed: 606)
        for (name, level) in Self.levels {
            // Points of the size met at this level: α x_0 + σ L z, |x_0| ~ 2.
            var x = rng.matrix(20, 3, scale: 2 * level.alpha)
            for r in 0..<20 { x.setRow(r, to: vectorAdd(x.row(r), vectorScale(level.sigma, l.apply(rng.normals(3))))) }
            let truth = try oracle.evaluate(x, alpha: level.alpha, sigma: level.sigma)
            let points = x
            let adapter = PredictionModel(dimension: 3, noise: model.noise, predicting: prediction) { input, at in
                #expect(input == points && at == level)
                var out = Matrix(rows: input.rows, columns: 3)
                for r in 0..<input.rows {
                    let x0 = truth.denoised.row(r), z = truth.standardizedNoise.row(r)
                    let row: [Double]
                    switch prediction {
                    case .x0: row = x0
                    case .epsilon: row = z
                    case .score: row = truth.score.row(r)
                    case .v: row = vectorSub(vectorScale(at.alpha, z), vectorScale(at.sigma, lInverse.apply(x0)))
                    case .flowVelocity: row = vectorAdd(vectorScale(at.alphaDerivative, x0), vectorScale(at.sigmaDerivative, l.apply(z)))
                    }
                    out.setRow(r, to: row)
                }
                return out
            }
            let denoised = try adapter.denoise(x, at: level)
            // Rounding of the conversions: x/α is the largest term they carry.
            var worst = 0.0
            for r in 0..<20 {
                let scale = 1 + x.row(r).map { abs($0) }.max()! / level.alpha
                worst = max(worst, maxAbsDifference(denoised.row(r), truth.denoised.row(r)) / scale)
            }
            #expect(worst <= 1e-12, "\(prediction.rawValue) at \(name): \(worst)")
        }
    }

    @Test func adapterRejectsAWronglyShapedOutput() {
        let adapter = PredictionModel(dimension: 2, predicting: .epsilon) { x, _ in Matrix(rows: x.rows, columns: 3) }
        #expect(throws: ArgumentError.self) {
            _ = try adapter.denoise(Matrix(rows: 4, columns: 2), at: NoiseLevel(t: 0.5, alpha: 0.8, sigma: 0.6))
        }
    }

    /// A user's own network as a closure: ε-prediction for p_0 = N(m, s²I) under Σ = I, written by
    /// hand (E[z | x_t] = σ(x − αm)/(α²s² + σ²)), plugs into every sampler and gives the oracle's
    /// run of the same prior (deterministic samplers to 1e-10; stochastic ones with the same keyed
    /// noise, likewise).
    @Test func closureModelPlugsIntoTheSamplers() throws {
        let m = [0.5, -1.0], s2 = 0.3
        let network = PredictionModel(dimension: 2, predicting: .epsilon) { x, level in
            var z = x
            for r in 0..<x.rows {
                for j in 0..<2 {
                    z[r, j] = level.sigma * (x[r, j] - level.alpha * m[j]) / (level.alpha * level.alpha * s2 + level.sigma * level.sigma)
                }
            }
            return z
        }
        let prior = try GaussianMixture(weights: [1], means: Matrix([m]), covariances: .spherical([s2]))
        let oracle = try Oracle(MixtureModel(prior: prior))
        let path = try SamplingPath.make(.karras, schedule: .edm(), steps: 15)
        let stream = NoiseStream(seed: 9)
        let x = try initialState(count: 10, model: network, path: path, noise: stream)
        for (name, sampler) in samplerTestAllSamplers where name != "exact" {
            let a = try sampler.sample(x, model: network, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
            let b = try sampler.sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
            let tolerance = name == "rk45" ? 1e-6 : 1e-10
            #expect(isClose(a, b, rtol: tolerance, atol: tolerance), "\(name): closure vs oracle")
        }
        // `exact` needs the oracle itself.
        #expect(throws: ArgumentError.self) {
            _ = try ExactSampler().sample(x, model: network, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        }
    }

    // MARK: (7) Model calls

    @Test func modelCallCounts() throws {
        let oracle = try Oracle(BuiltinModels.ring8())
        let stream = NoiseStream(seed: 5)
        for (name, sampler) in samplerTestAllSamplers where name != "rk45" {
            for steps in [1, 2, 18] {
                let path = try SamplingPath.make(.karras, schedule: .edm(), steps: steps)
                let x = try initialState(count: 9, model: oracle, path: path, noise: stream)
                let counter = SamplerCallCounter(oracle)
                let monitor = SamplingMonitor()
                let model: any DenoisingModel = name == "exact" ? oracle : counter
                _ = try sampler.sample(x, model: model, path: path, noise: stream, firstSample: 0, monitor: monitor)
                let expected = name.hasPrefix("heun") || name == "pc" ? 2 * steps - 1 : steps
                #expect(monitor.modelCalls == expected, "\(name), \(steps) steps: monitor counted \(monitor.modelCalls), expected \(expected)")
                #expect(monitor.modelCallsPerSample == Double(expected))
                if name != "exact" { #expect(counter.count == expected, "\(name), \(steps) steps: \(counter.count) calls") }
            }
        }
        // The headline numbers.
        let path18 = try SamplingPath.make(.karras, schedule: .edm(), steps: 18)
        let monitor = SamplingMonitor()
        _ = try HeunSampler().sample(try initialState(count: 3, model: oracle, path: path18, noise: stream), model: oracle,
                                     path: path18, noise: stream, firstSample: 0, monitor: monitor)
        #expect(monitor.modelCalls == 35)
    }

    /// rk45 counts one call per stage per sample; the monitor's total equals an independent count
    /// and the per-sample figure is the mean.
    @Test func rk45CountsItsCallsPerSample() throws {
        let oracle = try Oracle(BuiltinModels.ring8())
        let path = try SamplingPath.make(.karras, schedule: .edm(), steps: 5)
        let stream = NoiseStream(seed: 6)
        let x = try initialState(count: 4, model: oracle, path: path, noise: stream)
        let counter = SamplerCallCounter(oracle)
        let monitor = SamplingMonitor()
        _ = try RK45Sampler().sample(x, model: counter, path: path, noise: stream, firstSample: 0, monitor: monitor)
        #expect(monitor.modelCalls == counter.count && counter.count > 4 * 7)
        #expect(abs(monitor.modelCallsPerSample - Double(counter.count) / 4) < 1e-12)
    }

    /// The trajectory holds the state at each grid time and the output; progress is reported per
    /// interval.
    @Test func monitorRecordsTheTrajectory() throws {
        let oracle = try Oracle(BuiltinModels.ring8())
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 7)
        let stream = NoiseStream(seed: 7)
        let x = try initialState(count: 5, model: oracle, path: path, noise: stream)
        for (name, sampler) in samplerTestAllSamplers where name != "rk45" {
            let reports = Mutex<[Int]>([])
            let monitor = SamplingMonitor(recordsTrajectory: true) { done, all in
                #expect(all == 7)
                reports.withLock { $0.append(done) }
            }
            let out = try sampler.sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: monitor)
            #expect(monitor.trajectory.count == 8 && monitor.trajectory.first == x && monitor.trajectory.last == out, "\(name)")
            #expect(reports.withLock { $0 } == Array(0...7), "\(name)")
        }
    }

    // MARK: (8) Equalities between samplers

    /// euler and ddim(η = 0) are the same map written two ways: equal to rounding.
    @Test(arguments: [("vp-linear", GridKind.logSNR), ("edm", .karras), ("flow", .logSNR), ("vp-cosine", .uniform)])
    func eulerEqualsDeterministicDDIM(scheduleName: String, grid: GridKind) throws {
        let oracle = try Oracle(try samplerTestMixture().model)
        let path = try SamplingPath.make(grid, schedule: try Schedule.named(scheduleName), steps: 25)
        let stream = NoiseStream(seed: 8)
        let x = try initialState(count: 50, model: oracle, path: path, noise: stream)
        let euler = try EulerSampler().sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        let ddim = try DDIMSampler(eta: 0).sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        #expect(isClose(euler, ddim, rtol: 1e-12, atol: 1e-12), "max difference \(maxAbsDifference(euler.elements, ddim.elements))")
    }

    /// ddim(η = 1) is ancestral sampling with β̃: the same samples as ddpm with the same keyed noise.
    @Test func ddimWithEtaOneEqualsDDPM() throws {
        let oracle = try Oracle(try samplerTestMixture().model)
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 25)
        let stream = NoiseStream(seed: 10)
        let x = try initialState(count: 50, model: oracle, path: path, noise: stream)
        let ddim = try DDIMSampler(eta: 1).sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        let ddpm = try DDPMSampler().sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        #expect(isClose(ddim, ddpm, rtol: 1e-10, atol: 1e-10), "max difference \(maxAbsDifference(ddim.elements, ddpm.elements))")
    }
}
