import Foundation
@testable import Tweedie

/// Monte Carlo moments with their standard errors, for the sampling tests.
///
/// Moments are taken about a *known* centre c (not the sample mean), so they are unbiased and
/// the standard error of each is exact for an independent sample: for the mean of x_i,
/// √(Var x_i / n); for the second moment E[(x_i − c_i)(x_j − c_j)], the empirical standard
/// deviation of the products over √n.
struct SampleMoments {
    let count: Int
    /// Mean of each coordinate.
    let mean: [Double]
    /// E[(x − c)(x − c)ᵀ], D×D.
    let secondMoment: Matrix
    /// Standard error of each entry of ``secondMoment``.
    let secondMomentError: Matrix

    init(_ x: Matrix, rows: [Int]? = nil, centre: [Double]) {
        let d = x.columns
        let selected = rows ?? Array(0..<x.rows)
        let n = Double(selected.count)
        var mean = [Double](repeating: 0, count: d)
        var sum = Matrix(rows: d, columns: d), sumSquares = Matrix(rows: d, columns: d)
        var centred = [Double](repeating: 0, count: d)
        for r in selected {
            for i in 0..<d {
                mean[i] += x[r, i]
                centred[i] = x[r, i] - centre[i]
            }
            for i in 0..<d {
                for j in 0...i {
                    let p = centred[i] * centred[j]
                    sum[i, j] += p
                    sumSquares[i, j] += p * p
                }
            }
        }
        var second = Matrix(rows: d, columns: d), error = Matrix(rows: d, columns: d)
        for i in 0..<d {
            for j in 0...i {
                let m = sum[i, j] / n
                let variance = max(sumSquares[i, j] / n - m * m, 0)
                second[i, j] = m; second[j, i] = m
                error[i, j] = (variance / n).squareRoot(); error[j, i] = error[i, j]
            }
        }
        count = selected.count
        self.mean = mean.map { $0 / n }
        secondMoment = second
        secondMomentError = error
    }
}

/// Indices where `mean` and `covariance` (the exact values) disagree with the sample beyond
/// `z` standard errors: |m̂_i − m_i| ≤ z √(C_ii/n) and, for the Gaussian case (`gaussian`),
/// |Ĉ_ij − C_ij| ≤ z √((C_ii C_jj + C_ij²)/n), else z times the empirical standard error;
/// `slack` absorbs the rounding of the sums (about n·ε relative) where a variance is exactly zero.
func monteCarloMismatches(_ moments: SampleMoments, mean: [Double], covariance: Matrix, z: Double = 5,
                          gaussian: Bool, slack: Double = 1e-9) -> [String] {
    let n = Double(moments.count), d = mean.count
    var problems: [String] = []
    for i in 0..<d {
        let bound = z * (covariance[i, i] / n).squareRoot() + slack
        if abs(moments.mean[i] - mean[i]) > bound {
            problems.append("mean[\(i)] = \(moments.mean[i]), expected \(mean[i]) ± \(bound)")
        }
        for j in 0...i {
            let error = gaussian
                ? ((covariance[i, i] * covariance[j, j] + covariance[i, j] * covariance[i, j]) / n).squareRoot()
                : moments.secondMomentError[i, j]
            let bound = z * error + slack
            if abs(moments.secondMoment[i, j] - covariance[i, j]) > bound {
                problems.append("cov[\(i), \(j)] = \(moments.secondMoment[i, j]), expected \(covariance[i, j]) ± \(bound)")
            }
        }
    }
    return problems
}

/// Runs `body` with ``Parallel/maximumThreads`` set to `threads`, restoring it after. (Other
/// tests may run meanwhile; results never depend on the thread count, so they are unaffected.)
func withThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
    let saved = Parallel.maximumThreads
    Parallel.maximumThreads = threads
    defer { Parallel.maximumThreads = saved }
    return try body()
}

/// Rows `firstSample ..< firstSample + count` drawn in consecutive batches of `batch`, stacked.
func inBatches(count: Int, of batch: Int, _ draw: (_ first: Int, _ count: Int) throws -> Matrix) rethrows -> Matrix {
    var elements: [Double] = []
    var columns = 0
    var first = 0
    while first < count {
        let m = try draw(first, min(batch, count - first))
        elements += m.elements
        columns = m.columns
        first += batch
    }
    return Matrix(rows: count, columns: columns, elements: elements)
}
