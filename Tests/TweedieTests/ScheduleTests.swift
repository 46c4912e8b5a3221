import Foundation
import Testing
import TweedieDiffusion

/// Every schedule family with interior times at which to check it. Discrete times sit mid-segment
/// (t = (i − ½)/T) so that finite differences stay inside one piece of the interpolation.
private let schedulesWithTimes: [(Schedule, [Double])] = [
    (.vpLinear(), [0.01, 0.1, 0.3, 0.5, 0.77, 0.95]),
    (.vpLinear(betaMin: 0, betaMax: 12), [0.01, 0.3, 0.9]),
    (.vpCosine(), [0.01, 0.1, 0.3, 0.5, 0.77, 0.95]),
    (.ve(), [0.01, 0.1, 0.3, 0.5, 0.77, 0.95]),
    (.edm(), [0.01, 0.5, 3, 20, 70]),
    (.flow, [0.01, 0.1, 0.3, 0.5, 0.77, 0.95]),
    (.ddpm(), [0.0105, 0.1005, 0.3005, 0.5005, 0.9505]),
    (.ddpmScaledLinear(), [0.0105, 0.5005, 0.9505]),
    (.ddpmCosine(), [0.0105, 0.5005, 0.9505]),
]

/// Central difference (f(t+δ) − f(t−δ)) / 2δ with δ = 1e-5 of the time scale.
private func centralDifference(_ t: Double, scale: Double = 1, _ f: (Double) -> Double) -> Double {
    let delta = 1e-5 * scale
    return (f(t + delta) - f(t - delta)) / (2 * delta)
}

private func close(_ a: Double, _ b: Double, relative: Double, absolute: Double = 0) -> Bool {
    abs(a - b) <= relative * max(abs(a), abs(b)) + absolute
}

@Suite struct ScheduleTests {
    @Test(arguments: schedulesWithTimes.indices)
    func derivativesMatchCentralDifferences(_ index: Int) {
        let (s, times) = schedulesWithTimes[index]
        let scale = s.timeRange.upperBound - s.timeRange.lowerBound
        for t in times {
            let fdAlpha = centralDifference(t, scale: scale, s.alpha)
            let fdSigma = centralDifference(t, scale: scale, s.sigma)
            let fdLogAlpha = centralDifference(t, scale: scale) { log(s.alpha($0)) }
            let fdSigmaSquared = centralDifference(t, scale: scale) { s.sigma($0) * s.sigma($0) }
            // g² from its definition, dσ²/dt − 2hσ², with both derivatives taken numerically.
            let fdDiffusionSquared = fdSigmaSquared - 2 * fdLogAlpha * s.sigma(t) * s.sigma(t)
            #expect(close(s.alphaDerivative(t), fdAlpha, relative: 1e-6, absolute: 1e-10), "\(s) α' at \(t)")
            #expect(close(s.sigmaDerivative(t), fdSigma, relative: 1e-6, absolute: 1e-10), "\(s) σ' at \(t)")
            #expect(close(s.drift(t), fdLogAlpha, relative: 1e-6, absolute: 1e-10), "\(s) h at \(t)")
            #expect(close(s.diffusionSquared(t), fdDiffusionSquared, relative: 1e-6, absolute: 1e-10),
                    "\(s) g² at \(t)")
        }
    }

    @Test(arguments: schedulesWithTimes.indices)
    func derivedQuantitiesAgreeWithTheirDefinitions(_ index: Int) {
        let (s, times) = schedulesWithTimes[index]
        for t in times {
            let a = s.alpha(t), sg = s.sigma(t)
            #expect(close(s.logSNR(t), log(a / sg), relative: 1e-13, absolute: 1e-14), "\(s) λ at \(t)")
            #expect(close(s.snr(t), exp(2 * s.logSNR(t)), relative: 1e-13), "\(s) SNR at \(t)")
            #expect(close(s.diffusion(t) * s.diffusion(t), s.diffusionSquared(t), relative: 1e-14), "\(s) g at \(t)")
            let c = try? s.coefficients(at: t)
            #expect(c?.t == t && c?.alpha == a && c?.sigma == sg && c?.logSNR == s.logSNR(t))
            #expect(c?.drift == s.drift(t) && c?.diffusionSquared == s.diffusionSquared(t))
        }
    }

    @Test(arguments: schedulesWithTimes.indices)
    func logSNRInverseRoundTrips(_ index: Int) throws {
        let (s, times) = schedulesWithTimes[index]
        for t in times {
            let back = try s.time(logSNR: s.logSNR(t))
            #expect(close(back, t, relative: 1e-12), "\(s): t(λ(\(t))) = \(back)")
        }
        // λ(t(λ)) on a λ grid strictly inside the schedule's range.
        let lo = s.logSNR(s.timeRange.upperBound), hi = s.logSNR(s.timeRange.lowerBound)
        let from = lo.isFinite ? lo : -12, to = hi.isFinite ? hi : 12
        for j in 1..<10 {
            let lambda = from + (to - from) * Double(j) / 10
            let back = s.logSNR(try s.time(logSNR: lambda))
            #expect(close(back, lambda, relative: 1e-11, absolute: 1e-11), "\(s): λ(t(\(lambda))) = \(back)")
        }
    }

    @Test func logSNRInverseIsAccurateNearTheEnds() throws {
        for s in [Schedule.vpLinear(), .vpLinear(betaMin: 0, betaMax: 12), .vpCosine(), .vpCosine(s: 0), .flow,
                  .ddpm(), .ddpmCosine(), .ve()] {
            // Relative accuracy where λ → ±∞ at the end; ve's λ(0) is finite, so there t(λ) is only
            // absolutely accurate (λ's rounding error divided by L = log 5000).
            for t in [1e-10, 1e-6, 1e-3, 0.999, 1 - 1e-6] {
                let back = try s.time(logSNR: s.logSNR(t))
                #expect(close(back, t, relative: 1e-12, absolute: 1e-16), "\(s): t(λ(\(t))) = \(back)")
            }
        }
    }

    @Test func variancePreservingSchedulesKeepAlphaSquaredPlusSigmaSquaredOne() {
        for s in [Schedule.vpLinear(), .vpCosine(), .ddpm(), .ddpmCosine()] {
            for t in stride(from: 0.0, through: 1.0, by: 0.0625) {
                #expect(abs(s.alpha(t) * s.alpha(t) + s.sigma(t) * s.sigma(t) - 1) < 1e-15, "\(s) at \(t)")
            }
        }
    }

    @Test func knownValues() {
        let vp = Schedule.vpLinear()
        // docs/math.md §1 at t = 1: log α = −¼(β_max − β_min) − ½β_min.
        #expect(close(vp.alpha(1), exp(-0.25 * 19.9 - 0.05), relative: 1e-15))
        #expect(close(vp.sigma(1), (1 - exp(-0.5 * 19.9 - 0.1)).squareRoot(), relative: 1e-15))
        #expect(vp.diffusionSquared(0.5) == 0.1 + 0.5 * 19.9)  // g² = β(t)

        // vp-cosine against the table's cosine ratio (the implementation uses the sine form).
        let cosine = Schedule.vpCosine()
        for t in [0.1, 0.5, 0.9] {
            let alpha = cos(Double.pi / 2 * (t + 0.008) / 1.008) / cos(Double.pi / 2 * 0.008 / 1.008)
            #expect(close(cosine.alpha(t), alpha, relative: 1e-14))
            #expect(close(cosine.sigma(t), (1 - alpha * alpha).squareRoot(), relative: 1e-14))
        }

        let ve = Schedule.ve()
        #expect(close(ve.sigma(0.5), (0.01 * 50).squareRoot(), relative: 1e-15))
        #expect(close(ve.sigma(1), 50, relative: 1e-15) && ve.sigma(0) == 0.01 && ve.alpha(0.3) == 1)

        let edm = Schedule.edm()
        #expect(edm.timeRange == 0.002...80)
        #expect(edm.sigma(3.5) == 3.5 && edm.alpha(3.5) == 1 && edm.diffusionSquared(3.5) == 7)

        #expect(Schedule.flow.alpha(0.25) == 0.75 && Schedule.flow.sigma(0.25) == 0.25)
        #expect(close(Schedule.flow.logSNR(0.25), log(3), relative: 1e-15))
    }

    @Test func endpointsGiveInfinitiesNotNaN() throws {
        let flow = Schedule.flow
        #expect(flow.alpha(1) == 0 && flow.sigma(1) == 1)
        #expect(flow.logSNR(1) == -.infinity && flow.snr(1) == 0)
        #expect(flow.drift(1) == -.infinity && flow.diffusionSquared(1) == .infinity)
        #expect(flow.logSNR(0) == .infinity && flow.snr(0) == .infinity && flow.diffusionSquared(0) == 0)
        #expect(try flow.time(logSNR: -.infinity) == 1 && flow.time(logSNR: .infinity) == 0)

        let vp = Schedule.vpLinear()
        #expect(vp.sigma(0) == 0 && vp.alpha(0) == 1 && vp.logSNR(0) == .infinity)
        #expect(vp.sigmaDerivative(0) == .infinity && vp.snr(0) == .infinity)
        #expect(try vp.time(logSNR: .infinity) == 0)
        // β_min = 0: σ ≈ t √(½ β_max), a finite slope at 0.
        #expect(close(Schedule.vpLinear(betaMin: 0, betaMax: 12).sigmaDerivative(0), 6.0.squareRoot(), relative: 1e-15))

        let cosine = Schedule.vpCosine()
        #expect(cosine.alpha(1) == 0 && cosine.logSNR(1) == -.infinity && cosine.drift(1) == -.infinity)
        #expect(cosine.sigma(0) == 0 && cosine.sigmaDerivative(0) == .infinity)
        #expect(try cosine.time(logSNR: -.infinity) == 1 && cosine.time(logSNR: .infinity) == 0)
        #expect(close(Schedule.vpCosine(s: 0).sigmaDerivative(0), Double.pi / 2, relative: 1e-15))

        let ddpm = Schedule.ddpm()
        #expect(ddpm.sigma(0) == 0 && ddpm.logSNR(0) == .infinity && ddpm.sigmaDerivative(0) == .infinity)
        #expect(try ddpm.time(logSNR: .infinity) == 0)
    }

    @Test func timesOutsideTheRangeAreErrors() {
        let vp = Schedule.vpLinear()
        #expect(throws: ScheduleError.timeOutOfRange(schedule: "vp-linear", time: 1.5, range: 0...1)) {
            try vp.validate(t: 1.5)
        }
        #expect(throws: ScheduleError.self) { try vp.validate(t: -1e-12) }
        #expect(throws: ScheduleError.self) { try vp.validate(t: .nan) }
        #expect(throws: ScheduleError.self) { try vp.coefficients(at: 2) }
        #expect(throws: ScheduleError.self) { try Schedule.edm().validate(t: 0.001) }
        #expect(throws: ScheduleError.self) { try Schedule.ddpm().validate(t: 1.001) }
        #expect(throws: Never.self) { try Schedule.edm().validate(t: 80) }

        let message = ScheduleError.timeOutOfRange(schedule: "edm", time: 100, range: 0.002...80).description
        #expect(message == "t = 100.0 is outside the time range [0.002, 80] of edm")
        #expect(!message.contains("\n"))
    }

    @Test func logSNRsTheScheduleNeverReachesAreErrors() {
        // vp-linear reaches λ ∈ [λ(1) ≈ −4.97, +∞); ve reaches [−log 50, −log 0.01].
        #expect(throws: ScheduleError.self) { try Schedule.vpLinear().time(logSNR: -10) }
        #expect(throws: ScheduleError.self) { try Schedule.ve().time(logSNR: 10) }
        #expect(throws: ScheduleError.self) { try Schedule.edm().time(logSNR: .nan) }
        #expect(throws: ScheduleError.self) { try Schedule.ddpm().time(logSNR: -20) }
    }

    @Test func namesParseToTheFactoryDefaults() throws {
        let defaults: [String: Schedule] = [
            "vp-linear": .vpLinear(), "vp-cosine": .vpCosine(), "ve": .ve(), "edm": .edm(), "flow": .flow,
            "ddpm": .ddpm(), "ddpm-scaled-linear": .ddpmScaledLinear(), "ddpm-cosine": .ddpmCosine(),
            "polynomial": .polynomial(),
        ]
        #expect(Set(Schedule.allNames) == Set(defaults.keys))
        for name in Schedule.allNames {
            let s = try Schedule.named(name)
            #expect(s == defaults[name], "\(name)")
            #expect(s.name == name)
            #expect(try Schedule.named(s.description) == s, "\(s.description) round trip")
        }
        #expect(try Schedule.named("karras") == .edm())
        #expect(try Schedule.named(" VP-Linear ") == .vpLinear())
    }

    @Test func parametersOverrideDefaults() throws {
        #expect(try Schedule.named("vp-linear:beta_max=15") == .vpLinear(betaMin: 0.1, betaMax: 15))
        #expect(try Schedule.named("edm: sigma_max = 160, rho = 5") == .edm(sigmaMax: 160, rho: 5))
        #expect(try Schedule.named("ddpm:steps=500") == .ddpm(steps: 500))
        #expect(try Schedule.named("ddpm-cosine:max_beta=0.99") == .ddpmCosine(maxBeta: 0.99))
        #expect(Schedule.vpLinear(betaMin: 0.1, betaMax: 15).description == "vp-linear:beta_min=0.1,beta_max=15")
        #expect(Schedule.ddpm().description == "ddpm:beta_start=0.0001,beta_end=0.02,steps=1000")
    }

    @Test func badNamesAndParametersAreErrors() {
        do {
            _ = try Schedule.named("vp-quadratic")
            Issue.record("expected an error")
        } catch {
            guard case let .unknownName(name, known) = error else { Issue.record("\(error)"); return }
            #expect(name == "vp-quadratic")
            for n in Schedule.allNames { #expect(error.description.contains(n)) }
            #expect(known.count == Schedule.allNames.count)
        }
        for spec in ["vp-linear:gamma=1", "vp-linear:beta_max", "vp-linear:beta_max=abc", "vp-linear:beta_max=inf",
                     "vp-linear:beta_max=1,beta_max=2", "vp-linear:beta_min=-1", "vp-linear:beta_min=5,beta_max=1",
                     "ve:sigma_min=100", "edm:rho=0", "vp-cosine:s=-0.1", "flow:s=1",
                     "ddpm:steps=10.5", "ddpm:steps=0", "ddpm:beta_end=1", "ddpm-cosine:max_beta=1"] {
            #expect(throws: ScheduleError.self, "\(spec)") { try Schedule.named(spec) }
        }
        #expect(throws: ScheduleError.invalidParameter(schedule: "ve", parameter: "sigma_max",
                                                        reason: "must be finite and > sigma_min = 0.01, got 0.001")) {
            try Schedule(.ve(sigmaMin: 0.01, sigmaMax: 0.001))
        }
    }
}
