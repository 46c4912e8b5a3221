import TweedieDiffusion
import Foundation

/// The Dormand–Prince 5(4) pair with local error control, for dy/dt = f(y, t) on a flat state
/// vector: the adaptive stepper behind ``RK45Sampler`` and the probability-flow likelihood.
///
/// Each step evaluates six new stages (the seventh is the derivative at the 5th-order solution and
/// becomes the next step's first stage: "first same as last"). The step is accepted when the
/// scipy-style error norm
///
///     ‖e‖ = √( (1/n) Σ_i (h e_i / (atol + rtol · max(|y_i|, |ỹ_i|)))² ) ≤ 1
///
/// (e the difference of the 5th- and 4th-order weights applied to the stages, ỹ the 5th-order
/// candidate) and the step is rescaled by min(5, max(0.2, 0.9 ‖e‖^(−1/5))) after every attempt
/// (× 5 when ‖e‖ = 0). The step that reaches the end lands on it exactly.
///
/// ```swift
/// let stepper = DormandPrince(relativeTolerance: 1e-8, absoluteTolerance: 1e-8)
/// let solution = try stepper.integrate([1], from: 0, to: 1) { y, _ in [-y[0]] }
/// solution.state  // ≈ [exp(−1)]
/// ```
public struct DormandPrince: Sendable {
    public var relativeTolerance: Double
    public var absoluteTolerance: Double

    public init(relativeTolerance: Double, absoluteTolerance: Double) {
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
    }

    /// The right-hand side f(y, t) of dy/dt = f(y, t).
    public typealias Derivative = (_ y: [Double], _ t: Double) throws -> [Double]

    /// The state at the end of an integration and what it cost.
    public struct Solution: Sendable, Equatable {
        /// y at the end time.
        public var state: [Double]
        /// Evaluations of the derivative.
        public var evaluations: Int
        public var acceptedSteps: Int
        public var rejectedSteps: Int
    }

    /// The step size fell below 10⁻¹² · max(1, |t|): the tolerances cannot be met in floating point.
    public struct StepSizeUnderflow: Error, Equatable, Sendable, CustomStringConvertible {
        /// The time the integration had reached.
        public let time: Double
        public var description: String { "step size underflow at t = \(time) (tolerances too tight)" }
    }

    // Dormand–Prince tableau.
    static let c: [Double] = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1]
    static let a: [[Double]] = [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
        [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ]
    /// 5th-order weights minus 4th-order weights: the error estimate.
    static let errorWeights: [Double] = [35.0 / 384 - 5179.0 / 57600, 0, 500.0 / 1113 - 7571.0 / 16695,
                                         125.0 / 192 - 393.0 / 640, -2187.0 / 6784 + 92097.0 / 339200,
                                         11.0 / 84 - 187.0 / 2100, -1.0 / 40]

    /// Integrates dy/dt = `derivative`(y, t) from y(`start`) = `initial` to `end` (either direction).
    ///
    /// `initialStep` is the magnitude of the first attempted step; nil chooses it from the
    /// derivative at the start (Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4: one extra
    /// evaluation). A start equal to the end returns `initial` without evaluating anything.
    /// Throws ``StepSizeUnderflow``, or what `derivative` throws.
    public func integrate(_ initial: [Double], from start: Double, to end: Double, initialStep: Double? = nil,
                          _ derivative: Derivative) throws -> Solution {
        let n = initial.count
        var evaluations = 0, accepted = 0, rejected = 0
        func f(_ y: [Double], _ t: Double) throws -> [Double] {
            evaluations += 1
            return try derivative(y, t)
        }
        guard start != end else { return Solution(state: initial, evaluations: 0, acceptedSteps: 0, rejectedSteps: 0) }
        let direction: Double = end < start ? -1 : 1
        var y = initial
        var t = start
        var k1 = try f(y, t)
        var h = direction * (try initialStep ?? automaticInitialStep(y, k1, from: start, to: end, f))
        while direction < 0 ? t > end : t < end {
            // The step that reaches the end lands on it exactly: t + (end − t) can round to a
            // point just short of end, which would leave a step of one ulp to take and a
            // spurious step-size underflow.
            let reachesEnd = direction < 0 ? t + h <= end : t + h >= end
            if reachesEnd { h = end - t }
            // Stages; with FSAL the last stage is evaluated at the 5th-order solution.
            var stages = [k1]
            var candidate = y
            for s in 1..<7 {
                candidate = y
                for j in 0..<s where Self.a[s][j] != 0 {
                    let w = h * Self.a[s][j]
                    for i in 0..<n { candidate[i] += w * stages[j][i] }
                }
                stages.append(try f(candidate, t + Self.c[s] * h))
            }
            var errorNorm = 0.0
            for i in 0..<n {
                var e = 0.0
                for j in 0..<7 { e += Self.errorWeights[j] * stages[j][i] }
                let scale = absoluteTolerance + relativeTolerance * max(abs(y[i]), abs(candidate[i]))
                errorNorm += (h * e / scale) * (h * e / scale)
            }
            errorNorm = (errorNorm / Double(n)).squareRoot()
            if errorNorm <= 1 {
                accepted += 1
                y = candidate
                k1 = stages[6]
                if reachesEnd { break }
                t += h
            } else {
                rejected += 1
            }
            h *= errorNorm == 0 ? 5 : min(5, max(0.2, 0.9 * pow(errorNorm, -0.2)))
            if abs(h) < 1e-12 * max(1, abs(t)) { throw StepSizeUnderflow(time: t) }
        }
        return Solution(state: y, evaluations: evaluations, acceptedSteps: accepted, rejectedSteps: rejected)
    }

    /// The starting step of Hairer, Nørsett & Wanner (§II.4) for a method of order 5, with the
    /// error norm above: h₀ = 0.01 ‖y₀‖/‖f₀‖, then h₁ = (0.01 / max(‖f₀‖, ‖f(y₀ + h₀f₀) − f₀‖/h₀))^(1/5),
    /// and the step min(100 h₀, h₁, |end − start|).
    private func automaticInitialStep(_ y: [Double], _ k: [Double], from start: Double, to end: Double,
                                      _ f: Derivative) throws -> Double {
        let n = y.count, span = abs(end - start)
        let direction: Double = end < start ? -1 : 1
        let scale = y.map { absoluteTolerance + relativeTolerance * abs($0) }
        func norm(_ v: [Double]) -> Double {
            var sum = 0.0
            for i in 0..<n { sum += (v[i] / scale[i]) * (v[i] / scale[i]) }
            return (sum / Double(max(n, 1))).squareRoot()
        }
        let d0 = norm(y), d1 = norm(k)
        let h0 = min(span, d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1)
        let probe = (0..<n).map { y[$0] + direction * h0 * k[$0] }
        let k2 = try f(probe, start + direction * h0)
        let d2 = norm((0..<n).map { k2[$0] - k[$0] }) / h0
        let largest = max(d1, d2)
        let h1 = largest <= 1e-15 ? max(1e-6, h0 * 1e-3) : pow(0.01 / largest, 0.2)
        return min(100 * h0, h1, span)
    }
}
