import Foundation
import Testing
@testable import Tweedie
@testable import TweedieEvaluation

/// ``GaussianOutputLaw``: the exact output law of a deterministic linear sampler for one Gaussian
/// component, and the Gaussian W₂ it is measured with.
@Suite struct MetricsOutputLawTests {
    /// p_0 = N(μ, Λ) in D = 2 with correlated Λ, under correlated forward noise Σ.
    static let model: MixtureModel = {
        let prior = try! GaussianMixture(weights: [1], means: Matrix([[1.0, -0.5]]),
                                         covariances: .full([Matrix([[1.0, 0.6], [0.6, 0.5]])]))
        let noise = try! NoiseCovariance(.full(Matrix([[1.0, -0.4], [-0.4, 0.7]])), dimension: 2)
        return try! MixtureModel(prior: prior, noise: noise)
    }()

    static func rotation(_ angle: Double) -> Matrix {
        Matrix([[cos(angle), -sin(angle)], [sin(angle), cos(angle)]])
    }

    // MARK: Gaussian W₂

    /// Commuting covariances S_i = U diag(a_i) Uᵀ: W₂² = ‖m₁ − m₂‖² + Σ_j (√a_1j − √a_2j)²; a
    /// distance to itself is 0; W₂ is symmetric for non-commuting covariances.
    @Test func gaussianWassersteinClosedForms() throws {
        let u = Self.rotation(0.7)
        func rotated(_ values: [Double]) -> Matrix {
            BLAS.product(BLAS.product(u, .diagonal(values)), .none, u, .transpose)
        }
        let (a, b) = ([2.0, 0.3], [0.5, 1.2])
        let (m1, m2) = ([1.0, 2.0], [-0.5, 2.5])
        let expected = (pow(1.5, 2) + pow(0.5, 2) + pow(2.0.squareRoot() - 0.5.squareRoot(), 2)
            + pow(0.3.squareRoot() - 1.2.squareRoot(), 2)).squareRoot()
        let w = try gaussianWasserstein2(mean: m1, covariance: rotated(a), mean: m2, covariance: rotated(b))
        #expect(abs(w - expected) < 1e-12, "\(w) vs \(expected)")
        #expect(try gaussianWasserstein2(mean: m1, covariance: rotated(a), mean: m1, covariance: rotated(a)) < 1e-7)
        let other = Matrix([[1.0, 0.9], [0.9, 1.0]])
        let forward = try gaussianWasserstein2(mean: m1, covariance: rotated(a), mean: m2, covariance: other)
        let backward = try gaussianWasserstein2(mean: m2, covariance: other, mean: m1, covariance: rotated(a))
        #expect(abs(forward - backward) < 1e-12)
        // A singular covariance (a point mass) against N(0, I) in D = 2: W₂² = tr I = 2.
        let point = try gaussianWasserstein2(mean: [0, 0], covariance: Matrix(rows: 2, columns: 2),
                                             mean: [0, 0], covariance: .identity(2))
        #expect(abs(point - 2.0.squareRoot()) < 1e-12)
    }

    // MARK: The output law

    /// The law of euler, heun and dpmpp-2m (6 log-SNR steps of vp-linear) on the 2-D Gaussian:
    /// (1) each Monte Carlo output equals A x + c for its own starting point (1e-9): the map is
    /// affine; (2) over n = 20000 runs from x ~ N(0, σ²Σ) the sample mean is within 5 standard
    /// errors of c and each covariance entry within 5 standard errors √((S_ii S_jj + S_ij²)/n) of
    /// σ²AΣAᵀ.
    @Test(arguments: ["euler", "heun", "dpmpp-2m"])
    func outputLawMatchesMonteCarlo(_ name: String) throws {
        let sampler: any Sampler = switch name {
        case "euler": EulerSampler()
        case "heun": HeunSampler()
        default: DPMSolverPlusPlus2MSampler()
        }
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 6)
        let law = try GaussianOutputLaw(model: Self.model, sampler: sampler, path: path)
        let oracle = try Oracle(Self.model)
        let n = 20_000
        let noise = NoiseStream(seed: 17)
        let start = try initialState(count: n, model: oracle, path: path, noise: noise)
        let out = try sampler.sample(start, model: oracle, path: path, noise: noise, firstSample: 0,
                                     monitor: SamplingMonitor())
        var worst = 0.0
        for r in 0..<n {
            for i in 0..<2 {
                let predicted = law.mean[i] + law.transform[i, 0] * start[r, 0] + law.transform[i, 1] * start[r, 1]
                worst = max(worst, abs(out[r, i] - predicted) / (1 + abs(predicted)))
            }
        }
        #expect(worst < 1e-9, "\(name): affine map off by \(worst)")

        let mean = (0..<2).map { i in (0..<n).reduce(0.0) { $0 + out[$1, i] } / Double(n) }
        var covariance = Matrix(rows: 2, columns: 2)
        for r in 0..<n { for i in 0..<2 { for j in 0..<2 { covariance[i, j] += (out[r, i] - mean[i]) * (out[r, j] - mean[j]) } } }
        for i in 0..<4 { covariance.elements[i] /= Double(n - 1) }
        let s = law.covariance
        for i in 0..<2 {
            let standardError = (s[i, i] / Double(n)).squareRoot()
            #expect(abs(mean[i] - law.mean[i]) < 5 * standardError, "\(name) mean \(i): \(mean[i]) vs \(law.mean[i])")
            for j in 0..<2 {
                let entryError = ((s[i, i] * s[j, j] + s[i, j] * s[i, j]) / Double(n)).squareRoot()
                #expect(abs(covariance[i, j] - s[i, j]) < 5 * entryError,
                        "\(name) covariance (\(i), \(j)): \(covariance[i, j]) vs \(s[i, j])")
            }
        }
        print("\(name) 6 steps: W2 = \(try law.wasserstein2)")
    }

    /// Discretization error shrinks with steps: W₂ of euler at 4 steps > at 16 > at 64, and heun
    /// at 64 steps is far below euler at 64; ddim η = 0 has euler's law (it is the same map).
    @Test func exactW2ShrinksWithSteps() throws {
        func w2(_ sampler: any Sampler, _ steps: Int) throws -> Double {
            let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: steps)
            return try GaussianOutputLaw(model: Self.model, sampler: sampler, path: path).wasserstein2
        }
        let euler = try [4, 16, 64].map { try w2(EulerSampler(), $0) }
        let heun = try w2(HeunSampler(), 64), dpm = try w2(DPMSolverPlusPlus2MSampler(), 64)
        print("euler W2 at 4/16/64 steps \(euler); heun 64 \(heun); dpmpp-2m 64 \(dpm)")
        #expect(euler[0] > euler[1] && euler[1] > euler[2] && euler[2] > 0)
        #expect(heun < euler[2] / 5 && dpm < euler[2] / 5)
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 8)
        let eulerLaw = try GaussianOutputLaw(model: Self.model, sampler: EulerSampler(), path: path)
        let ddimLaw = try GaussianOutputLaw(model: Self.model, sampler: DDIMSampler(eta: 0), path: path)
        #expect(maxAbsDifference(eulerLaw.covariance.elements, ddimLaw.covariance.elements) < 1e-12)
        #expect(maxAbsDifference(eulerLaw.mean, ddimLaw.mean) < 1e-12)
        let measurement = try eulerLaw.measurement
        #expect(measurement.name == "exact_w2" && measurement.noiseFloor == nil)
    }

    /// Samplers with Gaussian steps: the propagated law against 200 000 samples of the sampler, mean
    /// and covariance within Monte Carlo error (correlated Λ and Σ).
    @Test(arguments: ["ddpm", "ddpm:variance=beta", "ddim:eta=0.7", "euler-maruyama"])
    func stochasticOutputLawMatchesSamples(_ name: String) throws {
        let sampler = try SamplerConfiguration(parsing: name).makeSampler()
        let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: 6)
        let law = try GaussianOutputLaw(model: Self.model, sampler: sampler, path: path)
        let n = 200_000
        let x = try sampler.run(count: n, model: Oracle(Self.model), path: path, noise: NoiseStream(seed: 8), batchSize: 4096).samples
        let d = 2
        let mean = (0..<d).map { i in (0..<n).reduce(0.0) { $0 + x[$1, i] } / Double(n) }
        for i in 0..<d {
            #expect(abs(mean[i] - law.mean[i]) <= 4.5 * (law.covariance[i, i] / Double(n)).squareRoot(), "\(name) mean \(i)")
            for j in 0...i {
                let c = (0..<n).reduce(0.0) { $0 + (x[$1, i] - mean[i]) * (x[$1, j] - mean[j]) } / Double(n - 1)
                let se = ((law.covariance[i, i] * law.covariance[j, j] + law.covariance[i, j] * law.covariance[i, j]) / Double(n)).squareRoot()
                #expect(abs(c - law.covariance[i, j]) <= 4.5 * se, "\(name) covariance (\(i), \(j)): \(c) vs \(law.covariance[i, j])")
            }
        }
    }

    /// The error budget's closed forms against the sampler's own convergence: as heun's steps double,
    /// the gap between the run's W2 and the exact flow's (initialization + truncation), and between the
    /// W2 from the exact start and the truncation alone, both shrink like heun's h² (a wrong flow or
    /// truncation formula would leave a gap that does not shrink).
    @Test func errorBudgetMatchesAConvergingSampler() throws {
        var gaps: [(Double, Double)] = []
        for steps in [50, 100, 200] {
            let budget = try GaussianErrorBudget(model: Self.model, sampler: HeunSampler(),
                                                 path: try SamplingPath.make(.karras, schedule: .named("edm"), steps: steps))
            gaps.append((abs(budget.total - budget.withoutDiscretization), abs(budget.withoutInitialization - budget.truncation)))
            #expect(budget.truncation > 0 && budget.truncation < budget.total)
        }
        for k in 1..<gaps.count {
            #expect(gaps[k].0 < 0.4 * gaps[k - 1].0, "\(gaps)")
            #expect(gaps[k].1 < 0.4 * gaps[k - 1].1, "\(gaps)")
        }
        let coarse = try GaussianErrorBudget(model: Self.model, sampler: EulerSampler(),
                                             path: try SamplingPath.make(.karras, schedule: .named("edm"), steps: 8))
        #expect(coarse.total > 10 * coarse.withoutDiscretization)
    }

    /// Stochastic or non-linear samplers and mixtures of several components are refused.
    @Test func refusesWhatIsNotAnAffineMap() throws {
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 4)
        for sampler: any Sampler in [RK45Sampler(), HeunSampler(churn: 10), ExactSampler(), PredictorCorrectorSampler(),
                                     DPMSolverPlusPlus2MSDESampler()] {
            #expect(throws: ArgumentError.self) { try GaussianOutputLaw(model: Self.model, sampler: sampler, path: path) }
        }
        #expect(throws: ArgumentError.self) {
            try GaussianOutputLaw(model: BuiltinModels.ring8(), sampler: EulerSampler(), path: path)
        }
    }
}
