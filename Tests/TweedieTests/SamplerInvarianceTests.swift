import Foundation
import Testing
import Tweedie

/// A 3-component, 3-D mixture with full Λ_k and a correlated Σ (built here from a seeded generator).
func samplerTestMixture(seed: UInt64 = 11) throws -> (model: MixtureModel, means: [[Double]], covariances: [DenseMatrix], sigma: DenseMatrix) {
    var rng = TestRandom(seed: seed)
    let d = 3, k = 3
    let means = (0..<k).map { _ in rng.normals(d).map { 1.5 * $0 } }
    let covariances = (0..<k).map { _ in DenseMatrix(rng.spd(d, shift: 0.2)) }
    let sigma = DenseMatrix([[1.0, 0.6, 0.3], [0.6, 1.2, -0.4], [0.3, -0.4, 0.9]])
    let prior = try GaussianMixture(weights: [0.25, 0.45, 0.3], means: Matrix(means),
                                    covariances: .full(covariances.map(\.matrix)))
    let model = try MixtureModel(prior: prior, noise: NoiseCovariance(.full(sigma.matrix), dimension: d))
    return (model, means, covariances, sigma)
}

/// Every sampler of the library with a label, stochastic ones included.
let samplerTestAllSamplers: [(String, any Sampler)] = [
    ("euler", EulerSampler()),
    ("heun", HeunSampler()),
    ("heun churn", HeunSampler(churn: 30, churnMinimum: 0.05, churnMaximum: 50)),
    ("dpmpp-2m", DPMSolverPlusPlus2MSampler()),
    ("ddim η=0", DDIMSampler(eta: 0)),
    ("ddim η=0.5", DDIMSampler(eta: 0.5)),
    ("ddpm β̃", DDPMSampler(variance: .posterior)),
    ("ddpm β", DDPMSampler(variance: .forward)),
    ("dpmpp-2m-sde", DPMSolverPlusPlus2MSDESampler()),
    ("euler-maruyama", EulerMaruyamaSampler()),
    ("pc", PredictorCorrectorSampler()),
    ("exact", ExactSampler()),
    ("rk45", RK45Sampler()),
]

@Suite(.serialized) struct SamplerInvarianceTests {
    /// (4) Correlated Σ = L Lᵀ against the same run in whitened coordinates y = L⁻¹x (μ → L⁻¹μ,
    /// Λ → L⁻¹ΛL⁻ᵀ, Σ → I), same starting normals and the same keyed noise: L y_out = x_out.
    /// Every sampler to 1e-10 relative, except rk45, whose error control measures x̃ (not L⁻¹x̃)
    /// and so takes different adaptive steps: it agrees to its tolerance (1e-5) instead.
    @Test(arguments: [("vp-linear", GridKind.logSNR), ("edm", .karras)])
    func correlatedNoiseEqualsTheWhitenedRun(scheduleName: String, grid: GridKind) throws {
        let (model, means, covariances, sigma) = try samplerTestMixture()
        let l = sigma.cholesky, lInverse = l.inverse
        let whitenedPrior = try GaussianMixture(
            weights: model.prior.weights, means: Matrix(means.map { lInverse.apply($0) }),
            covariances: .full(covariances.map { lInverse.mul($0).mul(lInverse.transposed).symmetrized.matrix }))
        let whitened = try MixtureModel(prior: whitenedPrior)
        let (oracle, whitenedOracle) = (try Oracle(model), try Oracle(whitened))
        let schedule = try Schedule.named(scheduleName)
        let path = try SamplingPath.make(grid, schedule: schedule, steps: 10)
        let stream = NoiseStream(seed: 404)
        var rng = TestRandom(seed: 405)
        let z = rng.matrix(16, 3)
        let x = try initialState(count: 16, model: oracle, path: path, noise: stream, standardNormals: z)
        let y = try initialState(count: 16, model: whitenedOracle, path: path, noise: stream, standardNormals: z)
        for r in 0..<16 { #expect(samplerRelativeError(l.apply(y.row(r)), x.row(r)) <= 1e-13) }
        for (name, sampler) in samplerTestAllSamplers {
            let out = try sampler.sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
            let whitenedOut = try sampler.sample(y, model: whitenedOracle, path: path, noise: stream, firstSample: 0,
                                                 monitor: SamplingMonitor())
            var worst = 0.0
            for r in 0..<16 { worst = max(worst, samplerRelativeError(l.apply(whitenedOut.row(r)), out.row(r))) }
            let tolerance = name == "rk45" ? 1e-4 : 1e-10
            #expect(worst <= tolerance, "\(name) on \(scheduleName): correlated vs whitened \(worst)")
        }
    }

    /// (5) Sample i is the same, bit for bit, in a batch of 1, 7, 64 or 100 at any offset, and with
    /// 1 or 2 threads: starting state and output.
    @Test func samplesDoNotDependOnTheirBatchOrTheThreadCount() throws {
        let (model, _, _, _) = try samplerTestMixture()
        let oracle = try Oracle(model)
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 6)
        let stream = NoiseStream(seed: 777)
        let saved = Parallel.maximumThreads
        defer { Parallel.maximumThreads = saved }
        Parallel.maximumThreads = 2
        let fullStart = try initialState(count: 100, model: oracle, path: path, noise: stream)
        let batches = [(37, 1), (10, 7), (36, 64), (0, 100)]
        for (name, sampler) in samplerTestAllSamplers {
            Parallel.maximumThreads = 2
            let full = try sampler.sample(fullStart, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
            for threads in [1, 2] {
                Parallel.maximumThreads = threads
                for (first, count) in batches {
                    let start = try initialState(count: count, model: oracle, path: path, noise: stream, firstSample: first)
                    let out = try sampler.sample(start, model: oracle, path: path, noise: stream, firstSample: first,
                                                 monitor: SamplingMonitor())
                    var sameStart = true, sameOut = true
                    for r in 0..<count {
                        sameStart = sameStart && start.row(r) == fullStart.row(first + r)
                        sameOut = sameOut && out.row(r) == full.row(first + r)
                    }
                    #expect(sameStart && sameOut, "\(name): samples \(first)..<\(first + count) with \(threads) thread(s)")
                }
            }
            // Different samples do differ (the keyed noise is not shared).
            #expect(full.row(0) != full.row(1))
        }
    }
}
