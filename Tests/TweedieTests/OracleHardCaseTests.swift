import Foundation
import Testing
@testable import Tweedie

/// Brute force, Monte Carlo and the hard cases of the foundation issue.
@Suite struct OracleHardCaseTests {
    /// Direct O(K·D²) evaluation of a Dirac mixture with dense Σ⁻¹ (an independent route: no
    /// whitening, no Gram expansion, no streaming).
    struct BruteForceDirac {
        let logDensity: Double, responsibilities: [Double], denoised: [Double], score: [Double], divergence: Double
        init(_ model: MixtureModel, x: [Double], alpha: Double, sigma: Double) {
            let d = model.dimension, k = model.componentCount
            let sigmaInverse = denseInverse(model.noise.denseMatrix)
            let logDet = 2 * model.noise.logDeterminantOfFactor + Double(d) * log(sigma * sigma)
            var logits = [Double](repeating: 0, count: k)
            var scores = [[Double]](repeating: [], count: k)
            for c in 0..<k {
                let r = (0..<d).map { x[$0] - alpha * model.prior.means[c, $0] }
                let s = (0..<d).map { i in -(0..<d).reduce(0.0) { $0 + sigmaInverse[i, $1] * r[$1] } / (sigma * sigma) }
                let quadratic = -zip(r, s).reduce(0.0) { $0 + $1.0 * $1.1 }
                logits[c] = log(model.prior.weights[c]) - 0.5 * quadratic - 0.5 * logDet - 0.5 * Double(d) * log(2 * .pi)
                scores[c] = s
            }
            let lse = logSumExp(logits)
            logDensity = lse
            responsibilities = logits.map { exp($0 - lse) }
            let r = responsibilities
            denoised = (0..<d).map { i in (0..<k).reduce(0.0) { $0 + r[$1] * model.prior.means[$1, i] } }
            let meanScore = (0..<d).map { i in (0..<k).reduce(0.0) { $0 + r[$1] * scores[$1][i] } }
            score = meanScore
            // tr(ΣH), H = Σ r_k(−C⁻¹ + s_k s_kᵀ) − s sᵀ, C = σ²Σ: tr(ΣC⁻¹) = D/σ².
            let sigmaMatrix = model.noise.denseMatrix
            func quadraticForm(_ v: [Double]) -> Double {
                (0..<d).reduce(0.0) { acc, i in acc + v[i] * (0..<d).reduce(0.0) { $0 + sigmaMatrix[i, $1] * v[$1] } }
            }
            divergence = -Double(d) / (sigma * sigma) + (0..<k).reduce(0.0) { $0 + r[$1] * quadraticForm(scores[$1]) }
                - quadraticForm(meanScore)
        }
    }

    @Test(arguments: ["identity", "full", "kronecker"])
    func diracMatchesBruteForce(noise: String) throws {
        let model = try OracleIdentityTests.randomModel(.dirac, noise: noise, k: 700, d: 6, seed: 21)
        let oracle = try Oracle(model)
        var rng = TestRandom(seed: 5)
        let x = rng.matrix(20, 6, scale: 2)
        for (alpha, sigma) in [(0.9, 0.5), (1.0, 0.05), (0.3, 2.0)] {
            let result = try oracle.evaluate(x, alpha: alpha, sigma: sigma)
            for b in 0..<x.rows {
                let reference = BruteForceDirac(model, x: x.row(b), alpha: alpha, sigma: sigma)
                #expect(abs(result.logDensity[b] - reference.logDensity) < 1e-9 * (1 + abs(reference.logDensity)))
                #expect(isClose(result.responsibilities.row(b), reference.responsibilities, rtol: 1e-8, atol: 1e-13))
                #expect(isClose(result.denoised.row(b), reference.denoised, rtol: 1e-9, atol: 1e-10))
                #expect(isClose(result.score.row(b), reference.score, rtol: 1e-8, atol: 1e-8))
                #expect(abs(result.divergence[b] - reference.divergence) < 1e-8 * (1 + abs(reference.divergence)))
            }
        }
    }

    @Test func diracNearTimeZeroWithLargeCoordinates() throws {
        // Atoms with ‖μ‖ ≈ 100 and σ = 1e-6: the Gram expansion ‖y‖² − 2αyᵀν + α²‖ν‖² alone is off
        // by O(1) in the log-weights; the oracle must recompute the candidates' distances exactly.
        var rng = TestRandom(seed: 13)
        let d = 3, k = 50
        var means = rng.matrix(k, d, scale: 1)
        for i in 0..<means.elements.count { means.elements[i] += 60 }
        // Atom 1 sits 0.01 from atom 0, so their midpoint is nearer to them than to any other.
        for i in 0..<d { means[1, i] = means[0, i] + (i == 0 ? 0.01 : 0) }
        let prior = try GaussianMixture(weights: [Double](repeating: 1.0 / Double(k), count: k), means: means,
                                        covariances: .dirac)
        let model = try MixtureModel(prior: prior)
        let oracle = try Oracle(model)
        let sigma = 1e-6
        var x = Matrix(rows: k + 1, columns: d)
        for c in 0..<k { for i in 0..<d { x[c, i] = means[c, i] + sigma * rng.normal() } }
        // A point equidistant from atoms 0 and 1.
        for i in 0..<d { x[k, i] = 0.5 * (means[0, i] + means[1, i]) }
        let result = try oracle.evaluate(x, alpha: 1, sigma: sigma)
        for c in 0..<k {
            let reference = BruteForceDirac(model, x: x.row(c), alpha: 1, sigma: sigma)
            #expect(abs(result.responsibilities[c, c] - 1) < 1e-12)
            #expect(result.denoised.row(c) == means.row(c))
            #expect(isClose(result.score.row(c), reference.score, rtol: 1e-6, atol: 0))
            #expect(abs(result.logDensity[c] - reference.logDensity) < 1e-8 * abs(reference.logDensity))
            #expect(abs(result.divergence[c] - (-Double(d) / (sigma * sigma))) < 1e-6 * Double(d) / (sigma * sigma))
        }
        let reference = BruteForceDirac(model, x: x.row(k), alpha: 1, sigma: sigma)
        #expect(abs(result.responsibilities[k, 0] - reference.responsibilities[0]) < 1e-6)
        #expect(abs(result.responsibilities[k, 1] - reference.responsibilities[1]) < 1e-6)
        #expect(abs(result.responsibilities[k, 0] + result.responsibilities[k, 1] - 1) < 1e-12)
    }

    @Test("data set: tr(ΣH) far from the data, ‖x‖ up to 1e8, against its closed form")
    func diracDivergenceFarOut() throws {
        // Two atoms mirrored in coordinate 1, ν_± = (1, ±0.8, u), lead along coordinate 0; the other
        // atoms have ν_0 ≤ 0.5. At x = (s, 0, αu) they are equidistant, bit for bit, and every other
        // atom is e^{−αs/(2σ²)} behind: r = (½, ½), ν̄_r = (1, 0, u), Σ r_k ‖ν_k − ν̄_r‖² = 0.64 and
        // tr(ΣH) = −D/σ² + 0.64 α²/σ⁴. The raw form Σ r_k‖ŝ_k‖² − ‖ŝ‖² would subtract two numbers of
        // order s²/σ⁴ (1e16 at s = 1e8).
        var rng = TestRandom(seed: 31)
        let d = 16, k = 300
        var means = rng.matrix(k, d, scale: 1)
        for c in 0..<k { means[c, 0] = 0.5 * rng.uniform() }
        let shared = rng.normals(d - 2)
        for (c, sign) in [(7, 1.0), (201, -1.0)] {
            means[c, 0] = 1
            means[c, 1] = 0.8 * sign
            for i in 2..<d { means[c, i] = shared[i - 2] }
        }
        let prior = try GaussianMixture(weights: [Double](repeating: 1.0 / Double(k), count: k), means: means,
                                        covariances: .dirac)
        let oracle = try Oracle(MixtureModel(prior: prior))
        for (alpha, sigma) in [(1.0, 1.0), (0.8, 0.6), (0.99, 0.05)] {
            let distances = [1e2, 1e4, 1e6, 1e8]
            var x = Matrix(rows: distances.count, columns: d)
            for (b, s) in distances.enumerated() {
                x[b, 0] = s
                for i in 2..<d { x[b, i] = alpha * shared[i - 2] }
            }
            let result = try oracle.evaluate(x, alpha: alpha, sigma: sigma)
            let expected = -Double(d) / (sigma * sigma) + 0.64 * (alpha / sigma / sigma) * (alpha / sigma / sigma)
            for b in 0..<distances.count {
                #expect(abs(result.responsibilities[b, 7] - 0.5) < 1e-12, "s = \(distances[b])")
                #expect(abs(result.divergence[b] - expected) < 1e-10 * abs(expected),
                        "α = \(alpha), σ = \(sigma), s = \(distances[b]): \(result.divergence[b]) against \(expected)")
            }
        }
    }

    @Test("data set: a tight posterior far from the data's mean (the refined, truncated variance)")
    func diracTightClusterFarFromTheMean() throws {
        // 200 atoms within 1e-3 of a point 1e3 from the origin, 300 atoms near the origin; σ = 1e-3
        // near the cluster. Σ r_k‖ν̃_k‖² and ‖c‖² are both ≈ 1e6·D while their difference is ≈ 1e-6:
        // the short form cancels, and the direct sum over the components that carry weight must
        // agree with the brute force (which has no such cancellation here: x sits in the cluster).
        var rng = TestRandom(seed: 41)
        let d = 5, cluster = 200, near = 300
        var means = rng.matrix(cluster + near, d, scale: 1)
        let centre = rng.normals(d).map { 1e3 / Double(d).squareRoot() * ($0 >= 0 ? 1 : -1) }
        for c in 0..<cluster { for i in 0..<d { means[c, i] = centre[i] + 1e-3 * rng.normal() } }
        let model = try MixtureModel(prior: GaussianMixture(
            weights: [Double](repeating: 1.0 / Double(cluster + near), count: cluster + near), means: means,
            covariances: .dirac))
        let oracle = try Oracle(model)
        var x = Matrix(rows: 6, columns: d)
        for b in 0..<6 { for i in 0..<d { x[b, i] = centre[i] + 2e-4 * Double(b) * rng.normal() } }
        for sigma in [2e-3, 1e-3] {
            let result = try oracle.evaluate(x, alpha: 1, sigma: sigma)
            for b in 0..<x.rows {
                let reference = BruteForceDirac(model, x: x.row(b), alpha: 1, sigma: sigma)
                // Several atoms carry weight (not a single winner), and the variance part is large.
                #expect((0..<cluster).filter { reference.responsibilities[$0] > 1e-9 }.count > 1)
                #expect(abs(result.divergence[b] - reference.divergence) < 1e-8 * abs(reference.divergence),
                        "σ = \(sigma), point \(b): \(result.divergence[b]) against \(reference.divergence)")
            }
        }
    }

    @Test func modesAThousandSigmaApart() throws {
        // Λ = I, means ±(500, 0), α = 1, σ = 0.5: C = 1.25 I, modes 800 standard deviations of p_t apart.
        let prior = try GaussianMixture(weights: [0.5, 0.5], means: Matrix([[500, 0], [-500, 0]]),
                                        covariances: .spherical([1, 1]))
        let oracle = try Oracle(MixtureModel(prior: prior))
        let x = Matrix([[501, -0.5], [-499.5, 2], [0, 0], [0, 3]])
        let result = try oracle.evaluate(x, alpha: 1, sigma: 0.5, including: .posteriorCovariance)
        let c = 1.25
        for (b, mu) in [(0, 500.0), (1, -500.0)] {
            let r = [x[b, 0] - mu, x[b, 1]]
            let logDensity = log(0.5) - 0.5 * (r[0] * r[0] + r[1] * r[1]) / c - log(2 * .pi * c)
            #expect(abs(result.logDensity[b] - logDensity) < 1e-12 * abs(logDensity) + 1e-13)
            #expect(isClose(result.denoised.row(b), [mu + r[0] / c, r[1] / c], rtol: 1e-14, atol: 1e-13))
            #expect(isClose(result.score.row(b), [-r[0] / c, -r[1] / c], rtol: 1e-12, atol: 1e-14))
            #expect(abs(result.divergence[b] - (-2 / c)) < 1e-9)
            #expect(isClose(result.posteriorCovariance![b], Matrix([[0.2, 0], [0, 0.2]]), rtol: 1e-12, atol: 1e-13))
        }
        // Halfway: r = (½, ½), x̂_0 = (0, x₂/C), score = (0, −x₂/C), tr(ΣH) = −2/C + (500/C)².
        for b in 2...3 {
            // Log-weights near −1e5 carry rounding of ~1e-11: r = ½ holds to that.
            #expect(abs(result.responsibilities[b, 0] - 0.5) < 1e-11)
            #expect(isClose(result.denoised.row(b), [0, x[b, 1] / c], rtol: 1e-14, atol: 1e-12))
            #expect(abs(result.divergence[b] - (-2 / c + (500 / c) * (500 / c))) < 1e-9 * (500 / c) * (500 / c))
            // m_k = μ_k + (1/C)(x − μ_k) = ±100 along x₁: Cov = diag(0.2 + 100², 0.2).
            #expect(isClose(result.posteriorCovariance![b], Matrix([[0.2 + 100 * 100, 0], [0, 0.2]]), rtol: 1e-10, atol: 1e-9))
        }
    }

    @Test func hundredsOfDimensionsSingleGaussian() throws {
        // D = 300, full Λ and full Σ: the closed form of a single Gaussian through dense LAPACK.
        var rng = TestRandom(seed: 17)
        let d = 300
        let lambda = rng.spd(d, shift: 0.05), sigmaMatrix = rng.spd(d, shift: 0.5)
        let mu = rng.normals(d)
        let model = try MixtureModel(
            prior: GaussianMixture(weights: [1], means: Matrix(rows: 1, columns: d, elements: mu), covariances: .full([lambda])),
            noise: NoiseCovariance(.full(sigmaMatrix), dimension: d))
        let (alpha, sigma) = (0.8, 0.5)
        let x = rng.matrix(3, d)
        let result = try Oracle(model).evaluate(x, alpha: alpha, sigma: sigma)
        var cMatrix = Matrix(rows: d, columns: d)
        for i in 0..<d { for j in 0..<d { cMatrix[i, j] = alpha * alpha * lambda[i, j] + sigma * sigma * sigmaMatrix[i, j] } }
        let cInverse = denseInverse(cMatrix)
        let logDetC = 2 * (try CholeskyFactor(cMatrix).logDeterminant)
        for b in 0..<3 {
            let r = Matrix(rows: 1, columns: d, elements: (0..<d).map { x[b, $0] - alpha * mu[$0] })
            let cr = BLAS.product(r, cInverse)
            let quadratic = zip(r.elements, cr.elements).reduce(0.0) { $0 + $1.0 * $1.1 }
            let logDensity = -0.5 * quadratic - 0.5 * logDetC - 0.5 * Double(d) * log(2 * .pi)
            #expect(abs(result.logDensity[b] - logDensity) < 1e-10 * abs(logDensity))
            #expect(isClose(result.score.row(b), cr.elements.map { -$0 }, rtol: 1e-8, atol: 1e-9))
            let denoised = BLAS.product(cr, lambda).elements.enumerated().map { mu[$0.offset] + alpha * $0.element }
            #expect(isClose(result.denoised.row(b), denoised, rtol: 1e-8, atol: 1e-9))
        }
    }

    @Test func ringMarginalMatchesMonteCarlo() throws {
        // p_t(x) = E_{x_0 ~ p_0} N(x; α x_0, σ²I), estimated with 200 000 exact draws from p_0;
        // the tolerance is 5 standard errors of that estimate.
        let model = BuiltinModels.ring8()
        let oracle = try Oracle(model)
        let (alpha, sigma) = (0.9, 0.6)
        var rng = TestRandom(seed: 99)
        let draws = 200_000
        let prior = model.prior
        let factors = (0..<prior.componentCount).map { try! CholeskyFactor(prior.covariance(of: $0)).lower }
        var cumulative: [Double] = []
        var total = 0.0
        for w in prior.weights { total += w; cumulative.append(total) }
        var samples = [[Double]]()
        samples.reserveCapacity(draws)
        for _ in 0..<draws {
            let u = rng.uniform()
            let k = cumulative.firstIndex { u < $0 } ?? (prior.componentCount - 1)
            let z = [rng.normal(), rng.normal()]
            let l = factors[k]
            samples.append([prior.means[k, 0] + l[0, 0] * z[0], prior.means[k, 1] + l[1, 0] * z[0] + l[1, 1] * z[1]])
        }
        let points = Matrix([[3.5, 0.2], [0, 0], [-2.5, -2.2], [1, 3.2]])
        let result = try oracle.evaluate(points, alpha: alpha, sigma: sigma)
        for b in 0..<points.rows {
            var sum = 0.0, sumSquares = 0.0
            for s in samples {
                let dx = points[b, 0] - alpha * s[0], dy = points[b, 1] - alpha * s[1]
                let q = exp(-0.5 * (dx * dx + dy * dy) / (sigma * sigma)) / (2 * .pi * sigma * sigma)
                sum += q
                sumSquares += q * q
            }
            let mean = sum / Double(draws)
            let standardError = ((sumSquares / Double(draws) - mean * mean) / Double(draws)).squareRoot()
            #expect(abs(exp(result.logDensity[b]) - mean) < 5 * standardError + 1e-300, "point \(b)")
        }
    }
}
