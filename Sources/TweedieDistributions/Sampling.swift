import Foundation
import TweedieLinearAlgebra
import TweedieRandom

/// Exact sampling from the data distribution p_0 = Σ_k π_k N(μ_k, Λ_k) (docs/math.md §1).
///
/// Sample i is drawn from its own draws of a ``NoiseStream`` (see its layout):
///
/// 1. the component k is the inverse CDF of the weights at the uniform
///    u = `uniform(sample: i, step: componentChoiceStep, index: 0)`: the smallest k with
///    u · Σπ < π_0 + … + π_k (a component of weight 0 is never chosen);
/// 2. x_0 = μ_k + S_k z with z = `normals(sample: i, step: componentNoiseStep)` (D of them) and
///    S_k a square root of the component covariance, S_k S_kᵀ = Λ_k: for full and tied Λ_k the
///    pivoted Cholesky factor S_k = P L (Pᵀ Λ_k P = L Lᵀ, LAPACK's `dpstrf`), which is the plain
///    Cholesky factor up to a permutation when Λ_k is positive definite and stops at the numerical
///    rank r (pivot ≤ D ε max Λ_ii) when it is only semi-definite, leaving D − r zero columns; √v
///    elementwise for diagonal and spherical Λ_k; nothing for a Dirac component, x_0 = μ_k exactly.
///
/// Square roots are computed once, on construction. Sample i depends only on (seed, i): a
/// batch of 10 is bit for bit the first 10 rows of a batch of 1000, and batches compose through
/// `firstSample`. The products S_k z are plain loops in a fixed order, and batches are cut
/// into chunks of ``chunkSize`` rows processed on all cores with ``Parallel``, so the result never
/// depends on the thread count either.
///
/// ```swift
/// let sampler = MixtureSampler(model.prior)
/// let (points, components) = try sampler.sample(count: 1000, seed: 42)
/// ```
public struct MixtureSampler: Sendable {
    public let mixture: GaussianMixture
    /// π_0, π_0 + π_1, …: the CDF of the component index.
    let cumulativeWeights: [Double]
    let roots: SquareRoots

    /// The square roots of the component covariances, stored for the product S z.
    enum SquareRoots: Sendable {
        /// A pivoted Cholesky factor for each component.
        case dense([PivotedCholesky])
        /// One pivoted Cholesky factor shared by every component (`tied`).
        case tied(PivotedCholesky)
        /// Standard deviations, K×D.
        case diagonal(Matrix)
        /// One standard deviation per component.
        case spherical([Double])
        case dirac
    }

    /// Rows per parallel task.
    public static let chunkSize = 256

    public init(_ mixture: GaussianMixture) {
        self.mixture = mixture
        var running = 0.0
        cumulativeWeights = mixture.weights.map { running += $0; return running }
        switch mixture.covariances {
        case .full(let matrices):
            roots = .dense(matrices.map(PivotedCholesky.init))
        case .tied(let matrix):
            roots = .tied(PivotedCholesky(matrix))
        case .diagonal(let variances):
            roots = .diagonal(Matrix(rows: variances.rows, columns: variances.columns,
                                     elements: variances.elements.map { $0.squareRoot() }))
        case .spherical(let variances):
            roots = .spherical(variances.map { $0.squareRoot() })
        case .dirac:
            roots = .dirac
        }
    }

    public var dimension: Int { mixture.dimension }

    /// S_k, the square root of Λ_k used for sampling: S_k S_kᵀ = Λ_k (D×D; zero for Dirac).
    public func squareRoot(of k: Int) -> Matrix {
        precondition(k >= 0 && k < mixture.componentCount, "component \(k) is out of range")
        let d = dimension
        switch roots {
        case .dense(let factors): return factors[k].squareRoot
        case .tied(let factor): return factor.squareRoot
        case .diagonal(let deviations): return .diagonal(deviations.row(k))
        case .spherical(let deviations): return .diagonal([Double](repeating: deviations[k], count: d))
        case .dirac: return Matrix(rows: d, columns: d)
        }
    }

    /// The component chosen by the uniform `u` ∈ (0, 1): the smallest k with
    /// u · Σπ < π_0 + … + π_k (the inverse CDF of the weights).
    public func component(forUniform u: Double) -> Int {
        let target = u * cumulativeWeights[cumulativeWeights.count - 1]
        var low = 0, high = cumulativeWeights.count
        while low < high {
            let mid = (low + high) / 2
            if target < cumulativeWeights[mid] { high = mid } else { low = mid + 1 }
        }
        if low < cumulativeWeights.count { return low }
        // u · Σπ rounded up to Σπ: the last component of positive weight.
        return mixture.weights.lastIndex { $0 > 0 } ?? 0
    }

    /// Samples `firstSample ..< firstSample + count` of p_0 under `seed`, with the component
    /// each was drawn from.
    public func sample(count: Int, seed: UInt64,
                       firstSample: Int = 0) throws(ArgumentError) -> (points: Matrix, components: [Int]) {
        try Self.validate(count: count, firstSample: firstSample)
        let d = dimension
        try MemoryBudget.require("count", "\(count) samples × D = \(d)", elements: [count, d])
        var points = Matrix(rows: count, columns: d)
        var components = [Int](repeating: 0, count: count)
        let stream = NoiseStream(seed: seed)
        points.elements.withUnsafeMutableBufferPointer { pointBuffer in
            components.withUnsafeMutableBufferPointer { componentBuffer in
                let output = UncheckedSendable((pointBuffer.baseAddress, componentBuffer.baseAddress))
                Parallel.forEachChunk(of: count, size: Self.chunkSize) { rows in
                    let (x, k) = output.value
                    var z = [Double](repeating: 0, count: d)
                    z.withUnsafeMutableBufferPointer { z in
                        for row in rows {
                            let c = drawPoint(sample: firstSample + row, stream: stream, noise: z,
                                              into: x! + row * d)
                            k![row] = c
                        }
                    }
                }
            }
        }
        return (points, components)
    }

    /// Draws sample `sample` into `x` (D values), using `noise` (D values) as scratch for z;
    /// returns its component.
    @inline(__always)
    private func drawPoint(sample: Int, stream: NoiseStream, noise z: UnsafeMutableBufferPointer<Double>,
                           into x: UnsafeMutablePointer<Double>) -> Int {
        let d = dimension
        let k = mixture.componentCount == 1 ? 0
            : component(forUniform: stream.uniform(sample: sample, step: NoiseStream.componentChoiceStep))
        mixture.means.elements.withUnsafeBufferPointer { means in
            let mu = means.baseAddress! + k * d
            switch roots {
            case .dirac:
                for i in 0..<d { x[i] = mu[i] }
            case .spherical(let deviations):
                stream.normals(sample: sample, step: NoiseStream.componentNoiseStep, into: z)
                let s = deviations[k]
                for i in 0..<d { x[i] = mu[i] + s * z[i] }
            case .diagonal(let deviations):
                stream.normals(sample: sample, step: NoiseStream.componentNoiseStep, into: z)
                deviations.elements.withUnsafeBufferPointer { s in
                    for i in 0..<d { x[i] = mu[i] + s[k * d + i] * z[i] }
                }
            case .dense(let factors):
                stream.normals(sample: sample, step: NoiseStream.componentNoiseStep, into: z)
                factors[k].addProduct(z, mean: mu, into: x)
            case .tied(let factor):
                stream.normals(sample: sample, step: NoiseStream.componentNoiseStep, into: z)
                factor.addProduct(z, mean: mu, into: x)
            }
        }
        return k
    }

    static func validate(count: Int, firstSample: Int) throws(ArgumentError) {
        guard count >= 0 else { throw ArgumentError("count", "must be non-negative, got \(count)") }
        guard firstSample >= 0 else {
            throw ArgumentError("firstSample", "must be non-negative, got \(firstSample)")
        }
        guard count <= Int.max - firstSample else {
            throw ArgumentError("count", "firstSample + count overflows (\(firstSample) + \(count))")
        }
    }
}

/// A square root S = P L of a component covariance (S Sᵀ = Λ) from LAPACK's pivoted Cholesky
/// ``PivotedCholeskyFactor`` (Pᵀ Λ P = L Lᵀ, stopping at the numerical rank, so semi-definite
/// covariances sample exactly on their support), stored for the product S z.
struct PivotedCholesky: Sendable {
    let dimension: Int
    /// Lᵀ, row-major: row b holds column b of L, nonzero from position b on; rows ≥ `rank` are zero.
    let transposedFactor: [Double]
    /// Row a of Pᵀ Λ P is row `permutation[a]` of Λ.
    let permutation: [Int]
    let rank: Int

    init(_ lambda: Matrix) {
        // The covariance was validated positive semi-definite; dpstrf cannot fail on it.
        let factor = try! PivotedCholeskyFactor(lambda)
        dimension = lambda.rows
        transposedFactor = factor.transposedFactor.elements
        permutation = factor.permutation
        rank = factor.rank
    }

    /// S = P L as a dense matrix: S[permutation[a], b] = L[a, b].
    var squareRoot: Matrix {
        let n = dimension
        var s = Matrix(rows: n, columns: n)
        for b in 0..<rank { for a in b..<n { s[permutation[a], b] = transposedFactor[b * n + a] } }
        return s
    }

    /// x = μ + S z: (L z)_a = Σ_{b ≤ a} L_ab z_b summed over b = 0, 1, … in that order, then
    /// x[permutation[a]] = μ[permutation[a]] + (L z)_a.
    @inline(__always)
    func addProduct(_ z: UnsafeMutableBufferPointer<Double>, mean mu: UnsafePointer<Double>,
                    into x: UnsafeMutablePointer<Double>) {
        let n = dimension
        withUnsafeTemporaryAllocation(of: Double.self, capacity: n) { y in
            for a in 0..<n { y[a] = 0 }
            transposedFactor.withUnsafeBufferPointer { lt in
                for b in 0..<rank {
                    let zb = z[b]
                    let row = lt.baseAddress! + b * n
                    for a in b..<n { y[a] += zb * row[a] }
                }
            }
            for a in 0..<n { x[permutation[a]] = mu[permutation[a]] + y[a] }
        }
    }
}

extension GaussianMixture {
    /// Samples `firstSample ..< firstSample + count` of p_0 under `seed` (see ``MixtureSampler``,
    /// which keeps the square roots for repeated calls).
    public func sample(count: Int, seed: UInt64,
                       firstSample: Int = 0) throws(ArgumentError) -> (points: Matrix, components: [Int]) {
        try MixtureSampler(self).sample(count: count, seed: seed, firstSample: firstSample)
    }
}
