import Foundation
import Testing
@testable import Tweedie

/// ``DormandPrince`` on problems with closed-form solutions.
@Suite struct LikelihoodStepperTests {
    /// dy/dt = A y with A = [[0, 1], [−1, 0]] (a rotation) plus dz/dt = −z, forwards and backwards.
    @Test(arguments: [(0.0, 3.0), (3.0, -1.0)])
    func linearSystem(from start: Double, to end: Double) throws {
        let stepper = DormandPrince(relativeTolerance: 1e-10, absoluteTolerance: 1e-10)
        let solution = try stepper.integrate([1, 0, 2], from: start, to: end) { y, _ in [y[1], -y[0], -y[2]] }
        let span = end - start
        #expect(abs(solution.state[0] - cos(span)) <= 1e-8)
        #expect(abs(solution.state[1] + sin(span)) <= 1e-8)
        #expect(abs(solution.state[2] - 2 * exp(-span)) <= 1e-8 * max(1, exp(-span)))
        #expect(solution.evaluations == 2 + 6 * (solution.acceptedSteps + solution.rejectedSteps))
        // Looser tolerances take fewer steps; a given first step skips the automatic choice.
        let loose = try DormandPrince(relativeTolerance: 1e-4, absoluteTolerance: 1e-4)
            .integrate([1, 0, 2], from: start, to: end, initialStep: 0.1) { y, _ in [y[1], -y[0], -y[2]] }
        #expect(loose.acceptedSteps < solution.acceptedSteps)
        #expect(loose.evaluations == 1 + 6 * (loose.acceptedSteps + loose.rejectedSteps))
    }

    @Test func emptyIntervalAndUnderflow() throws {
        let stepper = DormandPrince(relativeTolerance: 1e-6, absoluteTolerance: 1e-6)
        let none = try stepper.integrate([5], from: 1, to: 1) { _, _ in [1] }
        #expect(none.state == [5] && none.evaluations == 0)
        // dy/dt = 1/(1 − t) blows up at t = 1: the step size underflows before it.
        #expect(throws: DormandPrince.StepSizeUnderflow.self) {
            _ = try stepper.integrate([0], from: 0, to: 2) { _, t in [1 / (1 - t)] }
        }
    }
}
