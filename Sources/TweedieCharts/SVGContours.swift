import Foundation
import TweedieIO
import TweedieDistributions
import TweedieLinearAlgebra

/// Values of a scalar field at the nodes of a regular nx × ny grid over a rectangle.
///
/// Node (i, j) sits at (x_i, y_j) with x_0 = xRange.lowerBound, x_{nx−1} = xRange.upperBound
/// (likewise y); its value is `values[j * nx + i]` (rows of constant y, bottom row first).
public struct ScalarGrid: Sendable, Equatable {
    public let nx: Int
    public let ny: Int
    public let xRange: ClosedRange<Double>
    public let yRange: ClosedRange<Double>
    public var values: [Double]

    public init(nx: Int, ny: Int, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>, values: [Double]) {
        precondition(nx >= 2 && ny >= 2, "a grid needs at least 2 × 2 nodes")
        precondition(values.count == nx * ny, "expected \(nx * ny) values, got \(values.count)")
        self.nx = nx
        self.ny = ny
        self.xRange = xRange
        self.yRange = yRange
        self.values = values
    }

    /// A grid holding f(x, y) at each node.
    public init(nx: Int, ny: Int, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                _ f: (Double, Double) -> Double) {
        var values = [Double](repeating: 0, count: nx * ny)
        let xs = (0..<nx).map { Self.coordinate($0, nx, xRange) }
        let ys = (0..<ny).map { Self.coordinate($0, ny, yRange) }
        for j in 0..<ny { for i in 0..<nx { values[j * nx + i] = f(xs[i], ys[j]) } }
        self.init(nx: nx, ny: ny, xRange: xRange, yRange: yRange, values: values)
    }

    private static func coordinate(_ i: Int, _ n: Int, _ range: ClosedRange<Double>) -> Double {
        i == n - 1 ? range.upperBound
            : range.lowerBound + (range.upperBound - range.lowerBound) * Double(i) / Double(n - 1)
    }

    public func x(_ i: Int) -> Double { Self.coordinate(i, nx, xRange) }
    public func y(_ j: Int) -> Double { Self.coordinate(j, ny, yRange) }
    public var dx: Double { (xRange.upperBound - xRange.lowerBound) / Double(nx - 1) }
    public var dy: Double { (yRange.upperBound - yRange.lowerBound) / Double(ny - 1) }

    public subscript(i: Int, j: Int) -> Double { values[j * nx + i] }

    /// All nodes as the rows of an (nx·ny) × 2 matrix, in the order of `values`.
    public var nodes: Matrix {
        var m = Matrix(rows: nx * ny, columns: 2)
        for j in 0..<ny {
            let y = self.y(j)
            for i in 0..<nx {
                m[j * nx + i, 0] = x(i)
                m[j * nx + i, 1] = y
            }
        }
        return m
    }

    /// The largest finite value, or nil.
    public var maximum: Double? { values.filter { $0.isFinite }.max() }
}

/// A polyline of a contour; closed ones return to their first point (not repeated).
public struct ContourLine: Sendable, Equatable {
    public var points: [SIMD2<Double>]
    public var isClosed: Bool
}

/// Contour lines of a ``ScalarGrid`` by marching squares.
///
/// A node is *inside* when its value is ≥ the level. Each cell edge whose ends differ carries
/// one crossing, placed by linear interpolation; it is computed from the edge alone, so the two
/// cells sharing an edge agree exactly and segments join into polylines. In a saddle cell (two
/// diagonal corners inside, two outside) the mean of the four corners decides: the corners
/// whose state differs from the centre's are cut off, each by its own segment. Cells with a NaN
/// corner produce nothing.
public enum MarchingSquares {
    /// The crossings of one level, cell by cell, as pairs of points.
    public static func segments(of grid: ScalarGrid, at level: Double) -> [(SIMD2<Double>, SIMD2<Double>)] {
        edgeSegments(of: grid, at: level).map { (crossing(grid, $0.0, level), crossing(grid, $0.1, level)) }
    }

    /// The crossings of one level joined into polylines (closed where the contour closes inside
    /// the grid, open where it leaves it).
    public static func lines(of grid: ScalarGrid, at level: Double) -> [ContourLine] {
        let segments = edgeSegments(of: grid, at: level)
        guard !segments.isEmpty else { return [] }
        // Each edge lies in at most two cells, so it ends at most two segments.
        var incident = [Int: (Int, Int)]()
        for (s, segment) in segments.enumerated() {
            for edge in [segment.0, segment.1] {
                if let (first, _) = incident[edge] { incident[edge] = (first, s) } else { incident[edge] = (s, -1) }
            }
        }
        var used = [Bool](repeating: false, count: segments.count)
        var lines: [ContourLine] = []

        func trace(from start: Int, leaving startEdge: Int) {
            used[start] = true
            let (a, b) = segments[start]
            var edges = [startEdge, a == startEdge ? b : a]
            var closed = false
            while let (s1, s2) = incident[edges.last!] {
                let next = !used[s1] ? s1 : (s2 >= 0 && !used[s2] ? s2 : -1)
                if next < 0 {
                    closed = edges.count > 2 && edges.last! == edges.first!
                    break
                }
                used[next] = true
                let (c, d) = segments[next]
                edges.append(c == edges.last! ? d : c)
            }
            if closed { edges.removeLast() }
            lines.append(ContourLine(points: edges.map { crossing(grid, $0, level) }, isClosed: closed))
        }

        // Open lines first, from an end that lies on one segment only; then the closed loops.
        for (s, segment) in segments.enumerated() where !used[s] {
            if incident[segment.0]!.1 < 0 { trace(from: s, leaving: segment.0) }
            else if incident[segment.1]!.1 < 0 { trace(from: s, leaving: segment.1) }
        }
        for (s, segment) in segments.enumerated() where !used[s] { trace(from: s, leaving: segment.0) }
        return lines
    }

    // Edge ids: 2·(j·nx + i) is the horizontal edge from node (i, j) to (i+1, j);
    // 2·(j·nx + i) + 1 the vertical edge from (i, j) to (i, j+1).

    static func edgeSegments(of grid: ScalarGrid, at level: Double) -> [(Int, Int)] {
        let nx = grid.nx, v = grid.values
        var result: [(Int, Int)] = []
        for j in 0..<(grid.ny - 1) {
            for i in 0..<(nx - 1) {
                // Corners counter-clockwise from bottom-left: a (i, j), b (i+1, j), c (i+1, j+1), d (i, j+1).
                let corners = [v[j * nx + i], v[j * nx + i + 1], v[(j + 1) * nx + i + 1], v[(j + 1) * nx + i]]
                if corners.contains(where: { $0.isNaN }) { continue }
                let inside = corners.map { $0 >= level }
                if inside.allSatisfy({ $0 }) || !inside.contains(true) { continue }
                // Edge k joins corner k and corner k+1: bottom, right, top, left.
                let edges = [2 * (j * nx + i), 2 * (j * nx + i + 1) + 1, 2 * ((j + 1) * nx + i), 2 * (j * nx + i) + 1]
                let crossed = (0..<4).filter { inside[$0] != inside[($0 + 1) % 4] }
                if crossed.count == 2 {
                    result.append((edges[crossed[0]], edges[crossed[1]]))
                } else {
                    // Saddle: cut off each corner whose state differs from the centre's. Corner k
                    // touches edges k − 1 and k.
                    let centre = corners.reduce(0, +) / 4 >= level
                    for k in 0..<4 where inside[k] != centre {
                        result.append((edges[(k + 3) % 4], edges[k]))
                    }
                }
            }
        }
        return result
    }

    static func crossing(_ grid: ScalarGrid, _ edge: Int, _ level: Double) -> SIMD2<Double> {
        let node = edge / 2, i = node % grid.nx, j = node / grid.nx
        let (i2, j2) = edge % 2 == 0 ? (i + 1, j) : (i, j + 1)
        let a = grid[i, j], b = grid[i2, j2]
        var t = (level - a) / (b - a)
        t = t.isFinite ? min(max(t, 0), 1) : 0.5
        let p = SIMD2(grid.x(i), grid.y(j)), q = SIMD2(grid.x(i2), grid.y(j2))
        return p + t * (q - p)
    }
}

/// A symmetric 2 × 2 matrix [[xx, xy], [xy, yy]], e.g. a covariance in the plane.
public struct PlanarCovariance: Sendable, Equatable {
    public var xx: Double, xy: Double, yy: Double

    public init(xx: Double, xy: Double, yy: Double) {
        self.xx = xx
        self.xy = xy
        self.yy = yy
    }

    public static let zero = PlanarCovariance(xx: 0, xy: 0, yy: 0)

    public static func + (a: Self, b: Self) -> Self { Self(xx: a.xx + b.xx, xy: a.xy + b.xy, yy: a.yy + b.yy) }
    public static func * (s: Double, a: Self) -> Self { Self(xx: s * a.xx, xy: s * a.xy, yy: s * a.yy) }

    /// Eigenvalues, ascending.
    public var eigenvalues: (Double, Double) {
        let mid = (xx + yy) / 2, radius = ((xx - yy) * (xx - yy) / 4 + xy * xy).squareRoot()
        return (mid - radius, mid + radius)
    }

    /// Positive definite with condition number below 1/`tolerance`.
    public func isPositiveDefinite(tolerance: Double = 1e-12) -> Bool {
        let (low, high) = eigenvalues
        return high > 0 && low > tolerance * high
    }
}

/// A Gaussian mixture in the plane, Σ_k π_k N(m_k, C_k): the image of a D-dimensional mixture
/// under a linear map to 2-D, whose density is then exact (a linear image of a Gaussian is
/// Gaussian: N(μ, Λ) ↦ N(Pμ, PΛPᵀ)).
public struct PlanarMixture: Sendable, Equatable {
    public let weights: [Double]
    public let means: [SIMD2<Double>]
    public let covariances: [PlanarCovariance]

    public init(weights: [Double], means: [SIMD2<Double>], covariances: [PlanarCovariance]) {
        precondition(weights.count == means.count && means.count == covariances.count)
        self.weights = weights
        self.means = means
        self.covariances = covariances
    }

    /// The image of `mixture` under x ↦ P(x − origin), where the two rows of `axes` (2 × D) are P.
    public init(projecting mixture: GaussianMixture, onto axes: Matrix, origin: [Double]) {
        let d = mixture.dimension
        precondition(axes.rows == 2 && axes.columns == d && origin.count == d)
        let p0 = axes.row(0), p1 = axes.row(1)
        func dot(_ u: [Double], _ v: [Double]) -> Double { zip(u, v).reduce(0) { $0 + $1.0 * $1.1 } }
        var means: [SIMD2<Double>] = []
        var covariances: [PlanarCovariance] = []
        for k in 0..<mixture.componentCount {
            let centred = (0..<d).map { mixture.means[k, $0] - origin[$0] }
            means.append(SIMD2(dot(p0, centred), dot(p1, centred)))
            switch mixture.covariances {
            case .dirac:
                covariances.append(.zero)
            case .spherical(let v):
                covariances.append(PlanarCovariance(xx: v[k] * dot(p0, p0), xy: v[k] * dot(p0, p1),
                                                    yy: v[k] * dot(p1, p1)))
            case .diagonal(let v):
                var c = PlanarCovariance.zero
                for i in 0..<d {
                    c = c + v[k, i] * PlanarCovariance(xx: p0[i] * p0[i], xy: p0[i] * p1[i], yy: p1[i] * p1[i])
                }
                covariances.append(c)
            case .full, .tied:
                covariances.append(Self.project(mixture.covariance(of: k), p0, p1))
            }
        }
        self.init(weights: mixture.weights, means: means, covariances: covariances)
    }

    /// P A Pᵀ for a D × D matrix A, P's rows being p0 and p1.
    static func project(_ a: Matrix, _ p0: [Double], _ p1: [Double]) -> PlanarCovariance {
        var c = PlanarCovariance.zero
        for i in 0..<a.rows {
            var a0 = 0.0, a1 = 0.0   // (A pᵀ)_i
            for j in 0..<a.columns {
                a0 += a[i, j] * p0[j]
                a1 += a[i, j] * p1[j]
            }
            c.xx += p0[i] * a0
            c.xy += p0[i] * a1
            c.yy += p1[i] * a1
        }
        return c
    }

    /// P Σ Pᵀ for the forward-noise covariance Σ = L Lᵀ: the Gram matrix of the rows Lᵀp.
    public static func project(_ noise: NoiseCovariance, onto axes: Matrix) -> PlanarCovariance {
        precondition(axes.rows == 2 && axes.columns == noise.dimension)
        let m = noise.applying(.unwhitenTransposed, to: axes)
        let r0 = m.row(0), r1 = m.row(1)
        func dot(_ u: [Double], _ v: [Double]) -> Double { zip(u, v).reduce(0) { $0 + $1.0 * $1.1 } }
        return PlanarCovariance(xx: dot(r0, r0), xy: dot(r0, r1), yy: dot(r1, r1))
    }

    /// The two leading principal axes of p_0, the eigenvectors of its covariance
    /// Σ_k π_k (Λ_k + (μ_k − μ̄)(μ_k − μ̄)ᵀ) with the two largest eigenvalues, as the rows of a
    /// 2 × D matrix (each vector's largest-magnitude entry made positive); with those
    /// eigenvalues, the mean μ̄ and the total variance (the trace).
    public static func principalAxes(of mixture: GaussianMixture) throws(LinearAlgebraError)
        -> (axes: Matrix, variances: [Double], mean: [Double], totalVariance: Double) {
        let d = mixture.dimension
        precondition(d >= 2, "principal axes need D ≥ 2")
        let mean = mixture.mean
        var total = Matrix(rows: d, columns: d)
        for k in 0..<mixture.componentCount where mixture.weights[k] > 0 {
            let w = mixture.weights[k]
            let lambda = mixture.covariance(of: k)
            let centred = (0..<d).map { mixture.means[k, $0] - mean[$0] }
            for i in 0..<d {
                for j in 0..<d { total[i, j] += w * (lambda[i, j] + centred[i] * centred[j]) }
            }
        }
        let eig = try SymmetricEigendecomposition(total.symmetrized)
        var axes = Matrix(rows: 2, columns: d)
        for (row, column) in [(0, d - 1), (1, d - 2)] {
            var v = (0..<d).map { eig.vectors[$0, column] }
            let largest = v.indices.max { abs(v[$0]) < abs(v[$1]) }!
            if v[largest] < 0 { v = v.map { -$0 } }
            axes.setRow(row, to: v)
        }
        return (axes, [eig.values[d - 1], eig.values[d - 2]], mean, total.diagonalElements.reduce(0, +))
    }

    /// The same mixture with `extra` added to every covariance (a convolution with N(0, extra)).
    public func adding(_ extra: PlanarCovariance) -> PlanarMixture {
        PlanarMixture(weights: weights, means: means, covariances: covariances.map { $0 + extra })
    }

    /// Whether the mixture has a density: every component of positive weight has a positive-
    /// definite covariance (condition number below 1/`tolerance`).
    public func hasDensity(tolerance: Double = 1e-12) -> Bool {
        zip(weights, covariances).allSatisfy { $0.0 == 0 || $0.1.isPositiveDefinite(tolerance: tolerance) }
    }

    public var mean: SIMD2<Double> { zip(weights, means).reduce(.zero) { $0 + $1.0 * $1.1 } }

    /// The covariance of the mixture: Σ π_k (C_k + (m_k − m̄)(m_k − m̄)ᵀ).
    public var covariance: PlanarCovariance {
        let m = mean
        var c = PlanarCovariance.zero
        for k in weights.indices {
            let e = means[k] - m
            c = c + weights[k] * (covariances[k] + PlanarCovariance(xx: e.x * e.x, xy: e.x * e.y, yy: e.y * e.y))
        }
        return c
    }

    /// log density at each point (log-sum-exp over the components of positive weight and
    /// positive-definite covariance; −∞ if there are none).
    public func logDensity(at points: [SIMD2<Double>]) -> [Double] {
        // Per component: log π − log 2π − log det L, and L⁻¹ for the Cholesky factor
        // L = [[l11, 0], [l21, l22]] of C.
        struct Term { let constant, l11, l21, l22: Double; let mean: SIMD2<Double> }
        var terms: [Term] = []
        for k in weights.indices where weights[k] > 0 && covariances[k].isPositiveDefinite() {
            let c = covariances[k]
            let l11 = c.xx.squareRoot(), l21 = c.xy / l11, l22 = max(c.yy - l21 * l21, 0).squareRoot()
            guard l22 > 0 else { continue }
            terms.append(Term(constant: log(weights[k]) - logTwoPi - log(l11) - log(l22),
                              l11: l11, l21: l21, l22: l22, mean: means[k]))
        }
        var result = [Double](repeating: -.infinity, count: points.count)
        guard !terms.isEmpty else { return result }
        let chunk = 256
        result.withUnsafeMutableBufferPointer { buffer in
            let output = UncheckedSendable(buffer.baseAddress!)
            Parallel.forEachChunk(of: points.count, size: chunk) { range in
                var exponents = [Double](repeating: 0, count: terms.count)
                for p in range {
                    var largest = -Double.infinity
                    for (t, term) in terms.enumerated() {
                        let e = points[p] - term.mean
                        let z0 = e.x / term.l11, z1 = (e.y - term.l21 * z0) / term.l22
                        exponents[t] = term.constant - 0.5 * (z0 * z0 + z1 * z1)
                        largest = max(largest, exponents[t])
                    }
                    var sum = 0.0
                    for a in exponents { sum += exp(a - largest) }
                    output.value[p] = largest + log(sum)
                }
            }
        }
        return result
    }
}
