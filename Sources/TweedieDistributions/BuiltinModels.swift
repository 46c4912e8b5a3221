import Foundation
import TweedieLinearAlgebra

/// Named models that ship with Tweedie, for demos, teaching and tests.
public enum BuiltinModels {
    public struct Entry: Sendable {
        public let name: String
        public let summary: String
        public let make: @Sendable () -> MixtureModel
    }

    public static let all: [Entry] = [
        Entry(name: "ring8",
              summary: "2-D: 8 well-separated modes on a circle of radius 4, unequal weights and shapes",
              make: { ring8() }),
        Entry(name: "chain16",
              summary: "16 atoms × 3-D: extended, helical and hairpin chains; harmonic-chain (Kronecker) noise",
              make: { chain16() }),
        Entry(name: "spiral-dirac",
              summary: "2-D: empirical distribution of 200 points on a spiral (Dirac components)",
              make: { spiralDirac() }),
    ]

    public static var names: [String] { all.map(\.name) }

    /// The model called `name`, or nil.
    public static func named(_ name: String) -> MixtureModel? {
        all.first { $0.name == name }?.make()
    }

    /// Eight modes at angles 2πk/8 on a circle of radius 4, weights ∝ k+1, each an ellipse with
    /// its own orientation and axes (standard deviations 0.12–0.35; neighbours ≥ 8 sd apart).
    public static func ring8() -> MixtureModel {
        let k = 8
        let raw = (0..<k).map { Double($0 + 1) }
        let total = raw.reduce(0, +)
        var weights = raw.map { $0 / total }
        weights[k - 1] = 1 - weights[..<(k - 1)].reduce(0, +)
        var means = Matrix(rows: k, columns: 2)
        var covariances: [Matrix] = []
        for c in 0..<k {
            let angle = 2 * Double.pi * Double(c) / Double(k)
            means[c, 0] = 4 * cos(angle)
            means[c, 1] = 4 * sin(angle)
            let major = 0.15 + 0.025 * Double(c), minor = 0.12 + 0.01 * Double((3 * c) % k)
            let tilt = angle + Double(c) * 0.4
            let (cs, sn) = (cos(tilt), sin(tilt))
            let (a, b) = (major * major, minor * minor)
            covariances.append(Matrix([[a * cs * cs + b * sn * sn, (a - b) * cs * sn],
                                       [(a - b) * cs * sn, a * sn * sn + b * cs * cs]]))
        }
        let prior = try! GaussianMixture(weights: weights, means: means, covariances: .full(covariances))
        return try! MixtureModel(prior: prior, name: "ring8")
    }

    /// A = (P + δI)⁻¹ scaled to unit mean variance, P the Laplacian of a path of `atoms` nodes:
    /// the covariance of a harmonic chain (springs between neighbours), δ pinning its centre.
    public static func harmonicChainCovariance(atoms n: Int, pinning delta: Double = 0.1) -> Matrix {
        var precision = Matrix(rows: n, columns: n)
        for i in 0..<n {
            precision[i, i] = (i == 0 || i == n - 1 ? 1 : 2) + delta
            if i + 1 < n { precision[i, i + 1] = -1; precision[i + 1, i] = -1 }
        }
        var a = try! CholeskyFactor(precision).inverse()
        let meanVariance = a.diagonalElements.reduce(0, +) / Double(n)
        for i in 0..<a.elements.count { a.elements[i] /= meanVariance }
        return a
    }

    /// Three conformations of a 16-atom chain (bond length 1): extended, α-helix-like, hairpin,
    /// weights 0.5/0.3/0.2. Component covariances are harmonic fluctuations of different stiffness
    /// plus a small isotropic part (full 48×48 matrices); the noise is harmonic-chain, A ⊗ I₃.
    public static func chain16() -> MixtureModel {
        let n = 16, d = 3, dim = n * d
        var means = Matrix(rows: 3, columns: dim)
        for i in 0..<n {
            let s = Double(i)
            let extended = [s - 7.5, 0.3 * (i % 2 == 0 ? 1 : -1), 0]
            let turn = s * 100 * Double.pi / 180
            let helix = [0.6 * cos(turn), 0.6 * sin(turn), 0.4 * (s - 7.5)]
            let strand = i < 8 ? s : 15 - s
            let hairpin = [strand - 3.5, i < 8 ? 0.5 : -0.5, 0.2 * (i % 2 == 0 ? 1 : -1)]
            for c in 0..<d {
                means[0, i * d + c] = extended[c]
                means[1, i * d + c] = helix[c]
                means[2, i * d + c] = hairpin[c]
            }
        }
        var covariances: [Matrix] = []
        for (scale, delta) in [(0.15, 0.5), (0.08, 1.0), (0.2, 0.3)] {
            let a = harmonicChainCovariance(atoms: n, pinning: delta)
            var lambda = Matrix(rows: dim, columns: dim)
            for i in 0..<n { for j in 0..<n { for c in 0..<d {
                lambda[i * d + c, j * d + c] = scale * scale * a[i, j]
            } } }
            for i in 0..<dim { lambda[i, i] += 0.0025 }
            covariances.append(lambda)
        }
        let prior = try! GaussianMixture(weights: [0.5, 0.3, 0.2], means: means, covariances: .full(covariances))
        let noise = try! NoiseCovariance(.kronecker(harmonicChainCovariance(atoms: n), blockSize: d), dimension: dim)
        return try! MixtureModel(prior: prior, noise: noise, shape: [n, d], name: "chain16")
    }

    /// 200 equally weighted points on the spiral r = 0.4 + 0.35θ, θ ∈ [0, 4π].
    public static func spiralDirac() -> MixtureModel {
        let k = 200
        var means = Matrix(rows: k, columns: 2)
        for c in 0..<k {
            let theta = 4 * Double.pi * Double(c) / Double(k - 1)
            let r = 0.4 + 0.35 * theta
            means[c, 0] = r * cos(theta)
            means[c, 1] = r * sin(theta)
        }
        var weights = [Double](repeating: 1 / Double(k), count: k)
        weights[k - 1] = 1 - weights[..<(k - 1)].reduce(0, +)
        let prior = try! GaussianMixture(weights: weights, means: means, covariances: .dirac)
        return try! MixtureModel(prior: prior, name: "spiral-dirac")
    }
}
