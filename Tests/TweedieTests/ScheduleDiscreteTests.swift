import Foundation
import Testing
import TweedieDiffusion

private func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / abs(b) }

@Suite struct ScheduleDiscreteTests {
    /// Reference ᾱ values from numpy 2.4 in float64, the diffusers recipes:
    ///   linear:        np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    ///   scaled-linear: np.cumprod(1 - np.linspace(np.sqrt(0.00085), np.sqrt(0.012), 1000)**2)
    ///   cosine:        f = lambda t: np.cos((t + 0.008) / 1.008 * np.pi / 2)**2
    ///                  b = [min(1 - f((i+1)/1000) / f(i/1000), 0.999) for i in range(1000)]; np.cumprod(1 - b)
    /// (entry [999] is ᾱ_1000, entry [499] is ᾱ_500). mpmath at 50 digits agrees to within 2e-13.
    @Test func alphaBarMatchesNumpy() {
        let cases: [(DiscreteSchedule, ᾱ500: Double, ᾱ1000: Double)] = [
            (.linear(), 0.07858724288177824, 4.035829765375676e-05),
            (.scaledLinear(), 0.27766965045646763, 0.004660098513077238),
            (.cosine(), 0.4938435904406382, 2.4287669070348567e-09),
        ]
        for (d, a500, a1000) in cases {
            #expect(d.stepCount == 1000)
            #expect(d.alphaBar(step: 0) == 1)
            #expect(relativeError(d.alphaBar(step: 500), a500) < 1e-12, "\(d)")
            #expect(relativeError(d.alphaBar(step: 1000), a1000) < 1e-12, "\(d)")
        }
    }

    @Test func betasFollowTheirRecipes() {
        let linear = DiscreteSchedule.linear()
        #expect(linear.beta(step: 1) == 1e-4 && linear.beta(step: 1000) == 0.02)
        #expect(relativeError(linear.beta(step: 500), 1e-4 + 499 * (0.02 - 1e-4) / 999) < 1e-14)

        let scaled = DiscreteSchedule.scaledLinear()
        #expect(relativeError(scaled.beta(step: 1), 0.00085) < 1e-15)
        #expect(relativeError(scaled.beta(step: 1000), 0.012) < 1e-15)

        // β_1 and β_999 from mpmath at 50 digits (1 − f(i/T)/f((i−1)/T), same f as above). numpy's
        // ratio form gives 4.128422482196914e-05 for β_1, off by 5e-12 from cancellation.
        let cosine = DiscreteSchedule.cosine()
        #expect(relativeError(cosine.beta(step: 1), 4.1284224821777802353e-05) < 1e-13)
        #expect(relativeError(cosine.beta(step: 999), 0.74999939290116202778) < 1e-13)
        #expect(cosine.beta(step: 1000) == 0.999)  // clipped
    }

    @Test func perStepValuesAgreeWithAnExplicitProduct() {
        for d in [DiscreteSchedule.linear(), .scaledLinear(), .cosine(), .linear(steps: 7)] {
            var product = 1.0
            for i in 1...d.stepCount {
                product *= 1 - d.beta(step: i)
                #expect(relativeError(d.alphaBar(step: i), product) < 1e-12)
                #expect(relativeError(d.alpha(step: i) * d.alpha(step: i), product) < 1e-12)
                #expect(relativeError(d.sigma(step: i) * d.sigma(step: i), 1 - product) < 1e-12)
            }
        }
    }

    @Test func continuousReadingPassesThroughEveryStep() throws {
        let d = DiscreteSchedule.linear()
        let s = Schedule.discrete(d)
        #expect(s.discrete == d)
        for i in [0, 1, 2, 10, 499, 500, 999, 1000] {
            let t = d.time(step: i)
            #expect(abs(s.alpha(t) - d.alpha(step: i)) <= 1e-15 * d.alpha(step: i))
            #expect(abs(s.sigma(t) - d.sigma(step: i)) <= 1e-14 * d.sigma(step: i))
        }
        #expect(d.time(timestep: 999) == 1 && d.time(timestep: 0) == 0.001)
        // "--schedule ddpm --t 0.5" is step 500.
        let named = try Schedule.named("ddpm")
        #expect(abs(named.alpha(0.5) - d.alpha(step: 500)) <= 1e-15 * d.alpha(step: 500))
    }

    @Test func interpolationIsLogLinearInsideEachSegment() {
        // Midway between steps 300 and 301, log ᾱ is the mean of its ends, and h is ½T log(1 − β_301)
        // on the whole segment.
        let d = DiscreteSchedule.cosine()
        let s = Schedule.discrete(d)
        let mid = 0.3005
        let expected = 0.5 * (log(d.alphaBar(step: 300)) + log(d.alphaBar(step: 301)))
        #expect(abs(2 * log(s.alpha(mid)) - expected) < 1e-14)
        for t in [0.30001, mid, 0.301] {
            #expect(abs(s.drift(t) - 500 * log(1 - d.beta(step: 301))) < 1e-12 * abs(s.drift(t)))
        }
        // λ strictly decreasing across knots.
        var previous = Double.infinity
        for t in stride(from: 0.0007, through: 1.0, by: 0.0007) {
            #expect(s.logSNR(t) < previous)
            previous = s.logSNR(t)
        }
    }

    @Test func invalidBetasAreErrors() {
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(betas: []) }
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(betas: [0.1, 1]) }
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(betas: [0.1, 0]) }
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(betas: [0.1, .nan]) }
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(.linear(betaStart: 1e-4, betaEnd: 0.02), steps: 0) }
        #expect(throws: ScheduleError.self) { try DiscreteSchedule(.cosine(s: 0.008, maxBeta: 1), steps: 10) }
        let custom = try? DiscreteSchedule(betas: [0.1, 0.2, 0.3])
        #expect(custom.map { abs($0.alphaBar(step: 3) - 0.9 * 0.8 * 0.7) < 1e-15 } == true)
    }
}
