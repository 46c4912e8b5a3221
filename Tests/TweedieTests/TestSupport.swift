import Foundation
import Testing
@testable import Tweedie

/// A small seeded generator for test data (SplitMix64 + Box–Muller); tests only.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(nextUInt64() >> 11) * 0x1p-53 }
    mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    mutating func normals(_ n: Int) -> [Double] { (0..<n).map { _ in normal() } }
    mutating func matrix(_ rows: Int, _ columns: Int, scale: Double = 1) -> Matrix {
        Matrix(rows: rows, columns: columns, elements: normals(rows * columns).map { $0 * scale })
    }
    /// A random SPD matrix A Aᵀ/n + shift·I.
    mutating func spd(_ n: Int, shift: Double = 0.3) -> Matrix {
        let a = matrix(n, n)
        var s = BLAS.product(a, .none, a, .transpose)
        for i in 0..<n { for j in 0..<n { s[i, j] /= Double(n) } ; s[i, i] += shift }
        return s.symmetrized
    }
    mutating func weights(_ k: Int) -> [Double] {
        let w = (0..<k).map { _ in 0.2 + uniform() }
        let total = w.reduce(0, +)
        var normalized = w.map { $0 / total }
        normalized[k - 1] = 1 - normalized[..<(k - 1)].reduce(0, +)
        return normalized
    }
}

func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// max |a − b| / (atol + rtol |b|) ≤ 1 elementwise.
func isClose(_ a: [Double], _ b: [Double], rtol: Double = 1e-9, atol: Double = 1e-12) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= atol + rtol * abs($1) }
}

func isClose(_ a: Matrix, _ b: Matrix, rtol: Double = 1e-9, atol: Double = 1e-12) -> Bool {
    a.rows == b.rows && a.columns == b.columns && isClose(a.elements, b.elements, rtol: rtol, atol: atol)
}

/// Dense Σ · v for each row (tests only).
func applyDense(_ m: Matrix, toRows x: Matrix) -> Matrix { BLAS.product(x, .none, m, .transpose) }
