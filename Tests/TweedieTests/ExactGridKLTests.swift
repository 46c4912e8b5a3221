import Foundation
import Testing
@testable import Tweedie
@testable import TweedieEvaluation

/// ``ExactGridKL`` and ``OptimalGrid`` (docs/math.md §12.5): the per-mode recurrences against the
/// real samplers run through the oracle, the gradient against finite differences, the optimum
/// against every published grid.
@Suite struct ExactGridKLTests {
    /// p_0 = N(μ, Λ) in D = 5 under a correlated Σ, Λ and Σ random (synthetic).
    static let model: MixtureModel = {
        var random = TestRandom(seed: 5)
        let prior = try! GaussianMixture(weights: [1], means: Matrix([random.normals(5).map { 2 * $0 }]),
                                         covariances: .full([random.spd(5, shift: 0.05)]))
        let noise = try! NoiseCovariance(.full(random.spd(5, shift: 0.5)), dimension: 5)
        return try! MixtureModel(prior: prior, noise: noise)
    }()

    /// The KL of each supported sampler equals the dense Gaussian KL of the output law probed from
    /// the real sampler code through the exact oracle (§12.4, §4.4): an independent route.
    @Test(arguments: ["euler", "ddim", "heun", "dpmpp-2m"], [2, 3, 7])
    func klEqualsTheRealSamplersOutputLaw(sampler: String, steps: Int) throws {
        let configuration = try SamplerConfiguration(parsing: sampler)
        let method = try #require(ExactGridKL.Method(configuration))
        let schedule = try Schedule.named("edm")
        let path = try configuration.path(schedule: schedule, grid: .karras, steps: steps)
        let law = try GaussianOutputLaw(model: Self.model, sampler: configuration.makeSampler(), path: path)
        let dense = try GaussianKL.divergence(mean: law.mean, covariance: law.covariance,
                                              referenceMean: law.targetMean, referenceCovariance: law.targetCovariance)
        let levels = (0..<path.steps).map { path.scaledSigma($0) }
        let kl = try ExactGridKL(model: Self.model, method: method).divergence(levels: levels)
        #expect(abs(kl - dense) <= 1e-7 * dense, "\(sampler) \(steps): \(kl) vs dense \(dense)")
    }

    /// Samplers whose output is not an affine map of the start alone are refused.
    @Test func stochasticSamplersAreRefused() throws {
        for text in ["ddim:eta=1", "ddpm", "heun:s-churn=2", "euler-maruyama", "rk45", "dpmpp-2m-sde"] {
            #expect(ExactGridKL.Method(try SamplerConfiguration(parsing: text)) == nil, "\(text)")
        }
    }

    /// ∂KL/∂σ̃_i from the dual numbers against central differences (step 10⁻⁶ σ̃_i).
    @Test(arguments: ExactGridKL.Method.allCases)
    func gradientMatchesFiniteDifferences(method: ExactGridKL.Method) throws {
        let objective = try ExactGridKL(model: Self.model, method: method)
        let levels = PublishedGrid.karras.levels(count: 6, sigmaMax: 80, sigmaMin: 0.002)
        let (kl, gradient) = try objective.divergenceAndGradient(levels: levels)
        #expect(abs(kl - (try objective.divergence(levels: levels))) <= 1e-14 * kl)
        for i in levels.indices {
            let h = 1e-6 * levels[i]
            var up = levels, down = levels
            up[i] += h
            down[i] -= h
            let difference = (try objective.divergence(levels: up) - objective.divergence(levels: down)) / (2 * h)
            let scale = max(abs(gradient[i]), 1e-8 * kl / levels[i])
            #expect(abs(difference - gradient[i]) <= 1e-5 * scale, "σ̃[\(i)]: \(gradient[i]) vs \(difference)")
        }
    }

    /// The chain rule to θ (the softmax parametrization) against central differences.
    @Test func parameterGradientMatchesFiniteDifferences() throws {
        let objective = try ExactGridKL(model: Self.model, method: .heun)
        let map = GridParameters(count: 5, sigmaMax: 80, sigmaMin: 0.002)
        let theta = [0.3, -0.2, 0.5, 0.1, -1.5]
        let levels = map.levels(theta)
        let gradient = map.pullBack(try objective.divergenceAndGradient(levels: levels).gradient,
                                    levels: levels, theta: theta)
        for j in theta.indices {
            var up = theta, down = theta
            up[j] += 1e-6
            down[j] -= 1e-6
            let difference = (try objective.divergence(levels: map.levels(up))
                              - objective.divergence(levels: map.levels(down))) / 2e-6
            #expect(abs(difference - gradient[j]) <= 1e-5 * max(abs(gradient[j]), 1e-6), "θ[\(j)]")
        }
        let back = map.levels(map.parameters(of: levels))
        #expect(isClose(back, levels, rtol: 1e-12))
    }

    /// The optimum is at least as good as every published grid (AYS too, which it did not start
    /// from), its gradient vanishes, and its levels decrease within [σ̃_min, σ̃_max].
    @Test(arguments: ExactGridKL.Method.allCases)
    func optimumBeatsEveryPublishedGrid(method: ExactGridKL.Method) throws {
        let objective = try ExactGridKL(model: Self.model, method: method)
        let optimum = try OptimalGrid(objective, count: 6, sigmaMax: 80, sigmaMin: 0.002)
        for grid in PublishedGrid.allCases {
            let kl = try objective.divergence(levels: grid.levels(count: 6, sigmaMax: 80, sigmaMin: 0.002))
            #expect(optimum.kl <= kl * (1 + 1e-12), "\(method) \(grid): optimum \(optimum.kl) vs \(kl)")
        }
        #expect(optimum.gradientNorm <= 1e-6 * max(optimum.kl, 1), "\(optimum.levels) kl \(optimum.kl) it \(optimum.iterations) from \(optimum.start)")
        #expect(optimum.levels.first == 80)
        #expect(objective.initializationFloor(sigmaMax: 80) > 0)
        #expect(zip(optimum.levels, optimum.levels.dropFirst()).allSatisfy { $0 > $1 })
        #expect(optimum.levels.last! >= 0.002 * (1 - 1e-12))
        // Holding the last level at σ̃_min: still no worse than the grids with that end, and no
        // better than the free end.
        let held = try OptimalGrid(objective, count: 6, sigmaMax: 80, sigmaMin: 0.002, freeEnd: false)
        // A held end is σ̃_min exactly, and no level falls below it by rounding (a sampler would
        // refuse a time outside edm's range).
        #expect(held.levels.last == 0.002 && held.levels.allSatisfy { $0 >= 0.002 })
        #expect(abs(held.levels.last! - 0.002) <= 1e-12)
        #expect(held.kl >= optimum.kl * (1 - 1e-12))
        for grid in [PublishedGrid.karras, .klOptimal, .uniformLogSNR] {
            let kl = try objective.divergence(levels: grid.levels(count: 6, sigmaMax: 80, sigmaMin: 0.002))
            #expect(held.kl <= kl * (1 + 1e-12), "\(method) \(grid), last level held: \(held.kl) vs \(kl)")
        }
    }

    /// A closed form from outside: for DDIM (Euler) on p_0 = N(0, I) with both ends held, the grid
    /// of least exact KL is Align Your Steps' Gaussian solution `kl_optimal`,
    /// σ̃_i = tan((1 − u_i) atan σ̃_max + u_i atan σ̃_min). Found by the optimiser from Karras and
    /// uniform λ as well, so it is not where it started; off unit variance it is no longer optimal.
    @Test(arguments: [4, 7, 12])
    func klOptimalIsTheExactOptimumForDDIMOnAStandardGaussian(levels: Int) throws {
        let standard = try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([[0.0, 0.0, 0.0]]),
                                                               covariances: .full([Matrix.identity(3)])))
        let objective = try ExactGridKL(model: standard, method: .euler)
        let closedForm = PublishedGrid.klOptimal.levels(count: levels, sigmaMax: 80, sigmaMin: 0.002)
        let optimum = try OptimalGrid(objective, count: levels, sigmaMax: 80, sigmaMin: 0.002, freeEnd: false)
        #expect(isClose(optimum.levels, closedForm, rtol: 1e-5), "\(optimum.levels) vs \(closedForm)")
        let scaled = try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([[0.0, 0.0, 0.0]]),
                                                             covariances: .full([0.25 * Matrix.identity(3)])))
        let other = try ExactGridKL(model: scaled, method: .euler)
        let best = try OptimalGrid(other, count: levels, sigmaMax: 80, sigmaMin: 0.002, freeEnd: false)
        #expect(best.kl < 0.99 * (try other.divergence(levels: closedForm)))
        // … but it is again in units of the data's standard deviation c: c tan(… atan(σ̃/c) …).
        let c = 0.5
        let rescaled = PublishedGrid.klOptimal.levels(count: levels, sigmaMax: 80 / c, sigmaMin: 0.002 / c).map { c * $0 }
        #expect(isClose(best.levels, rescaled, rtol: 1e-5), "\(best.levels) vs \(rescaled)")
    }

    /// The Gaussian fit of a mixture: its covariance by the centred law of total covariance equals
    /// the raw second moment Σ π_k (Λ_k + μ_k μ_kᵀ) − μ μᵀ, for full, diagonal and Dirac components.
    @Test func gaussianFitHasTheMixturesMoments() throws {
        var random = TestRandom(seed: 9)
        let means = random.matrix(3, 4, scale: 2)
        let weights = [0.2, 0.5, 0.3]
        let fulls = (0..<3).map { _ in random.spd(4) }
        for covariances in [ComponentCovariances.full(fulls), .diagonal(Matrix([[1, 2, 3, 4], [0.5, 0.5, 1, 1], [2, 1, 2, 1]])),
                            .dirac] {
            let mixture = try GaussianMixture(weights: weights, means: means, covariances: covariances)
            let mu = mixture.mean
            var raw = Matrix(rows: 4, columns: 4)
            for k in 0..<3 {
                let lambda = mixture.covariance(of: k)
                for i in 0..<4 { for j in 0..<4 { raw[i, j] += weights[k] * (lambda[i, j] + means[k, i] * means[k, j]) } }
            }
            for i in 0..<4 { for j in 0..<4 { raw[i, j] -= mu[i] * mu[j] } }
            #expect(isClose(mixture.covariance, raw, rtol: 1e-12, atol: 1e-12))
            let fit = try mixture.gaussianFit
            #expect(fit.componentCount == 1 && isClose(fit.means.row(0), mu, rtol: 1e-15))
        }
    }

    /// The floor — the exact probability-flow map from N(0, σ̃_max² I) — against the dense Gaussian KL
    /// of its output law N(μ − a∘μ, σ̃_max² diag(a²)), a_j = √(λ_j/(λ_j + σ̃_max²)), for a diagonal Λ;
    /// and a fine Heun grid approaches it from above.
    @Test func initializationFloorIsTheExactFlowsKL() throws {
        let (lambda, mu, s) = ([2.0, 0.5, 0.1], [1.0, -1.0, 0.5], 3.0)
        let model = try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([mu]),
                                                            covariances: .full([Matrix.diagonal(lambda)])))
        let objective = try ExactGridKL(model: model, method: .heun)
        let a = lambda.map { ($0 / ($0 + s * s)).squareRoot() }
        let dense = try GaussianKL.divergence(mean: zip(mu, a).map { $0 - $1 * $0 },
                                              covariance: Matrix.diagonal(a.map { s * s * $0 * $0 }),
                                              referenceMean: mu, referenceCovariance: Matrix.diagonal(lambda))
        let floor = objective.initializationFloor(sigmaMax: s)
        #expect(abs(floor - dense) <= 1e-12 * dense, "\(floor) vs \(dense)")
        let fine = try objective.divergence(levels: PublishedGrid.karras.levels(count: 64, sigmaMax: s, sigmaMin: 1e-5))
        #expect(fine >= floor && fine <= 1.001 * floor, "\(fine) vs floor \(floor)")
    }

    /// One dimension, one step: A = g(σ̃_0), the output is x̂_0 of the start, and the KL has a
    /// closed form; e^ℓ − 1 − ℓ keeps its relative accuracy where ℓ is tiny.
    @Test func oneLevelClosedForm() throws {
        let (gamma, mu, s) = (0.7, 0.4, 3.0)
        let model = try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([[mu]]),
                                                            covariances: .full([Matrix([[gamma]])])))
        let a = gamma / (gamma + s * s)
        let outputVariance = a * a * s * s, outputMean = mu - a * mu
        let expected = 0.5 * (outputVariance / gamma + pow(outputMean - mu, 2) / gamma - 1 - log(outputVariance / gamma))
        for method in ExactGridKL.Method.allCases {
            let kl = try ExactGridKL(model: model, method: method).divergence(levels: [s])
            #expect(abs(kl - expected) <= 1e-13 * expected, "\(method)")
        }
        let tiny = expm1MinusIdentity(1e-9)
        #expect(abs(tiny - (5e-19 + 1e-27 / 6)) <= 1e-15 * 5e-19)
    }

    /// Bad grids and models: one line naming the field.
    @Test func badInputIsNamed() throws {
        let objective = try ExactGridKL(model: Self.model, method: .euler)
        #expect(throws: ArgumentError.self) { try objective.divergence(levels: []) }
        #expect(throws: ArgumentError.self) { try objective.divergence(levels: [1, 2]) }
        #expect(throws: ArgumentError.self) { try objective.divergence(levels: [1, .nan]) }
        #expect(throws: ArgumentError.self) { try OptimalGrid(objective, count: 65, sigmaMax: 80, sigmaMin: 0.002) }
        #expect(throws: ArgumentError.self) { try OptimalGrid(objective, count: 5, sigmaMax: 0.001, sigmaMin: 0.002) }
        #expect(throws: ArgumentError.self) { try ExactGridKL(model: BuiltinModels.ring8(), method: .euler) }
        let singular = try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([[0.0, 0.0]]),
                                                               covariances: .full([Matrix([[1.0, 1.0], [1.0, 1.0]])])))
        #expect(throws: ArgumentError.self) { try ExactGridKL(model: singular, method: .euler) }
    }
}
