import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// Assigns points to the mixture component that most probably produced them under p_0:
/// k̂(x) = argmax_k p(k | x_0 = x) = argmax_k [log π_k + log N(x; μ_k, Λ_k)].
///
/// - Positive-definite covariances: the exact component posterior of ``PriorDensity``.
/// - Dirac components (Λ_k = 0): the limit of p(k | x) under Λ_k = δI as δ → 0, which is the
///   nearest atom, k̂ = argmin_k ‖x − μ_k‖² over components of positive weight (ties go to the
///   larger π_k, then the lower k).
/// - Singular Gaussian components: the posterior of the mixture with Λ_k + δI,
///   δ = 10⁻¹⁰ · max(1, largest variance of any component), the same small-δ limit.
///
/// Points with a non-finite coordinate are left unassigned (−1).
public struct ModeAssigner: Sendable {
    public let mixture: GaussianMixture
    let rule: Rule

    enum Rule: Sendable {
        case posterior(PriorDensity)
        case nearestAtom
    }

    public init(_ mixture: GaussianMixture) {
        self.mixture = mixture
        if case .dirac = mixture.covariances {
            rule = .nearestAtom
        } else if let density = try? PriorDensity(mixture) {
            rule = .posterior(density)
        } else {
            rule = .posterior(try! PriorDensity(Self.regularized(mixture)))
        }
    }

    /// The mixture with every covariance raised by δI, δ = 10⁻¹⁰ · max(1, largest variance).
    static func regularized(_ mixture: GaussianMixture) -> GaussianMixture {
        let k = mixture.componentCount, d = mixture.dimension
        let largest = (0..<k).map { mixture.covariance(of: $0).diagonalElements.max() ?? 0 }.max() ?? 0
        let delta = 1e-10 * max(1, largest)
        func raised(_ m: Matrix) -> Matrix {
            var m = m
            for i in 0..<d { m[i, i] += delta }
            return m
        }
        let covariances: ComponentCovariances
        switch mixture.covariances {
        case .full(let matrices): covariances = .full(matrices.map(raised))
        case .tied(let matrix): covariances = .tied(raised(matrix))
        case .diagonal(let v):
            covariances = .diagonal(Matrix(rows: v.rows, columns: v.columns, elements: v.elements.map { $0 + delta }))
        case .spherical(let v): covariances = .spherical(v.map { $0 + delta })
        case .dirac: covariances = .spherical(Array(repeating: delta, count: k))
        }
        // Adding δI to a valid covariance keeps it valid.
        return try! GaussianMixture(weights: mixture.weights, means: mixture.means, covariances: covariances)
    }

    /// k̂ for each row of `x` (B×D), or −1 for a row with a non-finite coordinate.
    public func assign(_ x: Matrix) -> [Int] {
        precondition(x.columns == mixture.dimension,
                     "points have \(x.columns) coordinates, the mixture has \(mixture.dimension)")
        let b = x.rows, d = x.columns
        let finite = (0..<b).map { r in (0..<d).allSatisfy { x.elements[r * d + $0].isFinite } }
        var clean = x
        for r in 0..<b where !finite[r] { for i in 0..<d { clean.elements[r * d + i] = 0 } }
        var assigned: [Int]
        switch rule {
        case .posterior(let density):
            let joint = density.logJointDensities(clean)
            assigned = (0..<b).map { r in Self.argmax((0..<joint.columns).map { joint[r, $0] }) }
        case .nearestAtom:
            assigned = nearestAtoms(clean)
        }
        for r in 0..<b where !finite[r] { assigned[r] = -1 }
        return assigned
    }

    /// The first index of the largest value.
    static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    /// argmin_k ‖x − μ_k‖² with ‖x − μ‖² = ‖x‖² − 2 x·μ + ‖μ‖² (the cross terms by GEMM, in
    /// chunks of rows on all cores); components of weight 0 are skipped.
    private func nearestAtoms(_ x: Matrix) -> [Int] {
        let b = x.rows, d = x.columns, k = mixture.componentCount
        let means = mixture.means
        let meanNorms = (0..<k).map { c in (0..<d).reduce(0.0) { $0 + means[c, $1] * means[c, $1] } }
        let weights = mixture.weights
        let chunk = 256
        return Parallel.array(count: b, chunk: chunk) { rows in
            let block = Matrix(rows: rows.count, columns: d,
                               elements: Array(x.elements[(rows.lowerBound * d)..<(rows.upperBound * d)]))
            let cross = BLAS.product(block, .none, means, .transpose)
            return (0..<rows.count).map { r in
                var best = -1, bestDistance = Double.infinity
                for c in 0..<k where weights[c] > 0 {
                    // ‖x‖² is the same for every k: compare ‖μ‖² − 2 x·μ.
                    let distance = meanNorms[c] - 2 * cross[r, c]
                    if best < 0 || distance < bestDistance
                        || (distance == bestDistance && weights[c] > weights[best]) {
                        best = c
                        bestDistance = distance
                    }
                }
                return max(best, 0)
            }
        }
    }
}

/// How a set of points divides among the modes of p_0, against the mixture weights π.
///
/// ŵ_k = n_k / n, where n_k points are assigned to component k by ``ModeAssigner`` and n is the
/// number of points (unassigned ones included). The total-variation distance between the
/// categorical laws ŵ and π, counting unassigned points as a category of weight 0 under π, is
///
///     TV(ŵ, π) = ½ Σ_k |ŵ_k − π_k| + ½ n_unassigned / n.
///
/// For n exact samples of p_0, E[TV] ≈ ½ Σ_k √(2 π_k (1 − π_k) / (π n)): a Monte Carlo floor
/// that shrinks as 1/√n.
public struct ModeWeights: Sendable, Equatable {
    /// n_k, points assigned to each component.
    public let counts: [Int]
    /// Points with a non-finite coordinate.
    public let unassigned: Int
    /// π_k.
    public let expected: [Double]

    public init(counts: [Int], unassigned: Int, expected: [Double]) {
        precondition(counts.count == expected.count, "one count per component")
        self.counts = counts
        self.unassigned = unassigned
        self.expected = expected
    }

    /// Assigns the rows of `points` with a ``ModeAssigner`` of `mixture`.
    public init(of points: Matrix, mixture: GaussianMixture) {
        self.init(of: points, assigner: ModeAssigner(mixture))
    }

    public init(of points: Matrix, assigner: ModeAssigner) {
        self.init(assignments: assigner.assign(points), expected: assigner.mixture.weights)
    }

    /// Counts assignments k̂ (−1 for unassigned) against the weights π.
    public init(assignments: [Int], expected: [Double]) {
        var counts = [Int](repeating: 0, count: expected.count)
        var unassigned = 0
        for k in assignments {
            if k >= 0 { counts[k] += 1 } else { unassigned += 1 }
        }
        self.init(counts: counts, unassigned: unassigned, expected: expected)
    }

    /// n, every point counted.
    public var total: Int { counts.reduce(unassigned, +) }

    /// ŵ_k = n_k / n.
    public var estimated: [Double] {
        let n = Double(max(total, 1))
        return counts.map { Double($0) / n }
    }

    /// ½ Σ_k |ŵ_k − π_k| + ½ n_unassigned / n.
    public var totalVariation: Double {
        let n = Double(max(total, 1))
        var sum = Double(unassigned) / n
        for (w, p) in zip(estimated, expected) { sum += abs(w - p) }
        return 0.5 * sum
    }

    /// ½ Σ_k √(2 π_k (1 − π_k) / (π n)): the leading-order expected TV of n exact samples.
    public static func expectedSamplingTotalVariation(weights: [Double], count n: Int) -> Double {
        guard n > 0 else { return .nan }
        return 0.5 * weights.reduce(0) { $0 + (2 * $1 * (1 - $1) / (Double.pi * Double(n))).squareRoot() }
    }
}
