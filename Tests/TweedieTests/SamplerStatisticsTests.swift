import Foundation
import Testing
import Tweedie

/// Samplers reproduce p_0 of the built-in ring8 model (8 narrow, well separated modes): per-mode
/// weights within 5 binomial standard errors of π (plus a stated discretization allowance for the
/// approximate samplers), and the mean and covariance within 5 Monte Carlo standard errors of p_0's.
@Suite struct SamplerStatisticsTests {
    static let model = BuiltinModels.ring8()

    /// The component of largest posterior p(k | x_0) ∝ π_k N(x_0; μ_k, Λ_k), by 2×2 formulas.
    static func modeCounts(_ x: Matrix) -> [Int] {
        let prior = model.prior
        var counts = [Int](repeating: 0, count: prior.componentCount)
        for r in 0..<x.rows {
            var best = 0, bestScore = -Double.infinity
            for k in 0..<prior.componentCount {
                let c = prior.covariance(of: k)
                let det = c[0, 0] * c[1, 1] - c[0, 1] * c[1, 0]
                let dx = x[r, 0] - prior.means[k, 0], dy = x[r, 1] - prior.means[k, 1]
                let q = (c[1, 1] * dx * dx - 2 * c[0, 1] * dx * dy + c[0, 0] * dy * dy) / det
                let score = log(prior.weights[k]) - 0.5 * log(det) - 0.5 * q
                if score > bestScore { (best, bestScore) = (k, score) }
            }
            counts[best] += 1
        }
        return counts
    }

    /// p_0's mean Σπμ and covariance Σπ(Λ + μμᵀ) − mean meanᵀ.
    static func priorMoments() -> ([Double], DenseMatrix) {
        let prior = model.prior
        var mean = [0.0, 0.0], second = DenseMatrix(2, 2)
        for k in 0..<prior.componentCount {
            let mu = prior.means.row(k)
            mean = vectorAdd(mean, vectorScale(prior.weights[k], mu))
            let c = prior.covariance(of: k)
            for i in 0..<2 { for j in 0..<2 { second[i, j] += prior.weights[k] * (c[i, j] + mu[i] * mu[j]) } }
        }
        for i in 0..<2 { for j in 0..<2 { second[i, j] -= mean[i] * mean[j] } }
        return (mean, second)
    }

    /// Checks the samples; `allowance` is added to 5 binomial SE for each weight. Returns the
    /// largest weight deviation in units of the binomial SE, and the moment z-scores.
    static func check(_ x: Matrix, label: String, allowance: Double) -> (Double, Double, Double) {
        let n = Double(x.rows), weights = model.prior.weights
        let counts = modeCounts(x)
        var worstWeight = 0.0
        for k in 0..<weights.count {
            let se = (weights[k] * (1 - weights[k]) / n).squareRoot()
            let deviation = abs(Double(counts[k]) / n - weights[k])
            worstWeight = max(worstWeight, deviation / se)
            #expect(deviation <= 5 * se + allowance,
                    "\(label): mode \(k) weight \(Double(counts[k]) / n), π = \(weights[k]) (SE \(se))")
        }
        // Moments; the SE of a covariance entry from the samples' own fourth moments.
        let (mean, covariance) = priorMoments()
        let m = SamplerStatistics.mean(x), c = SamplerStatistics.covariance(x)
        var zMean = 0.0, zCov = 0.0
        for i in 0..<2 {
            zMean = max(zMean, abs(m[i] - mean[i]) / (covariance[i, i] / n).squareRoot())
            for j in 0..<2 {
                var s = 0.0, s2 = 0.0
                for r in 0..<x.rows {
                    let v = (x[r, i] - m[i]) * (x[r, j] - m[j])
                    s += v
                    s2 += v * v
                }
                let variance = s2 / n - (s / n) * (s / n)
                zCov = max(zCov, abs(c[i, j] - covariance[i, j]) / (variance / n).squareRoot())
            }
        }
        #expect(zMean <= 5 && zCov <= 5, "\(label): moment z-scores mean \(zMean), covariance \(zCov)")
        print("ring8 \(label): weight deviation \(worstWeight) SE, moment z \(zMean), \(zCov)")
        return (worstWeight, zMean, zCov)
    }

    @Test func exactSamplerWithThreeSteps() throws {
        let oracle = try Oracle(Self.model)
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 3)
        // Exact draws of p_{t_0}: x_0 ~ p_0 (component by its weight, then μ_k + chol(Λ_k) z), then
        // α x_0 + σ z'.
        let n = 4000, prior = Self.model.prior
        var rng = TestRandom(seed: 77)
        let (alpha, sigma) = (path.levels[0].alpha, path.levels[0].sigma)
        var x = Matrix(rows: n, columns: 2)
        for r in 0..<n {
            var u = rng.uniform(), k = 0
            while k < prior.componentCount - 1, u >= prior.weights[k] { u -= prior.weights[k]; k += 1 }
            let x0 = vectorAdd(prior.means.row(k), DenseMatrix(prior.covariance(of: k)).cholesky.apply(rng.normals(2)))
            x.setRow(r, to: vectorAdd(vectorScale(alpha, x0), vectorScale(sigma, rng.normals(2))))
        }
        let out = try ExactSampler().sample(x, model: oracle, path: path, noise: NoiseStream(seed: 78), firstSample: 0,
                                            monitor: SamplingMonitor())
        _ = Self.check(out, label: "exact, 3 steps", allowance: 0)
    }

    @Test func ddpmWithManySteps() throws {
        let oracle = try Oracle(Self.model)
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 100)
        let stream = NoiseStream(seed: 79)
        let x = try initialState(count: 4000, model: oracle, path: path, noise: stream)
        let out = try DDPMSampler().sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        _ = Self.check(out, label: "ddpm β̃, 100 steps", allowance: 0.01)
    }

    @Test func eulerMaruyamaWithManySteps() throws {
        let oracle = try Oracle(Self.model)
        let path = try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: 200)
        let stream = NoiseStream(seed: 80)
        let x = try initialState(count: 4000, model: oracle, path: path, noise: stream)
        let out = try EulerMaruyamaSampler().sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        _ = Self.check(out, label: "euler-maruyama, 200 steps", allowance: 0.01)
    }
}
