import Foundation
import Testing
@testable import Tweedie

/// Forward noising x_t = α x_0 + σ L z and exact sampling of the marginal p_t (docs/math.md §1).
@Suite struct ForwardNoisingTests {
    /// Σ of each structure: full (random SPD, D = 6), Kronecker (harmonic chain of 3 atoms ⊗ I_2),
    /// diagonal, identity.
    static func noises() -> [(String, NoiseCovariance)] {
        var random = TestRandom(seed: 8)
        return [
            ("full", try! NoiseCovariance(.full(random.spd(6)), dimension: 6)),
            ("kronecker", try! NoiseCovariance(.kronecker(BuiltinModels.harmonicChainCovariance(atoms: 3),
                                                          blockSize: 2), dimension: 6)),
            ("diagonal", try! NoiseCovariance(.diagonal([0.5, 1, 2, 0.1, 3, 1.5]), dimension: 6)),
            ("identity", .identity(dimension: 6)),
        ]
    }

    static let x0 = [1.5, -2, 0.25, 3, 0, -0.75]

    /// Exact route: x_t − α x_0 equals σ L z with L the dense Cholesky factor (from
    /// `denseFactor`, a separate code path) and z the stream's normals, to 1e-13 relative.
    @Test func noiseIsSigmaTimesCholeskyFactorTimesStreamNormals() throws {
        for (name, noise) in Self.noises() {
            let kernel = try ForwardKernel(alpha: 0.8, sigma: 0.6, noise: noise)
            let x0 = Matrix(Array(repeating: Self.x0, count: 20))
            let xt = try kernel.sample(from: x0, seed: 4, step: 3, firstSample: 50)
            let z = try kernel.standardizedNoise(count: 20, seed: 4, step: 3, firstSample: 50)
            let stream = NoiseStream(seed: 4)
            #expect(z.row(7) == stream.normals(sample: 57, step: 3, count: 6))
            let lz = applyDense(noise.denseFactor, toRows: z)
            var expected = x0
            for i in 0..<expected.elements.count { expected.elements[i] = 0.8 * x0.elements[i] + 0.6 * lz.elements[i] }
            #expect(isClose(xt, expected, rtol: 1e-13, atol: 1e-13), "\(name)")
        }
    }

    /// 40 000 noisings of one x_0: the mean within 5 standard errors of α x_0 and the
    /// covariance (about α x_0) within 5 standard errors of σ²Σ, errors √(σ²Σ_ii/n) and
    /// σ²√((Σ_iiΣ_jj + Σ_ij²)/n) — for full, Kronecker and diagonal Σ.
    @Test func noisedPointsHaveTheForwardKernelLaw() throws {
        let (alpha, sigma) = (0.7, 1.3)
        for (name, noise) in Self.noises() where name != "identity" {
            let kernel = try ForwardKernel(alpha: alpha, sigma: sigma, noise: noise)
            let xt = try kernel.sample(from: Matrix(Array(repeating: Self.x0, count: 40_000)), seed: 12)
            let centre = Self.x0.map { alpha * $0 }
            var covariance = noise.denseMatrix
            for i in 0..<covariance.elements.count { covariance.elements[i] *= sigma * sigma }
            let problems = monteCarloMismatches(SampleMoments(xt, centre: centre), mean: centre,
                                                covariance: covariance, gaussian: true)
            #expect(problems.isEmpty, "\(name): \(problems)")
        }
    }

    /// σ = 0 gives α x_0 exactly; α = 0 gives pure noise σ L z.
    @Test func edgeScales() throws {
        let noise = Self.noises()[0].1
        let x0 = Matrix([Self.x0, Self.x0.map { -$0 }])
        let still = try ForwardKernel(alpha: 0.5, sigma: 0, noise: noise).sample(from: x0, seed: 1)
        #expect(still.elements == x0.elements.map { 0.5 * $0 })
        let pure = try ForwardKernel(alpha: 0, sigma: 2, noise: noise)
        let lz = applyDense(noise.denseFactor, toRows: try pure.standardizedNoise(count: 2, seed: 1))
        #expect(isClose(try pure.sample(from: x0, seed: 1), Matrix(rows: 2, columns: 6, elements: lz.elements.map { 2 * $0 }),
                        rtol: 1e-13, atol: 1e-13))
    }

    /// A row's x_t depends only on (x_0, seed, sample, step): batches of 1, 7 and 100 compose to
    /// one batch of 300, and 1 or 2 threads give the same bits — for every Σ structure.
    @Test func noisingDoesNotDependOnBatchOrThreads() throws {
        var random = TestRandom(seed: 21)
        let x0 = random.matrix(300, 6)
        for (name, noise) in Self.noises() {
            let kernel = try ForwardKernel(alpha: 0.9, sigma: 0.4, noise: noise)
            let whole = try kernel.sample(from: x0, seed: 5, step: 2)
            for batch in [1, 7, 100] {
                let stacked = try inBatches(count: 300, of: batch) { first, count in
                    let rows = Matrix(rows: count, columns: 6,
                                      elements: Array(x0.elements[(first * 6)..<((first + count) * 6)]))
                    return try kernel.sample(from: rows, seed: 5, step: 2, firstSample: first)
                }
                #expect(stacked == whole, "\(name) batch \(batch)")
            }
            #expect(try withThreads(1) { try kernel.sample(from: x0, seed: 5, step: 2) } == whole, "\(name)")
            #expect(try withThreads(2) { try kernel.sample(from: x0, seed: 5, step: 2) } == whole, "\(name)")
            #expect(try kernel.sample(from: x0, seed: 5, step: 3) != whole)
        }
    }

    /// A K = 3 mixture in D = 6 (full, singular and diagonal-like components) with Kronecker
    /// noise and with full noise.
    static func model(noise: NoiseCovariance) -> MixtureModel {
        var random = TestRandom(seed: 40)
        var singular = Matrix(rows: 6, columns: 6)
        let b = random.matrix(6, 2)
        singular = BLAS.product(b, .none, b, .transpose)   // rank 2
        let prior = try! GaussianMixture(weights: [0.25, 0.45, 0.3], means: random.matrix(3, 6, scale: 2),
                                         covariances: .full([random.spd(6), singular.symmetrized,
                                                             .diagonal([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])]))
        return try! MixtureModel(prior: prior, noise: noise)
    }

    /// 150 000 samples of p_t: mean within 5 standard errors of Σπ_k αμ_k and covariance (about
    /// that mean) within 5 empirical standard errors of
    /// Σπ_k(α²Λ_k + σ²Σ + α²μ_kμ_kᵀ) − α²μ̄μ̄ᵀ; composition with p_0 sampling and noising is
    /// exact (bit for bit).
    @Test func marginalSamplesHaveTheMixtureMoments() throws {
        let (alpha, sigma) = (0.6, 0.8)
        for (name, noise) in Self.noises().prefix(2) {
            let model = Self.model(noise: noise)
            let sample = try model.sampleMarginal(count: 150_000, alpha: alpha, sigma: sigma, seed: 9)
            let d = model.dimension
            let meanBar = model.prior.mean
            let centre = meanBar.map { alpha * $0 }
            var covariance = Matrix(rows: d, columns: d)
            let sigmaMatrix = noise.denseMatrix
            for k in 0..<model.componentCount {
                let lambda = model.prior.covariance(of: k), mu = model.prior.means.row(k), w = model.prior.weights[k]
                for i in 0..<d {
                    for j in 0..<d {
                        covariance[i, j] += w * (alpha * alpha * (lambda[i, j] + mu[i] * mu[j])
                                                 + sigma * sigma * sigmaMatrix[i, j])
                    }
                }
            }
            for i in 0..<d { for j in 0..<d { covariance[i, j] -= centre[i] * centre[j] } }
            let problems = monteCarloMismatches(SampleMoments(sample.points, centre: centre), mean: centre,
                                                covariance: covariance, gaussian: false)
            #expect(problems.isEmpty, "\(name): \(problems)")

            // The two halves of the route, separately.
            let head = try model.sampleMarginal(count: 50, alpha: alpha, sigma: sigma, seed: 9, firstSample: 20)
            let (clean, components) = try model.prior.sample(count: 50, seed: 9, firstSample: 20)
            #expect(head.cleanPoints == clean && head.components == components)
            let kernel = try model.forwardKernel(alpha: alpha, sigma: sigma)
            #expect(head.points == (try kernel.sample(from: clean, seed: 9, firstSample: 20)))
            #expect(Array(head.points.elements) == Array(sample.points.elements[(20 * d)..<(70 * d)]))
        }
    }

    /// (t, schedule) is (α_t, σ_t) from `coefficients(at:)`; times outside the range throw.
    @Test func scheduleFormMatchesCoefficients() throws {
        let model = Self.model(noise: Self.noises()[1].1)
        let schedule = Schedule.vpCosine()
        let c = try schedule.coefficients(at: 0.35)
        let kernel = try ForwardKernel(t: 0.35, schedule: schedule, noise: model.noise)
        #expect(kernel.alpha == c.alpha && kernel.sigma == c.sigma)
        let a = try model.sampleMarginal(count: 30, t: 0.35, schedule: schedule, seed: 3)
        let b = try model.sampleMarginal(count: 30, alpha: c.alpha, sigma: c.sigma, seed: 3)
        #expect(a == b)
        #expect(throws: ScheduleError.self) { try ForwardKernel(t: 1.5, schedule: schedule, noise: model.noise) }
    }

    @Test func badArgumentsAreNamed() throws {
        let noise = Self.noises()[0].1
        func argument(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let error as ArgumentError { return error.argument } catch { return "\(error)" }
        }
        #expect(argument { _ = try ForwardKernel(alpha: -1, sigma: 1, noise: noise) } == "alpha")
        #expect(argument { _ = try ForwardKernel(alpha: 1, sigma: .nan, noise: noise) } == "sigma")
        let kernel = try ForwardKernel(alpha: 1, sigma: 1, noise: noise)
        #expect(argument { _ = try kernel.sample(from: Matrix(rows: 2, columns: 5), seed: 0) } == "x0")
        var bad = Matrix(rows: 2, columns: 6)
        bad[1, 4] = .infinity
        #expect(argument { _ = try kernel.sample(from: bad, seed: 0) } == "x0")
        #expect(argument { _ = try kernel.sample(from: Matrix(rows: 1, columns: 6), seed: 0,
                                                 step: NoiseStream.componentNoiseStep) } == "step")
        #expect(argument { _ = try kernel.sample(from: Matrix(rows: 1, columns: 6), seed: 0, firstSample: -1) } == "firstSample")
        let other = MixtureSampler(SamplingTests.fullMixture())
        #expect(argument { _ = try kernel.sampleMarginal(of: other, count: 3, seed: 0) } == "sampler")
        #expect(try kernel.sample(from: Matrix(rows: 0, columns: 6), seed: 0).rows == 0)
    }
}
