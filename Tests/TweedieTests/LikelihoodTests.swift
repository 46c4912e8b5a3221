import Foundation
import Testing
@testable import Tweedie

/// The probability-flow likelihood (docs/math.md §5) against the exact densities of the oracle and of
/// ``PriorDensity``.
///
/// What the ODE computes: the flow from t_min to t_max transports p_{t_min} to p_{t_max} exactly,
/// so with the exact marginal as prior the result is log p_{t_min}(x_0) up to integration error
/// alone (checked to 1e-6 nats). It differs from log p_0(x_0) by the smoothing of p_0 at σ_{t_min},
/// of order σ² tr(Σ Λ_k⁻¹): the tests against log p_0 start where that gap is below 1e-5 nats
/// (checked with the oracle), leaving 1e-4 nats to the ODE.
@Suite struct LikelihoodTests {
    /// ring8's components with a correlated Σ (so that Σ enters the velocity and the divergence).
    static func ring8Correlated() -> MixtureModel {
        let noise = try! NoiseCovariance(.full(Matrix([[1, 0.6], [0.6, 0.8]])), dimension: 2)
        return try! MixtureModel(prior: BuiltinModels.ring8().prior, noise: noise, name: "ring8-correlated")
    }

    static func model(_ name: String) -> MixtureModel {
        name == "chain16" ? BuiltinModels.chain16() : ring8Correlated()
    }

    /// Exact samples of p_0, plus for ring8 a point between two modes.
    static func points(_ model: MixtureModel) throws -> Matrix {
        var x = try model.prior.sample(count: 3, seed: 5).points
        if model.dimension == 2 { x = Matrix((0..<x.rows).map { x.row($0) } + [[3.4, 1.2]]) }
        return x
    }

    /// With the exact marginal prior the ODE returns log p_{t_min}(x_0): on every schedule family
    /// (default times, so t_max < 1 for flow and vp-cosine), to 1e-6 nats at rtol = atol = 1e-9.
    @Test(arguments: ["vp-linear", "vp-cosine", "ve", "edm", "flow"])
    func marginalPriorGivesTheDensityAtTheStartTime(schedule name: String) throws {
        let model = Self.ring8Correlated()
        let oracle = try Oracle(model)
        let schedule = try Schedule.named(name)
        let likelihood = try ProbabilityFlowLikelihood(oracle: oracle, schedule: schedule,
                                                       relativeTolerance: 1e-9, absoluteTolerance: 1e-9)
        let x = try Self.points(model)
        let results = try likelihood.logLikelihood(x)
        let exact = try oracle.evaluate(x, at: likelihood.startTime, schedule: schedule).logDensity
        for (r, e) in zip(results, exact) {
            #expect(abs(r.logLikelihood - e) <= 1e-6, "\(name): ODE \(r.logLikelihood), log p_t_min \(e)")
            #expect(r.standardError == 0)
            #expect(r.functionEvaluations > 0 && r.functionEvaluations == 1 + 6 * (r.acceptedSteps + r.rejectedSteps) + 1)
        }
    }

    /// Against the analytic log p_0: 2-D (correlated Σ, full Λ_k) and 48-D chain16 (Kronecker Σ,
    /// full 48×48 Λ_k), starting at σ_{t_min} ≤ 1e-4 where the gap log p_{t_min} − log p_0 is
    /// below 1e-5 nats.
    @Test(arguments: [("ring8", "vp-linear", 1e-8), ("ring8", "edm:sigma_min=1e-5", 1e-5),
                      ("chain16", "vp-linear", 1e-9), ("chain16", "edm:sigma_min=1e-5", 1e-5)])
    func matchesTheAnalyticLogDensityOfTheData(model name: String, schedule specification: String, startTime: Double) throws {
        let model = Self.model(name)
        let oracle = try Oracle(model)
        let schedule = try Schedule.named(specification)
        let x = try Self.points(model)
        let analytic = try PriorDensity(model.prior).logDensity(x)
        let atStart = try oracle.evaluate(x, at: startTime, schedule: schedule).logDensity
        for (a, s) in zip(analytic, atStart) { #expect(abs(a - s) <= 1e-5, "gap at t_min: \(s - a)") }
        let likelihood = try ProbabilityFlowLikelihood(oracle: oracle, schedule: schedule, relativeTolerance: 1e-9,
                                                       absoluteTolerance: 1e-9, startTime: startTime)
        let results = try likelihood.logLikelihood(x)
        for i in 0..<x.rows {
            let value = results[i].logLikelihood
            #expect(abs(value - analytic[i]) <= 1e-4, "\(name) \(specification) point \(i): ODE − log p_0 = \(value - analytic[i])")
            #expect(abs(value - atStart[i]) <= 1e-6, "\(name) \(specification) point \(i): ODE − log p_t_min = \(value - atStart[i])")
        }
    }

    /// The Gaussian prior N(0, σ_T²Σ), checked by an independent 2×2 formula; the result differs
    /// from the exact-marginal one by exactly the two priors' difference at the same end point, and
    /// for vp-linear (α_1 ≈ 6.7e-3) by little.
    @Test func gaussianPrior() throws {
        let model = Self.ring8Correlated()
        let oracle = try Oracle(model)
        let schedule = Schedule.vpLinear()
        let x = try Self.points(model)
        let gaussian = try ProbabilityFlowLikelihood(oracle: oracle, schedule: schedule, prior: .gaussian).logLikelihood(x)
        let marginal = try ProbabilityFlowLikelihood(oracle: oracle, schedule: schedule).logLikelihood(x)
        let s2 = schedule.sigma(1) * schedule.sigma(1)
        let (a, b, c) = (s2 * 1.0, s2 * 0.6, s2 * 0.8)   // σ²Σ = [[a, b], [b, c]]
        let determinant = a * c - b * b
        for i in 0..<x.rows {
            let y = gaussian[i].endPoint
            #expect(y == marginal[i].endPoint)
            let quadratic = (c * y[0] * y[0] - 2 * b * y[0] * y[1] + a * y[1] * y[1]) / determinant
            let reference = -0.5 * quadratic - 0.5 * log(determinant) - log(2 * Double.pi)
            #expect(abs(gaussian[i].priorLogDensity - reference) <= 1e-12)
            let exactPrior = try oracle.evaluate(Matrix([y]), at: 1, schedule: schedule).logDensity[0]
            #expect(abs(marginal[i].priorLogDensity - exactPrior) <= 1e-12)
            #expect(gaussian[i].divergenceIntegral == marginal[i].divergenceIntegral)
            #expect(abs(gaussian[i].logLikelihood - marginal[i].logLikelihood) <= 0.1)
        }
    }

    /// Hutchinson's estimate agrees with the exact-divergence value within 4 standard errors, on
    /// chain16 (Rademacher probes) and the correlated ring8 (Gaussian probes: with D = 2 Rademacher
    /// probes take only two values of zᵀMz).
    @Test(arguments: [("chain16", ProbabilityFlowLikelihood.ProbeDistribution.rademacher),
                      ("ring8", .gaussian)])
    func hutchinsonAgreesWithinItsStandardError(model name: String, distribution: ProbabilityFlowLikelihood.ProbeDistribution) throws {
        let model = Self.model(name)
        let oracle = try Oracle(model)
        let schedule = Schedule.vpLinear()
        let x = try Self.points(model)
        let exact = try ProbabilityFlowLikelihood(oracle: oracle, schedule: schedule).logLikelihood(x)
        let estimate = try ProbabilityFlowLikelihood(
            oracle: oracle, schedule: schedule, divergence: .hutchinson(probes: 16, seed: 11, distribution: distribution)
        ).logLikelihood(x)
        for i in 0..<x.rows {
            let se = estimate[i].standardError
            let z = (estimate[i].logLikelihood - exact[i].logLikelihood) / se
            #expect(se > 0 && se.isFinite, "\(name) point \(i): SE \(se)")
            #expect(abs(z) < 4, "\(name) point \(i): z = \(z)")
        }
    }

    /// A point's result does not depend on its batch: row r of a batch equals the point alone with
    /// firstPoint = r, bit for bit (probes keyed by point).
    @Test func resultsDoNotDependOnTheBatch() throws {
        let model = Self.ring8Correlated()
        let likelihood = try ProbabilityFlowLikelihood(oracle: Oracle(model), schedule: .vpCosine(),
                                                       divergence: .hutchinson(probes: 3, seed: 2))
        let x = try Self.points(model)
        let batch = try likelihood.logLikelihood(x)
        for r in [0, 3] {
            let alone = try likelihood.logLikelihood(Matrix([x.row(r)]), firstPoint: r)
            #expect(alone[0] == batch[r])
        }
        #expect(try likelihood.logLikelihood(Matrix(rows: 0, columns: 2)).isEmpty)
    }

    @Test func defaultTimes() throws {
        typealias L = ProbabilityFlowLikelihood
        #expect(L.defaultStartTime(for: .vpLinear()) == 1e-3)
        #expect(L.defaultStartTime(for: .ve()) == 0)
        #expect(L.defaultStartTime(for: .edm()) == 0.002)
        #expect(L.defaultEndTime(for: .vpLinear()) == 1)
        #expect(L.defaultEndTime(for: .edm()) == 80)
        #expect(abs(L.defaultEndTime(for: .flow) - 0.999) < 1e-15)
        #expect(abs(L.defaultEndTime(for: .vpCosine()) - 0.999) < 1e-15)
    }

    /// The argument an ``ArgumentError`` thrown by `make` names (nil if nothing is thrown).
    static func argument(_ make: () throws -> Void) -> String? {
        do {
            try make()
            return nil
        } catch {
            return (error as? ArgumentError)?.argument ?? "\(error)"
        }
    }

    /// Every bad argument names itself.
    @Test func badArgumentsAreNamed() throws {
        let oracle = try Oracle(Self.ring8Correlated())
        typealias L = ProbabilityFlowLikelihood
        #expect(Self.argument { _ = try L(oracle: oracle, schedule: .vpLinear(), relativeTolerance: 0) } == "rtol")
        #expect(Self.argument { _ = try L(oracle: oracle, schedule: .vpLinear(), absoluteTolerance: .nan) } == "atol")
        #expect(Self.argument { _ = try L(oracle: oracle, schedule: .vpLinear(), startTime: 0) } == "t_min")
        #expect(Self.argument { _ = try L(oracle: oracle, schedule: .vpLinear(), startTime: 0.5, endTime: 0.5) } == "t_min")
        #expect(Self.argument { _ = try L(oracle: oracle, schedule: .edm(), startTime: 1e-4) } == "t_min")
        #expect(Self.argument { _ = try L(oracle: oracle, schedule: .flow, endTime: 1) } == "t_max")
        #expect(Self.argument { _ = try L(oracle: oracle, schedule: .vpLinear(), divergence: .hutchinson(probes: 1, seed: 0)) } == "probes")
        let likelihood = try L(oracle: oracle, schedule: .vpLinear())
        #expect(Self.argument { _ = try likelihood.logLikelihood(Matrix([[1, 2, 3]])) } == "x")
        #expect(Self.argument { _ = try likelihood.logLikelihood(Matrix([[1, .infinity]])) } == "x")
    }
}
