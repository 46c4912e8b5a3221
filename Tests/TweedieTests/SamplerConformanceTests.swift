import Foundation
import Testing
@testable import TweedieEvaluation
import Tweedie

/// SamplerConformance (docs/math.md §12.6): its start, its reference law q_ref checked by an independent
/// route (adaptive Runge–Kutta on the probability-flow ODE), the known orders of Euler and Heun, a
/// stochastic sampler read against its floor, and a broken sampler flagged.
@Suite struct SamplerConformanceTests {
    /// N((0.5, −0.3), [[1, 0.3], [0.3, 0.25]]): eigenvalues ≈ 1.1 and 0.15 (synthetic).
    static func prior() throws -> MixtureModel {
        try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([[0.5, -0.3]]),
                                                covariances: .full([Matrix([[1, 0.3], [0.3, 0.25]])])))
    }

    @Test func startHasExactMoments() throws {
        let check = try SamplerConformance(model: Self.prior(), count: 500, seed: 4)
        let (mean, covariance) = SamplerConformance.sampleMoments(check.start)
        #expect(mean.allSatisfy { abs($0) < 1e-14 })
        #expect(zip(covariance.elements, Matrix.identity(2).elements).allSatisfy { abs($0 - $1) < 1e-13 })
    }

    /// An adaptive Dormand–Prince integration of the flow from σ_max to σ_min, then x̂_0, lands on q_ref.
    @Test func referenceIsTheExactFlowThenTheDenoiser() throws {
        let check = try SamplerConformance(model: Self.prior(), count: 64)
        let rk45 = try SamplerConfiguration(parsing: "rk45:rtol=1e-9:atol=1e-9").makeSampler()
        let oracle = try Oracle(check.model)
        let figures = check.figures(try check.output(rk45, steps: 2, oracle: oracle, seed: 0).samples)
        #expect(figures.kl < 1e-12, "KL(rk45 ‖ q_ref) = \(figures.kl)")
        // and q_ref is not p_0: stopping at σ_min = 0.05 leaves a KL the closed form states.
        #expect(figures.klToPrior > 1e-4)
    }

    @Test func eulerAndHeunHaveTheirOrders() throws {
        let check = try SamplerConformance(model: Self.prior(), count: 64)
        let steps = [16, 32, 64, 128]
        let euler = try check.check((try SamplerConfiguration(.euler)).makeSampler(), steps: steps, expectedOrder: 1)
        #expect(euler.deterministic && euler.converges && euler.conforms, "\(euler.verdict)")
        #expect(abs(euler.order - 1) < 0.1, "\(euler.order)")
        let heun = try check.check((try SamplerConfiguration(.heun)).makeSampler(), steps: steps, expectedOrder: 2)
        #expect(heun.converges && heun.conforms && abs(heun.order - 2) < 0.1, "\(heun.verdict)")
        // Euler claimed as second order is converging but not conforming.
        let claimed = try check.check((try SamplerConfiguration(.euler)).makeSampler(), steps: steps, expectedOrder: 2)
        #expect(claimed.converges && !claimed.conforms && claimed.verdict.contains("below the expected 2"))
    }

    @Test func stochasticSamplerReachesItsFloor() throws {
        let check = try SamplerConformance(model: Self.prior(), count: 1000)
        let report = try check.check((try SamplerConfiguration(.eulerMaruyama)).makeSampler(), steps: [8, 16, 32, 64, 128])
        #expect(!report.deterministic && report.noiseFloor > 0)
        #expect(report.converges, "\(report.verdict)")
    }

    /// Euler that stops at σ_min and returns x_{σ_min} instead of x̂_0: a skipped final step.
    struct SkipsFinalStep: Sampler {
        var name: String { "euler-without-final-step" }
        var isDeterministic: Bool { true }
        func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                    firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
            var x = x
            for i in 0..<(path.steps - 1) {
                let (s, next) = (path.scaledSigma(i), path.scaledSigma(i + 1))
                let denoised = try model.denoise(x, at: path.levels[i])
                for k in x.elements.indices { x.elements[k] += (next - s) * (x.elements[k] - denoised.elements[k]) / s }
            }
            return x
        }
    }

    @Test func skippedFinalStepIsFlagged() throws {
        let check = try SamplerConformance(model: Self.prior(), count: 64)
        let report = try check.check(SkipsFinalStep(), steps: [128, 256, 512, 1024, 2048], expectedOrder: 1)
        #expect(!report.converges && report.verdict.hasPrefix("does not converge"), "\(report.verdict) \(report.kl)")
    }

    @Test func mixturesAreNotJudged() throws {
        let check = try SamplerConformance(model: BuiltinModels.ring8(), count: 200)
        let report = try check.check((try SamplerConfiguration(.euler)).makeSampler(), steps: [4, 8])
        #expect(!report.converges && report.order.isNaN && report.verdict.hasPrefix("not judged"))
        #expect(report.kl.allSatisfy(\.isNaN) && report.meanError.allSatisfy(\.isFinite))
    }

    @Test func badSettingsNameTheArgument() throws {
        func argument(_ body: () throws -> Void) -> String? {
            do { try body() } catch let error as ArgumentError { return error.argument } catch { return "other" }
            return nil
        }
        let prior = try Self.prior()
        #expect(argument { _ = try SamplerConformance(model: prior, count: 3) } == "count")
        #expect(argument { _ = try SamplerConformance(model: prior, sigmaMin: 2, sigmaMax: 1) } == "sigma-min")
        let correlated = try MixtureModel(prior: prior.prior, noise: NoiseCovariance(.diagonal([1, 2]), dimension: 2))
        #expect(argument { _ = try SamplerConformance(model: correlated) } == "model")
        let check = try SamplerConformance(model: prior, count: 16)
        let euler = (try SamplerConfiguration(.euler)).makeSampler()
        #expect(argument { _ = try check.check(euler, steps: [8, 4]) } == "steps")
        #expect(argument { _ = try check.check(euler, steps: [8]) } == "steps")
        #expect(argument { _ = try check.check(euler, steps: [4, 8], expectedOrder: -1) } == "order")
    }

    /// The order fit: exact on a power law, NaN with fewer than two points above the floor.
    @Test func orderOfAPowerLaw() {
        let steps = [4, 8, 16, 32]
        let kl = steps.map { 3 * pow(Double($0), -2 * 1.5) }
        #expect(abs(SamplerConformance.order(steps: steps, metric: kl, floor: 0) - 1.5) < 1e-12)
        #expect(SamplerConformance.order(steps: steps, metric: kl, floor: kl[1]).isNaN)
    }
}
