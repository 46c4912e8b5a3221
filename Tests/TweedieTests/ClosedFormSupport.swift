import Foundation
import Testing
@testable import Tweedie

/// Helpers shared by the closed-form, KL, SDE, Tweedie-formula and ELBO tests.
enum ClosedFormSupport {
    /// A full 2×2 noise covariance with correlation 0.6 and unequal scales.
    static func correlatedNoise() throws -> NoiseCovariance {
        try NoiseCovariance(.full(Matrix([[1.5, 0.6 * (1.5 * 0.7).squareRoot()], [0.6 * (1.5 * 0.7).squareRoot(), 0.7]])),
                            dimension: 2)
    }

    /// The sample mean and the (1/n) sample covariance of the rows of `x`.
    static func moments(_ x: Matrix) -> (mean: [Double], covariance: Matrix) {
        let n = Double(x.rows), d = x.columns
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<x.rows { for i in 0..<d { mean[i] += x[r, i] } }
        mean = mean.map { $0 / n }
        var c = Matrix(rows: d, columns: d)
        for r in 0..<x.rows {
            for i in 0..<d { for j in 0..<d { c[i, j] += (x[r, i] - mean[i]) * (x[r, j] - mean[j]) } }
        }
        for e in c.elements.indices { c.elements[e] /= n }
        return (mean, c)
    }

    /// Differences between Monte Carlo moments of n Gaussian draws and the exact mean and
    /// covariance that exceed `z` standard errors: SE(mean_i) = √(C_ii/n) and
    /// SE(cov_ij) = √((C_ii C_jj + C_ij²)/n) (Gaussian fourth moments). Plus `slack` for a known
    /// deterministic bias (e.g. of a time discretization).
    static func mismatches(mean: [Double], covariance: Matrix, expectedMean: [Double], expectedCovariance c: Matrix,
                           count: Int, z: Double = 4.5, slack: Double = 0) -> [String] {
        let n = Double(count), d = mean.count
        var problems: [String] = []
        for i in 0..<d {
            let se = (c[i, i] / n).squareRoot()
            if abs(mean[i] - expectedMean[i]) > z * se + slack {
                problems.append("mean[\(i)] = \(mean[i]) vs \(expectedMean[i]) (SE \(se))")
            }
            for j in 0..<d {
                let se = ((c[i, i] * c[j, j] + c[i, j] * c[i, j]) / n).squareRoot()
                if abs(covariance[i, j] - c[i, j]) > z * se + slack {
                    problems.append("cov[\(i),\(j)] = \(covariance[i, j]) vs \(c[i, j]) (SE \(se))")
                }
            }
        }
        return problems
    }

    /// log N(x; m, S) for dense S via its inverse and determinant (tests only; an independent
    /// route from the factor-based library code).
    static func logGaussian(_ x: [Double], mean m: [Double], covariance s: Matrix) throws -> Double {
        let cholesky = try CholeskyFactor(s)
        let inverse = cholesky.inverse()
        let d = x.count
        var q = 0.0
        for i in 0..<d { for j in 0..<d { q += (x[i] - m[i]) * inverse[i, j] * (x[j] - m[j]) } }
        return -0.5 * q - 0.5 * Double(d) * logTwoPi - cholesky.logDeterminant
    }

    /// log N(·; m, S) with S⁻¹ and log det S computed once (tests only).
    struct DenseGaussian {
        let mean: [Double]
        let inverse: Matrix
        let constant: Double

        init(mean: [Double], covariance: Matrix) throws {
            let cholesky = try CholeskyFactor(covariance)
            self.mean = mean
            inverse = cholesky.inverse()
            constant = -0.5 * Double(mean.count) * logTwoPi - cholesky.logDeterminant
        }

        func logDensity(_ x: [Double]) -> Double {
            var q = 0.0
            for i in mean.indices { for j in mean.indices { q += (x[i] - mean[i]) * inverse[i, j] * (x[j] - mean[j]) } }
            return -0.5 * q + constant
        }
    }

    /// A scaled dense matrix.
    static func scaled(_ m: Matrix, _ c: Double) -> Matrix {
        Matrix(rows: m.rows, columns: m.columns, elements: m.elements.map { c * $0 })
    }

    static func sum(_ a: Matrix, _ b: Matrix) -> Matrix {
        Matrix(rows: a.rows, columns: a.columns, elements: zip(a.elements, b.elements).map { $0 + $1 })
    }

    static func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }
}
