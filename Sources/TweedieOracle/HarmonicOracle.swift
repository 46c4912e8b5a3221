import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra

/// The exact oracle of a Gaussian-mixture (or data-set) prior on the zero-centre-of-mass subspace
/// under a harmonic process (docs/math.md §13.4): at each t, the mode coordinates rescaled by a(t)
/// make it the ordinary oracle of §2 with the diagonal noise covariance diag((s ⊘ a)²).
///
/// ```swift
/// let process = try HarmonicProcess.chain(atoms: 16)
/// let oracle = try HarmonicOracle(prior: conformers, process: process)   // prior on R^{16×3}
/// let r = try oracle.evaluate(x, at: 0.5)    // log p_t, score, E[x_0 | x_t] on R^{16×3}
/// ```
public struct HarmonicOracle: Sendable {
    public let process: HarmonicProcess
    /// The prior in mode coordinates (dimension (N − 1)·d).
    public let modePrior: GaussianMixture

    /// The marginal quantities at B points (rows), back on R^{N×d}.
    public struct Result: Sendable {
        /// log p_t(x) on V, in (N − 1)·d degrees of freedom.
        public var logDensity: [Double]
        /// ∇ log p_t(x), on V (B × N d).
        public var score: Matrix
        /// E[x_0 | x_t], on V (B × N d).
        public var denoised: Matrix
        /// p(k | x_t), B × K.
        public var responsibilities: Matrix
        /// Δ log p_t(x), the Laplacian on V, when asked for (docs/math.md §13.5); else empty.
        public var laplacian: [Double] = []
    }

    /// `prior` is a mixture on R^{N×d} (dimension N·d, atoms major); it is taken on V (its centred law).
    public init(prior: GaussianMixture, process: HarmonicProcess) throws(ArgumentError) {
        guard prior.dimension == process.atoms * process.axes else {
            throw ArgumentError("prior", "has dimension \(prior.dimension); the process moves \(process.atoms) atoms × "
                                + "\(process.axes) = \(process.atoms * process.axes) coordinates")
        }
        let covariances: ComponentCovariances
        func inModes(_ m: Matrix) -> Matrix { process.modes(process.modes(m).transposed) }  // M Λ Mᵀ
        switch prior.covariances {
        case .dirac: covariances = .dirac
        case .spherical(let v): covariances = .spherical(v)
        case .tied(let m): covariances = .tied(inModes(m))
        case .full(let ms): covariances = .full(ms.map(inModes))
        case .diagonal(let v): covariances = .full((0..<v.rows).map { inModes(.diagonal(v.row($0))) })
        }
        do {
            modePrior = try GaussianMixture(weights: prior.weights, means: process.modes(prior.means),
                                            covariances: covariances)
        } catch {
            throw ArgumentError("prior", "\(error)")
        }
        self.process = process
    }

    /// The oracle at time t > 0 for the rows of `x` (B × N d; points off V are taken at their projection).
    public func evaluate(_ x: Matrix, at t: Double, laplacian: Bool = false) throws(ArgumentError) -> Result {
        guard t.isFinite, t > 0 else { throw ArgumentError("t", "must be finite and > 0, got \(t)") }
        guard x.columns == process.atoms * process.axes else {
            throw ArgumentError("x", "points of \(x.columns) coordinates; the process moves "
                                + "\(process.atoms * process.axes)")
        }
        let (a, s2) = process.coefficients(at: t)
        var noise = [Double](repeating: 0, count: a.count)
        for j in a.indices {
            noise[j] = s2[j] / (a[j] * a[j])
            guard noise[j].isFinite, noise[j] > 0 else {
                throw ArgumentError("t", "\(t) is too large: mode \(j / process.axes) has forgotten its start "
                                    + "(a = \(a[j])); the marginal there is the harmonic prior")
            }
        }
        // u = x̃ ⊘ a: the forward process of §1.1 at α = σ = 1 with Σ_t = diag((s ⊘ a)²).
        var u = process.modes(x)
        for b in 0..<u.rows { for j in 0..<u.columns { u[b, j] /= a[j] } }
        let oracle: Oracle
        do {
            let model = try MixtureModel(prior: modePrior, noise: NoiseCovariance(.diagonal(noise),
                                                                                dimension: noise.count))
            oracle = try Oracle(model)
        } catch {
            throw ArgumentError("t", "\(error)")
        }
        let r = try oracle.evaluate(u, alpha: 1, sigma: 1, including: laplacian ? .posteriorCovariance : [])
        let logScale = a.reduce(0) { $0 + log($1) }
        var score = r.score
        for b in 0..<score.rows { for j in 0..<score.columns { score[b, j] /= a[j] } }
        var result = Result(logDensity: r.logDensity.map { $0 - logScale }, score: process.points(score),
                            denoised: process.points(r.denoised), responsibilities: r.responsibilities)
        if laplacian, let covariances = r.posteriorCovariance {
            result.laplacian = covariances.map { Self.laplacian(posteriorCovariance: $0, scale: a, variance: s2) }
        }
        return result
    }

    /// Δ log p_t = Σ_j (a_j² Cov_jj / s_j⁴ − 1/s_j²) in mode coordinates (docs/math.md §13.5): the
    /// trace of S⁻¹ A Cov[x̃_0 | x̃_t] A S⁻¹ − S⁻¹, summed so that no two large terms cancel per mode
    /// more than the answer itself does.
    static func laplacian(posteriorCovariance c: Matrix, scale a: [Double], variance s2: [Double]) -> Double {
        var total = 0.0
        for j in a.indices { total += (a[j] * a[j] * c[j, j] / s2[j] - 1) / s2[j] }
        return total
    }

    /// x_t = A_t x_0 + S_t^{1/2} z for the rows of `x0`, with the standard normals `z` (B × (N − 1) d,
    /// in mode coordinates): the forward process on V.
    public func noise(_ x0: Matrix, standardNormals z: Matrix, at t: Double) throws(ArgumentError) -> Matrix {
        guard t.isFinite, t >= 0 else { throw ArgumentError("t", "must be finite and ≥ 0, got \(t)") }
        guard x0.columns == process.atoms * process.axes else {
            throw ArgumentError("x0", "points of \(x0.columns) coordinates")
        }
        guard z.rows == x0.rows, z.columns == process.dimension else {
            throw ArgumentError("z", "expected \(x0.rows) × \(process.dimension) standard normals")
        }
        let (a, s2) = process.coefficients(at: t)
        var m = process.modes(x0)
        for b in 0..<m.rows { for j in 0..<m.columns { m[b, j] = a[j] * m[b, j] + s2[j].squareRoot() * z[b, j] } }
        return process.points(m)
    }
}
