import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// The probability-flow ODE of a harmonic process (docs/math.md §13.5): a sampler whose only error
/// is Dormand–Prince's, and the exact log-likelihood on the zero-centre-of-mass subspace.
///
/// ```swift
/// let flow = HarmonicFlow(oracle: try HarmonicOracle(prior: conformers, process: .chain(atoms: 16)))
/// let samples = try flow.sample(count: 64, seed: 1, from: 5, to: 1e-3)      // 64 × 48, centred
/// let logP = try flow.logLikelihood(samples, from: 1e-3, to: 5)              // log p_{1e-3}, 45 d.o.f.
/// ```
public struct HarmonicFlow: Sendable {
    public let oracle: HarmonicOracle
    public var relativeTolerance: Double
    public var absoluteTolerance: Double

    public init(oracle: HarmonicOracle, relativeTolerance: Double = 1e-6, absoluteTolerance: Double = 1e-6) {
        self.oracle = oracle
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
    }

    private func checkTimes(_ early: Double, _ late: Double) throws(ArgumentError) {
        guard early.isFinite, early > 0, late.isFinite, late > early else {
            throw ArgumentError("t", "needs 0 < t_min < T, got t_min = \(early), T = \(late)")
        }
        guard relativeTolerance > 0, absoluteTolerance > 0 else {
            throw ArgumentError("tolerance", "must be positive")
        }
    }

    /// v = −½ λ ⊙ x̃ − ½ ∇ log p_t in mode coordinates, for B points stacked in `y` (B × D′ flat).
    private func velocity(_ y: [Double], rows: Int, at t: Double,
                          laplacian: Bool) throws -> (velocity: [Double], laplacian: [Double]) {
        let process = oracle.process, d = process.dimension
        let modes = Matrix(rows: rows, columns: d, elements: y)
        let r = try oracle.evaluate(process.points(modes), at: t, laplacian: laplacian)
        let score = process.modes(r.score)
        var v = [Double](repeating: 0, count: rows * d)
        for b in 0..<rows {
            for j in 0..<d {
                v[b * d + j] = -0.5 * process.rates[j / process.axes] * y[b * d + j] - 0.5 * score[b, j]
            }
        }
        return (v, r.laplacian)
    }

    /// `count` samples: exact draws of p_T, the flow to t_min, then E[x_0 | x_{t_min}] (count × N d).
    public func sample(count: Int, seed: UInt64, from late: Double, to early: Double) throws -> Matrix {
        try checkTimes(early, late)
        let process = oracle.process, d = process.dimension
        guard count >= 1 else { throw ArgumentError("count", "must be at least 1, got \(count)") }
        try MemoryBudget.require("count", "\(count) samples × D′ = \(d)", elements: [count, d])
        let x0 = try oracle.modePrior.sample(count: count, seed: seed).points
        let (a, s2) = process.coefficients(at: late)
        let stream = NoiseStream(seed: seed)
        var y = [Double](repeating: 0, count: count * d)
        for b in 0..<count {
            let z = stream.normals(sample: b, step: 0, count: d)  // x_0 used the reserved steps
            for j in 0..<d { y[b * d + j] = a[j] * x0[b, j] + s2[j].squareRoot() * z[j] }
        }
        let stepper = DormandPrince(relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
        let end = try stepper.integrate(y, from: late, to: early) { state, t in
            try velocity(state, rows: count, at: t, laplacian: false).velocity
        }
        let final = process.points(Matrix(rows: count, columns: d, elements: end.state))
        return try oracle.evaluate(final, at: early).denoised
    }

    /// `count` samples of the reverse-time SDE dx = [−½ (H ⊗ I) x − ∇ log p_t] dt + dW̄ by
    /// Euler–Maruyama on `steps` equal steps from exact draws of p_T to t_min, closed by
    /// E[x_0 | x_{t_min}] (EigenFold's sampler, on the exact score; docs/math.md §13.5).
    public func sampleSDE(count: Int, seed: UInt64, from late: Double, to early: Double,
                          steps: Int) throws -> Matrix {
        try checkTimes(early, late)
        guard steps >= 1 else { throw ArgumentError("steps", "must be at least 1, got \(steps)") }
        try MemoryBudget.requireSteps("steps", steps)
        let process = oracle.process, d = process.dimension
        guard count >= 1 else { throw ArgumentError("count", "must be at least 1, got \(count)") }
        try MemoryBudget.require("count", "\(count) samples × D′ = \(d)", elements: [count, d])
        let x0 = try oracle.modePrior.sample(count: count, seed: seed).points
        let (a, s2) = process.coefficients(at: late)
        let stream = NoiseStream(seed: seed)
        var y = Matrix(rows: count, columns: d)
        for b in 0..<count {
            let z = stream.normals(sample: b, step: 0, count: d)
            for j in 0..<d { y[b, j] = a[j] * x0[b, j] + s2[j].squareRoot() * z[j] }
        }
        let h = (late - early) / Double(steps)
        for k in 0..<steps {
            let t = late - Double(k) * h
            let score = process.modes(try oracle.evaluate(process.points(y), at: t).score)
            for b in 0..<count {
                let z = stream.normals(sample: b, step: k + 1, count: d)
                for j in 0..<d {
                    let drift = 0.5 * process.rates[j / process.axes] * y[b, j] + score[b, j]
                    y[b, j] += drift * h + h.squareRoot() * z[j]
                }
            }
        }
        return try oracle.evaluate(process.points(y), at: early).denoised
    }

    /// log p_{t_min}(x) for the rows of `x` (on R^{N×d}, taken at their projection on V), by the flow
    /// from t_min to T and the exact log p_T, with the solver's count of evaluations.
    public func logLikelihood(_ x: Matrix, from early: Double,
                              to late: Double) throws -> (values: [Double], evaluations: Int) {
        try checkTimes(early, late)
        let process = oracle.process, d = process.dimension, rows = x.rows
        guard x.columns == process.atoms * process.axes else {
            throw ArgumentError("x", "points of \(x.columns) coordinates; the process moves "
                                + "\(process.atoms * process.axes)")
        }
        // State: the B points in mode coordinates, then the B running integrals of div v.
        var y = process.modes(x).elements
        y += [Double](repeating: 0, count: rows)
        let trace = process.rates.reduce(0) { $0 + $1 } * Double(process.axes)
        let stepper = DormandPrince(relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
        let end = try stepper.integrate(y, from: early, to: late) { state, t in
            let (v, laplacian) = try velocity(Array(state.prefix(rows * d)), rows: rows, at: t, laplacian: true)
            return v + laplacian.map { -0.5 * trace - 0.5 * $0 }
        }
        let last = process.points(Matrix(rows: rows, columns: d, elements: Array(end.state.prefix(rows * d))))
        let prior = try oracle.evaluate(last, at: late).logDensity
        return ((0..<rows).map { prior[$0] + end.state[rows * d + $0] }, end.evaluations)
    }
}
