import Foundation
import Testing
import Tweedie

// Support for the sampler tests: small dense linear algebra written here (independent of the
// library's BLAS/LAPACK and of the samplers), a single-Gaussian prior whose denoiser is affine,
// and an affine-Gaussian state x = A s + b + N w (s the starting point, w independent standard
// normals) through which the reference samplers are written from their papers' formulas.

/// A dense row-major matrix, for the tests' own reference computations.
struct DenseMatrix: Equatable, CustomStringConvertible {
    var rows: Int
    var columns: Int
    var e: [Double]

    init(_ rows: Int, _ columns: Int, _ e: [Double]? = nil) {
        self.rows = rows
        self.columns = columns
        self.e = e ?? [Double](repeating: 0, count: rows * columns)
        precondition(self.e.count == rows * columns)
    }

    init(_ nested: [[Double]]) {
        self.init(nested.count, nested.first?.count ?? 0, nested.flatMap { $0 })
    }

    init(_ m: Matrix) { self.init(m.rows, m.columns, m.elements) }

    var matrix: Matrix { Matrix(rows: rows, columns: columns, elements: e) }

    static func identity(_ n: Int) -> DenseMatrix {
        var m = DenseMatrix(n, n)
        for i in 0..<n { m[i, i] = 1 }
        return m
    }

    subscript(i: Int, j: Int) -> Double {
        get { e[i * columns + j] }
        set { e[i * columns + j] = newValue }
    }

    var description: String { (0..<rows).map { i in "\((0..<columns).map { self[i, $0] })" }.joined(separator: "\n") }

    func mul(_ b: DenseMatrix) -> DenseMatrix {
        let a = self
        precondition(a.columns == b.rows)
        var c = DenseMatrix(a.rows, b.columns)
        for i in 0..<a.rows {
            for k in 0..<a.columns {
                let aik = a[i, k]
                if aik == 0 { continue }
                for j in 0..<b.columns { c.e[i * b.columns + j] += aik * b.e[k * b.columns + j] }
            }
        }
        return c
    }

    func scaled(_ s: Double) -> DenseMatrix { DenseMatrix(rows, columns, e.map { s * $0 }) }

    func add(_ b: DenseMatrix) -> DenseMatrix {
        precondition(rows == b.rows && columns == b.columns)
        return DenseMatrix(rows, columns, zip(e, b.e).map { $0 + $1 })
    }

    func sub(_ b: DenseMatrix) -> DenseMatrix { add(b.scaled(-1)) }

    var transposed: DenseMatrix {
        var t = DenseMatrix(columns, rows)
        for i in 0..<rows { for j in 0..<columns { t[j, i] = self[i, j] } }
        return t
    }

    var symmetrized: DenseMatrix { add(transposed).scaled(0.5) }

    func apply(_ v: [Double]) -> [Double] {
        precondition(v.count == columns)
        return (0..<rows).map { i in (0..<columns).reduce(0) { $0 + self[i, $1] * v[$1] } }
    }

    /// Gauss–Jordan elimination with partial pivoting.
    var inverse: DenseMatrix {
        precondition(rows == columns)
        let n = rows
        var a = self, inv = DenseMatrix.identity(n)
        for c in 0..<n {
            let p = (c..<n).max { abs(a[$0, c]) < abs(a[$1, c]) }!
            precondition(a[p, c] != 0, "singular matrix")
            if p != c {
                for j in 0..<n {
                    a.e.swapAt(p * n + j, c * n + j)
                    inv.e.swapAt(p * n + j, c * n + j)
                }
            }
            let pivot = a[c, c]
            for j in 0..<n { a[c, j] /= pivot; inv[c, j] /= pivot }
            for r in 0..<n where r != c {
                let f = a[r, c]
                if f == 0 { continue }
                for j in 0..<n { a[r, j] -= f * a[c, j]; inv[r, j] -= f * inv[c, j] }
            }
        }
        return inv
    }

    /// The lower Cholesky factor (positive diagonal) of a symmetric positive definite matrix.
    var cholesky: DenseMatrix {
        precondition(rows == columns)
        let n = rows
        var l = DenseMatrix(n, n)
        for j in 0..<n {
            var d = self[j, j]
            for k in 0..<j { d -= l[j, k] * l[j, k] }
            precondition(d > 0, "not positive definite (pivot \(d))")
            l[j, j] = d.squareRoot()
            for i in (j + 1)..<max(n, j + 1) {
                var s = self[i, j]
                for k in 0..<j { s -= l[i, k] * l[j, k] }
                l[i, j] = s / l[j, j]
            }
        }
        return l
    }

    /// Symmetric eigendecomposition by cyclic Jacobi rotations: (values, vectors as columns).
    var symmetricEigen: (values: [Double], vectors: DenseMatrix) {
        let n = rows
        var a = symmetrized, v = DenseMatrix.identity(n)
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in 0..<n where i != j { off += a[i, j] * a[i, j] } }
            if off < 1e-30 { break }
            for p in 0..<n {
                for q in (p + 1)..<max(n, p + 1) where a[p, q] != 0 {
                    let theta = (a[q, q] - a[p, p]) / (2 * a[p, q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k, p], akq = a[k, q]
                        a[k, p] = c * akp - s * akq
                        a[k, q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p, k], aqk = a[q, k]
                        a[p, k] = c * apk - s * aqk
                        a[q, k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k, p], vkq = v[k, q]
                        v[k, p] = c * vkp - s * vkq
                        v[k, q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0, $0] }, v)
    }

    /// f applied to the eigenvalues of a symmetric matrix.
    func symmetricFunction(_ f: (Double) -> Double) -> DenseMatrix {
        let (values, u) = symmetricEigen
        return u.mul(DenseMatrix.diagonal(values.map(f))).mul(u.transposed)
    }

    static func diagonal(_ v: [Double]) -> DenseMatrix {
        var m = DenseMatrix(v.count, v.count)
        for i in 0..<v.count { m[i, i] = v[i] }
        return m
    }
}

func vectorAdd(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map { $0 + $1 } }
func vectorScale(_ s: Double, _ a: [Double]) -> [Double] { a.map { s * $0 } }
func vectorSub(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map { $0 - $1 } }

/// x = A s + b + N w: an affine function of the starting point s (D) and of independent standard
/// normals w (one column of N per normal, in order of creation).
struct AffineState {
    var a: DenseMatrix
    var b: [Double]
    var n: DenseMatrix

    static func start(_ d: Int) -> AffineState { AffineState(a: .identity(d), b: .init(repeating: 0, count: d), n: DenseMatrix(d, 0)) }

    var dimension: Int { b.count }

    private static func padded(_ m: DenseMatrix, to columns: Int) -> DenseMatrix {
        if m.columns == columns { return m }
        var p = DenseMatrix(m.rows, columns)
        for i in 0..<m.rows { for j in 0..<m.columns { p[i, j] = m[i, j] } }
        return p
    }

    func plus(_ y: AffineState) -> AffineState {
        let j = max(n.columns, y.n.columns)
        return AffineState(a: a.add(y.a), b: vectorAdd(b, y.b), n: Self.padded(n, to: j).add(Self.padded(y.n, to: j)))
    }

    func minus(_ y: AffineState) -> AffineState { plus(y.scaled(-1)) }

    func scaled(_ s: Double) -> AffineState { AffineState(a: a.scaled(s), b: vectorScale(s, b), n: n.scaled(s)) }

    /// m · x.
    func transformed(by m: DenseMatrix) -> AffineState { AffineState(a: m.mul(a), b: m.apply(b), n: m.mul(n)) }

    /// Adds a constant vector.
    func shifted(by v: [Double]) -> AffineState { AffineState(a: a, b: vectorAdd(b, v), n: n) }

    /// Adds `loading` · w for fresh independent standard normals w.
    func addingNoise(_ loading: DenseMatrix) -> AffineState {
        var m = DenseMatrix(dimension, n.columns + loading.columns)
        for i in 0..<dimension {
            for j in 0..<n.columns { m[i, j] = n[i, j] }
            for j in 0..<loading.columns { m[i, n.columns + j] = loading[i, j] }
        }
        return AffineState(a: a, b: b, n: m)
    }

    /// The noise-free output for a starting point.
    func deterministic(_ s: [Double]) -> [Double] { vectorAdd(a.apply(s), b) }

    /// Covariance of the noise part, N Nᵀ.
    var noiseCovariance: DenseMatrix { n.mul(n.transposed) }

    /// Mean and covariance of x when s ~ N(m, P).
    func law(startMean m: [Double], startCovariance p: DenseMatrix) -> (mean: [Double], covariance: DenseMatrix) {
        (vectorAdd(a.apply(m), b), a.mul(p).mul(a.transposed).add(noiseCovariance).symmetrized)
    }
}

/// p_0 = N(μ, Λ) under q(x_t | x_0) = N(α x_0, σ² Σ), Σ = L Lᵀ.
struct GaussianPrior {
    let mu: [Double]
    let lambda: DenseMatrix
    let sigma: DenseMatrix
    let l: DenseMatrix

    init(mu: [Double], lambda: DenseMatrix, sigma: DenseMatrix) {
        self.mu = mu
        self.lambda = lambda
        self.sigma = sigma
        l = sigma.cholesky
    }

    var dimension: Int { mu.count }

    func model() throws -> MixtureModel {
        let prior = try GaussianMixture(weights: [1], means: Matrix(rows: 1, columns: dimension, elements: mu),
                                        covariances: .full([lambda.matrix]))
        return try MixtureModel(prior: prior, noise: NoiseCovariance(.full(sigma.matrix), dimension: dimension))
    }

    /// The same prior with its mean shifted.
    func shifted(_ delta: [Double]) -> GaussianPrior { GaussianPrior(mu: vectorAdd(mu, delta), lambda: lambda, sigma: sigma) }

    /// x̂_0 of the scaled point x̃ = x/α at σ̃ = σ/α: μ + Λ(Λ + σ̃²Σ)⁻¹(x̃ − μ).
    func denoiseScaled(_ x: AffineState, scaledSigma s: Double) -> AffineState {
        let gain = lambda.mul(lambda.add(sigma.scaled(s * s)).inverse)
        return x.transformed(by: gain).shifted(by: DenseMatrix.identity(dimension).sub(gain).apply(mu))
    }

    func denoise(_ x: AffineState, alpha: Double, sigma s: Double) -> AffineState {
        denoiseScaled(x.scaled(1 / alpha), scaledSigma: s / alpha)
    }

    /// ∇ log p_t(x) = −C⁻¹(x − αμ), C = α²Λ + σ²Σ.
    func score(_ x: AffineState, alpha: Double, sigma s: Double) -> AffineState {
        let c = lambda.scaled(alpha * alpha).add(sigma.scaled(s * s))
        return x.shifted(by: vectorScale(-alpha, mu)).transformed(by: c.inverse.scaled(-1))
    }

    /// x̂_0 of concrete points (rows), by the dense formula.
    func denoise(_ x: Matrix, alpha: Double, sigma s: Double) -> Matrix {
        var out = x
        for r in 0..<x.rows {
            let state = AffineState(a: DenseMatrix(dimension, dimension), b: x.row(r), n: DenseMatrix(dimension, 0))
            out.setRow(r, to: denoise(state, alpha: alpha, sigma: s).b)
        }
        return out
    }
}

/// The samplers written from their papers' formulas on affine-Gaussian states (reference only).
enum ReferenceSamplers {
    typealias Level = (alpha: Double, sigma: Double)

    static func levels(_ path: SamplingPath) -> [Level] { path.levels.map { ($0.alpha, $0.sigma) } }

    /// Euler on dx̃/dσ̃ = (x̃ − x̂_0)/σ̃ (Karras et al. 2022, eq. 3 with s = 1), in x̃ = x/α.
    static func euler(_ p: GaussianPrior, _ lv: [Level], start: AffineState) -> AffineState {
        var x = start
        for i in 0..<lv.count {
            let st = lv[i].sigma / lv[i].alpha
            let xs = x.scaled(1 / lv[i].alpha)
            let den = p.denoiseScaled(xs, scaledSigma: st)
            if i == lv.count - 1 { return den }
            let next = lv[i + 1].sigma / lv[i + 1].alpha
            let d = xs.minus(den).scaled(1 / st)
            x = xs.plus(d.scaled(next - st)).scaled(lv[i + 1].alpha)
        }
        return x
    }

    /// Karras et al. 2022, Algorithm 2 (stochastic Heun), in x̃ = x/α; σ̂ is capped at `cap`.
    static func heun(_ p: GaussianPrior, _ lv: [Level], start: AffineState, churn: Double = 0,
                     churnMinimum: Double = 0, churnMaximum: Double = .infinity, noiseScale: Double = 1,
                     cap: Double = .infinity) -> AffineState {
        var x = start
        let n = lv.count
        for i in 0..<n {
            let st = lv[i].sigma / lv[i].alpha
            var xs = x.scaled(1 / lv[i].alpha)
            var hat = st
            if churn > 0, st >= churnMinimum, st <= churnMaximum {
                let gamma = min(churn / Double(n), 2.0.squareRoot() - 1)
                hat = min(st * (1 + gamma), cap)
                xs = xs.addingNoise(p.l.scaled((hat * hat - st * st).squareRoot() * noiseScale))
            }
            let den = p.denoiseScaled(xs, scaledSigma: hat)
            if i == n - 1 { return den }
            let next = lv[i + 1].sigma / lv[i + 1].alpha
            let d = xs.minus(den).scaled(1 / hat)
            let trial = xs.plus(d.scaled(next - hat))
            let d2 = trial.minus(p.denoiseScaled(trial, scaledSigma: next)).scaled(1 / next)
            x = xs.plus(d.plus(d2).scaled(0.5 * (next - hat))).scaled(lv[i + 1].alpha)
        }
        return x
    }

    /// DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) in λ = log(α/σ), unscaled x.
    static func dpmpp2m(_ p: GaussianPrior, _ lv: [Level], start: AffineState) -> AffineState {
        var x = start
        var previous: AffineState?
        var previousH = 0.0
        for i in 0..<lv.count {
            let (alpha, sigma) = lv[i]
            let den = p.denoise(x, alpha: alpha, sigma: sigma)
            if i == lv.count - 1 { return den }
            let (alphaNext, sigmaNext) = lv[i + 1]
            let h = log(alphaNext / sigmaNext) - log(alpha / sigma)
            var estimate = den
            if let previous {
                let r = previousH / h
                estimate = den.scaled(1 + 1 / (2 * r)).minus(previous.scaled(1 / (2 * r)))
            }
            x = x.scaled(sigmaNext / sigma).minus(estimate.scaled(alphaNext * (exp(-h) - 1)))
            previous = den
            previousH = h
        }
        return x
    }

    /// Variance scale of q(x_s | x_t, x_0): σ_s²(1 − SNR_t/SNR_s).
    static func bridgeVariance(_ now: Level, _ next: Level) -> Double {
        let ratio = (now.alpha * next.sigma) / (next.alpha * now.sigma)
        return next.sigma * next.sigma * (1 - ratio * ratio)
    }

    /// DDIM (Song et al. 2021, eq. 12) with σ_η² = η² · bridge variance. `forwardVariance` keeps
    /// the η = 1 (posterior) mean but adds DDPM's β variance σ_t² − (α_t/α_s)²σ_s² instead.
    static func ddim(_ p: GaussianPrior, _ lv: [Level], start: AffineState, eta: Double,
                     forwardVariance: Bool = false) -> AffineState {
        var x = start
        for i in 0..<lv.count {
            let (alpha, sigma) = lv[i]
            let den = p.denoise(x, alpha: alpha, sigma: sigma)
            if i == lv.count - 1 { return den }
            let (alphaNext, sigmaNext) = lv[i + 1]
            let c = bridgeVariance(lv[i], lv[i + 1])
            let etaVariance = eta * eta * c
            let epsilon = x.minus(den.scaled(alpha)).scaled(1 / sigma)
            x = den.scaled(alphaNext).plus(epsilon.scaled((sigmaNext * sigmaNext - etaVariance).squareRoot()))
            let added = forwardVariance ? sigma * sigma - pow(alpha / alphaNext, 2) * sigmaNext * sigmaNext : etaVariance
            x = x.addingNoise(p.l.scaled(added.squareRoot()))
        }
        return x
    }

    /// DPM-Solver++(2M) SDE, midpoint variant (k-diffusion's sample_dpmpp_2m_sde), in x̃ = x/α.
    static func dpmpp2mSDE(_ p: GaussianPrior, _ lv: [Level], start: AffineState, eta: Double = 1,
                           noiseScale: Double = 1) -> AffineState {
        var x = start
        var previous: AffineState?
        var previousH = 0.0
        for i in 0..<lv.count {
            let (alpha, sigma) = lv[i]
            let st = sigma / alpha
            let xs = x.scaled(1 / alpha)
            let den = p.denoiseScaled(xs, scaledSigma: st)
            if i == lv.count - 1 { return den }
            let next = lv[i + 1].sigma / lv[i + 1].alpha
            let h = log(st / next)
            let decay = 1 - exp(-(1 + eta) * h)
            var y = xs.scaled(next / st * exp(-eta * h)).plus(den.scaled(decay))
            if let previous { y = y.plus(den.minus(previous).scaled(0.5 * decay * h / previousH)) }
            y = y.addingNoise(p.l.scaled(next * (1 - exp(-2 * eta * h)).squareRoot() * noiseScale))
            x = y.scaled(lv[i + 1].alpha)
            previous = den
            previousH = h
        }
        return x
    }

    /// Euler–Maruyama on the reverse SDE dx = (h_t x − g_t² Σ ∇log p_t) dt + g_t L dw̄ (Song et al.
    /// 2021), the score from the Gaussian's covariance, h and g² given per family.
    static func eulerMaruyama(_ p: GaussianPrior, _ path: SamplingPath, start: AffineState,
                              drift: (Double) -> Double, diffusionSquared: (Double) -> Double) -> AffineState {
        var x = start
        let lv = levels(path)
        for i in 0..<lv.count {
            let (alpha, sigma) = lv[i]
            if i == lv.count - 1 { return p.denoise(x, alpha: alpha, sigma: sigma) }
            let t = path.times[i], dt = path.times[i + 1] - t
            let g2 = diffusionSquared(t)
            let sigmaScore = p.score(x, alpha: alpha, sigma: sigma).transformed(by: p.sigma)
            x = x.plus(x.scaled(drift(t) * dt)).minus(sigmaScore.scaled(g2 * dt))
            x = x.addingNoise(p.l.scaled((g2 * abs(dt)).squareRoot()))
        }
        return x
    }

    /// Exact ancestral sampling by Gaussian conditioning: (x_s, x_t) is jointly Gaussian with
    /// Cov x_s = C_s, Cov x_t = C_t, Cov(x_s, x_t) = (α_t/α_s) C_s, C = α²Λ + σ²Σ.
    static func exact(_ p: GaussianPrior, _ lv: [Level], start: AffineState) -> AffineState {
        var x = start
        for i in 0..<lv.count {
            let (alphaT, sigmaT) = lv[i]
            let (alphaS, sigmaS) = i == lv.count - 1 ? (1.0, 0.0) : lv[i + 1]
            let ct = p.lambda.scaled(alphaT * alphaT).add(p.sigma.scaled(sigmaT * sigmaT))
            let cs = p.lambda.scaled(alphaS * alphaS).add(p.sigma.scaled(sigmaS * sigmaS))
            let k = alphaT / alphaS
            let gain = cs.mul(ct.inverse).scaled(k)
            let conditional = cs.sub(cs.mul(ct.inverse).mul(cs).scaled(k * k)).symmetrized
            x = x.transformed(by: gain).shifted(by: vectorSub(vectorScale(alphaS, p.mu), gain.apply(vectorScale(alphaT, p.mu))))
            x = x.addingNoise(conditional.cholesky)
        }
        return x
    }
}

/// Drift h_t and squared diffusion g_t² written from each family's α_t, σ_t (docs/math.md §1).
enum ReferenceSDE: Sendable {
    case vpLinear, edm, flow

    func drift(_ t: Double) -> Double {
        switch self {
        case .vpLinear: -0.5 * (0.1 + t * (20 - 0.1))   // α = exp(−¼t²(β_max−β_min) − ½tβ_min)
        case .edm: 0                                    // α = 1
        case .flow: -1 / (1 - t)                        // α = 1 − t
        }
    }

    func diffusionSquared(_ t: Double) -> Double {
        switch self {
        case .vpLinear: 0.1 + t * (20 - 0.1)            // β(t)
        case .edm: 2 * t                                // dσ²/dt, σ = t
        case .flow: 2 * t + 2 * t * t / (1 - t)         // dσ²/dt − 2hσ²
        }
    }
}

/// Monte Carlo comparisons with stated standard errors.
enum SamplerStatistics {
    static func mean(_ x: Matrix) -> [Double] {
        var m = [Double](repeating: 0, count: x.columns)
        for r in 0..<x.rows { for j in 0..<x.columns { m[j] += x[r, j] } }
        return m.map { $0 / Double(x.rows) }
    }

    /// The unbiased sample covariance.
    static func covariance(_ x: Matrix) -> DenseMatrix {
        let m = mean(x), d = x.columns
        var c = DenseMatrix(d, d)
        for r in 0..<x.rows {
            for i in 0..<d { for j in 0..<d { c[i, j] += (x[r, i] - m[i]) * (x[r, j] - m[j]) } }
        }
        return c.scaled(1 / Double(x.rows - 1))
    }

    /// The largest |estimate − truth| / standard error over the mean's coordinates and the
    /// covariance's entries, for Gaussian samples of the law (mean, covariance):
    /// SE(mean_i) = √(P_ii/n), SE(cov_ij) = √((P_ii P_jj + P_ij²)/n).
    static func gaussianMomentZ(_ x: Matrix, mean: [Double], covariance p: DenseMatrix) -> (mean: Double, covariance: Double) {
        let n = Double(x.rows), m = Self.mean(x), c = Self.covariance(x)
        var zMean = 0.0, zCov = 0.0
        for i in 0..<x.columns {
            zMean = max(zMean, abs(m[i] - mean[i]) / (p[i, i] / n).squareRoot())
            for j in 0..<x.columns {
                let se = ((p[i, i] * p[j, j] + p[i, j] * p[i, j]) / n).squareRoot()
                zCov = max(zCov, abs(c[i, j] - p[i, j]) / se)
            }
        }
        return (zMean, zCov)
    }
}

/// A 3-D Gaussian with full Λ and a correlated Σ.
let samplerTestGaussian = GaussianPrior(
    mu: [1.0, -0.5, 2.0],
    lambda: DenseMatrix([[1.0, 0.3, -0.2], [0.3, 0.5, 0.1], [-0.2, 0.1, 0.8]]),
    sigma: DenseMatrix([[1.0, 0.6, 0.3], [0.6, 1.2, -0.4], [0.3, -0.4, 0.9]]))

/// Max |a − b| / (1 + |b|) over all elements.
func samplerRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
}
