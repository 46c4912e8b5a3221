import Foundation
import Testing
import Tweedie

/// For p_0 = N(μ, Λ) the denoiser is affine, so every sampler step is an affine map of x plus, for
/// stochastic samplers, Gaussian noise. The references in SamplerTestSupport.swift compose those
/// maps from the papers' formulas with dense matrices (never calling the samplers); here each
/// sampler is compared with them: exactly (1e-10) for deterministic outputs and for the noise-free
/// part of stochastic ones, and in law (Monte Carlo, 5 standard errors) for the noise.
@Suite struct SamplerGaussianTests {
    static let prior = samplerTestGaussian

    enum Grid: String, CaseIterable, CustomTestStringConvertible {
        case vpLinear = "vp-linear/log-snr", edm = "edm/karras", flow = "flow/log-snr"
        var testDescription: String { rawValue }
        func path(steps: Int = 12) throws -> SamplingPath {
            switch self {
            case .vpLinear: try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: steps)
            case .edm: try SamplingPath.make(.karras, schedule: .edm(), steps: steps)
            case .flow: try SamplingPath.make(.logSNR, schedule: .flow, steps: steps)
            }
        }
        var sde: ReferenceSDE {
            switch self {
            case .vpLinear: .vpLinear
            case .edm: .edm
            case .flow: .flow
            }
        }
    }

    /// A sampler and its reference.
    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let sampler: any Sampler
        let reference: @Sendable (GaussianPrior, SamplingPath, Grid) -> AffineState
        var testDescription: String { label }
    }

    static func lv(_ path: SamplingPath) -> [ReferenceSamplers.Level] { ReferenceSamplers.levels(path) }

    static let deterministic: [Case] = [
        Case(label: "euler", sampler: EulerSampler()) { p, path, _ in
            ReferenceSamplers.euler(p, lv(path), start: .start(p.dimension)) },
        Case(label: "heun", sampler: HeunSampler()) { p, path, _ in
            ReferenceSamplers.heun(p, lv(path), start: .start(p.dimension)) },
        Case(label: "heun churn, S_noise = 0", sampler: HeunSampler(churn: 30, churnMinimum: 0.05, churnMaximum: 50, noiseScale: 0)) { p, path, _ in
            ReferenceSamplers.heun(p, lv(path), start: .start(p.dimension), churn: 30, churnMinimum: 0.05,
                                   churnMaximum: 50, noiseScale: 0, cap: path.largestScaledSigma) },
        Case(label: "dpmpp-2m", sampler: DPMSolverPlusPlus2MSampler()) { p, path, _ in
            ReferenceSamplers.dpmpp2m(p, lv(path), start: .start(p.dimension)) },
        Case(label: "ddim η=0", sampler: DDIMSampler(eta: 0)) { p, path, _ in
            ReferenceSamplers.ddim(p, lv(path), start: .start(p.dimension), eta: 0) },
        Case(label: "dpmpp-2m-sde, S_noise = 0", sampler: DPMSolverPlusPlus2MSDESampler(eta: 1, noiseScale: 0)) { p, path, _ in
            ReferenceSamplers.dpmpp2mSDE(p, lv(path), start: .start(p.dimension), eta: 1, noiseScale: 0) },
    ]

    static let stochastic: [Case] = [
        Case(label: "ddpm β̃", sampler: DDPMSampler(variance: .posterior)) { p, path, _ in
            ReferenceSamplers.ddim(p, lv(path), start: .start(p.dimension), eta: 1) },
        Case(label: "ddpm β", sampler: DDPMSampler(variance: .forward)) { p, path, _ in
            ReferenceSamplers.ddim(p, lv(path), start: .start(p.dimension), eta: 1, forwardVariance: true) },
        Case(label: "ddim η=1", sampler: DDIMSampler(eta: 1)) { p, path, _ in
            ReferenceSamplers.ddim(p, lv(path), start: .start(p.dimension), eta: 1) },
        Case(label: "ddim η=0.5", sampler: DDIMSampler(eta: 0.5)) { p, path, _ in
            ReferenceSamplers.ddim(p, lv(path), start: .start(p.dimension), eta: 0.5) },
        Case(label: "dpmpp-2m-sde", sampler: DPMSolverPlusPlus2MSDESampler()) { p, path, _ in
            ReferenceSamplers.dpmpp2mSDE(p, lv(path), start: .start(p.dimension)) },
        Case(label: "dpmpp-2m-sde η=0.5", sampler: DPMSolverPlusPlus2MSDESampler(eta: 0.5, noiseScale: 1)) { p, path, _ in
            ReferenceSamplers.dpmpp2mSDE(p, lv(path), start: .start(p.dimension), eta: 0.5) },
        Case(label: "euler-maruyama", sampler: EulerMaruyamaSampler()) { p, path, grid in
            ReferenceSamplers.eulerMaruyama(p, path, start: .start(p.dimension), drift: grid.sde.drift,
                                            diffusionSquared: grid.sde.diffusionSquared) },
        Case(label: "heun churn", sampler: HeunSampler(churn: 30, churnMinimum: 0.05, churnMaximum: 50)) { p, path, _ in
            ReferenceSamplers.heun(p, lv(path), start: .start(p.dimension), churn: 30, churnMinimum: 0.05,
                                   churnMaximum: 50, cap: path.largestScaledSigma) },
        Case(label: "exact", sampler: ExactSampler()) { p, path, _ in
            ReferenceSamplers.exact(p, lv(path), start: .start(p.dimension)) },
    ]

    static func run(_ sampler: any Sampler, _ prior: GaussianPrior, _ path: SamplingPath, _ x: Matrix,
                    seed: UInt64 = 5) throws -> Matrix {
        try sampler.sample(x, model: try Oracle(prior.model()), path: path, noise: NoiseStream(seed: seed),
                           firstSample: 0, monitor: SamplingMonitor())
    }

    /// Starting points of the size the sampler meets: σ_{t_0} L z.
    static func starts(_ count: Int, _ path: SamplingPath, seed: UInt64) -> Matrix {
        var rng = TestRandom(seed: seed)
        let l = prior.l
        var x = Matrix(rows: count, columns: prior.dimension)
        for r in 0..<count { x.setRow(r, to: vectorScale(path.levels[0].sigma, l.apply(rng.normals(prior.dimension)))) }
        return x
    }

    static let deterministicArguments: [(Case, Grid)] =
        deterministic.flatMap { c in [Grid.vpLinear, .edm].map { (c, $0) } } + [(deterministic[0], .flow), (deterministic[3], .flow)]

    /// (i) Deterministic samplers: output = A x + b exactly.
    @Test(arguments: deterministicArguments)
    func deterministicSamplerIsTheComposedAffineMap(c: Case, grid: Grid) throws {
        let path = try grid.path()
        let reference = c.reference(Self.prior, path, grid)
        let x = Self.starts(6, path, seed: 1)
        let out = try Self.run(c.sampler, Self.prior, path, x)
        var worst = 0.0
        for r in 0..<x.rows { worst = max(worst, samplerRelativeError(out.row(r), reference.deterministic(x.row(r)))) }
        #expect(worst <= 1e-10, "\(c.label) on \(grid.rawValue): max relative error \(worst)")
    }

    static let stochasticArguments: [(Case, Grid)] = stochastic.flatMap { c in [Grid.vpLinear, .edm].map { (c, $0) } }

    /// (ii) Stochastic samplers, noise-free part: with the same keyed noise, two starting points
    /// differ at the output by exactly A(x − x'), and two priors by exactly b(μ) − b(μ').
    @Test(arguments: stochasticArguments)
    func noiseFreePartIsTheComposedAffineMap(c: Case, grid: Grid) throws {
        let path = try grid.path()
        let reference = c.reference(Self.prior, path, grid)
        let x1 = Self.starts(8, path, seed: 2), x2 = Self.starts(8, path, seed: 3)
        let out1 = try Self.run(c.sampler, Self.prior, path, x1, seed: 9)
        let out2 = try Self.run(c.sampler, Self.prior, path, x2, seed: 9)
        let delta = [0.7, -1.1, 0.4]
        let shifted = Self.prior.shifted(delta)
        let out3 = try Self.run(c.sampler, shifted, path, x1, seed: 9)
        let shiftedReference = c.reference(shifted, path, grid)
        var worstStart = 0.0, worstMean = 0.0
        for r in 0..<x1.rows {
            let predicted = reference.a.apply(vectorSub(x1.row(r), x2.row(r)))
            worstStart = max(worstStart, samplerRelativeError(vectorSub(out1.row(r), out2.row(r)), predicted))
            worstMean = max(worstMean, samplerRelativeError(vectorSub(out3.row(r), out1.row(r)),
                                                            vectorSub(shiftedReference.b, reference.b)))
        }
        #expect(worstStart <= 1e-10, "\(c.label) on \(grid.rawValue): A(x − x') error \(worstStart)")
        #expect(worstMean <= 1e-10, "\(c.label) on \(grid.rawValue): b(μ) − b(μ') error \(worstMean)")
        // The noise really is there (else the law tests below would be vacuous).
        let residual = vectorSub(out1.row(0), reference.deterministic(x1.row(0)))
        #expect(residual.map(abs).max()! > 1e-6, "\(c.label): no noise in the output?")
    }

    /// (ii) Stochastic samplers, in law: from x ~ N(0, σ_0²Σ) (``initialState``), the output's mean
    /// and covariance are the propagated ones, and the noise part e = x_out − (A x + b) has mean 0
    /// and covariance N Nᵀ; each within 5 standard errors (4000 samples).
    @Test(arguments: stochasticArguments)
    func outputLawIsThePropagatedGaussian(c: Case, grid: Grid) throws {
        let path = try grid.path()
        let reference = c.reference(Self.prior, path, grid)
        let model = try Oracle(Self.prior.model())
        let n = 4000, d = Self.prior.dimension
        let stream = NoiseStream(seed: 21)
        let x = try initialState(count: n, model: model, path: path, noise: stream)
        let out = try c.sampler.sample(x, model: model, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        let sigma0 = path.levels[0].sigma
        let law = reference.law(startMean: .init(repeating: 0, count: d), startCovariance: Self.prior.sigma.scaled(sigma0 * sigma0))
        let z = SamplerStatistics.gaussianMomentZ(out, mean: law.mean, covariance: law.covariance)
        #expect(z.mean <= 5 && z.covariance <= 5, "\(c.label) on \(grid.rawValue): output z-scores \(z)")

        var residual = out
        for r in 0..<n { residual.setRow(r, to: vectorSub(out.row(r), reference.deterministic(x.row(r)))) }
        let q = reference.noiseCovariance
        let zr = SamplerStatistics.gaussianMomentZ(residual, mean: .init(repeating: 0, count: d), covariance: q)
        #expect(zr.mean <= 5 && zr.covariance <= 5, "\(c.label) on \(grid.rawValue): noise z-scores \(zr)")
        // Mahalanobis: mean of eᵀQ⁻¹e is D ± 5√(2D/n).
        let qInverse = q.inverse
        var chi2 = 0.0
        for r in 0..<n {
            let e = residual.row(r)
            chi2 += zip(e, qInverse.apply(e)).reduce(0) { $0 + $1.0 * $1.1 }
        }
        chi2 /= Double(n)
        #expect(abs(chi2 - Double(d)) <= 5 * (2 * Double(d) / Double(n)).squareRoot(),
                "\(c.label) on \(grid.rawValue): mean Mahalanobis² of the noise \(chi2), expected \(d)")
    }

    /// The law tests can fail: samples of one sampler are rejected by a neighbouring sampler's law.
    @Test(arguments: [Grid.vpLinear, .edm])
    func lawTestsDiscriminateNeighbouringSamplers(grid: Grid) throws {
        let path = try grid.path()
        let model = try Oracle(Self.prior.model())
        let n = 4000, d = Self.prior.dimension
        let stream = NoiseStream(seed: 21)
        let x = try initialState(count: n, model: model, path: path, noise: stream)
        // (β̃ as β), (η = 0.5 as η = 1), (2M SDE as ddim η = 1).
        let pairs: [(Int, Int)] = [(0, 1), (3, 2), (4, 2)]
        for (drawn, claimed) in pairs {
            let out = try Self.stochastic[drawn].sampler.sample(x, model: model, path: path, noise: stream, firstSample: 0,
                                                                monitor: SamplingMonitor())
            let reference = Self.stochastic[claimed].reference(Self.prior, path, grid)
            var residual = out
            for r in 0..<n { residual.setRow(r, to: vectorSub(out.row(r), reference.deterministic(x.row(r)))) }
            let zr = SamplerStatistics.gaussianMomentZ(residual, mean: .init(repeating: 0, count: d), covariance: reference.noiseCovariance)
            #expect(max(zr.mean, zr.covariance) > 10,
                    "\(Self.stochastic[drawn].label) samples pass as \(Self.stochastic[claimed].label) on \(grid.rawValue): \(zr)")
        }
    }

    /// `exact` from x ~ p_{t_0}: the output law is p_0 = N(μ, Λ) for any number of steps. The
    /// reference propagation gives (μ, Λ) to rounding; the sampler's 8000 draws within 5 SE.
    @Test(arguments: [1, 2, 5])
    func exactSamplerReproducesTheGaussianPrior(steps: Int) throws {
        let p = Self.prior, d = p.dimension
        for grid in [Grid.vpLinear, .edm] {
            let path = try grid.path(steps: steps)
            let (alpha, sigma) = (path.levels[0].alpha, path.levels[0].sigma)
            let ct = p.lambda.scaled(alpha * alpha).add(p.sigma.scaled(sigma * sigma))
            let law = ReferenceSamplers.exact(p, Self.lv(path), start: .start(d))
                .law(startMean: vectorScale(alpha, p.mu), startCovariance: ct)
            #expect(samplerRelativeError(law.mean, p.mu) <= 1e-9 && samplerRelativeError(law.covariance.e, p.lambda.e) <= 1e-9,
                    "reference: \(law)")
            // Draws of p_{t_0}, by the dense Cholesky factor of C_t.
            let n = 8000
            var rng = TestRandom(seed: 31)
            let factor = ct.cholesky
            var x = Matrix(rows: n, columns: d)
            for r in 0..<n { x.setRow(r, to: vectorAdd(vectorScale(alpha, p.mu), factor.apply(rng.normals(d)))) }
            let out = try Self.run(ExactSampler(), p, path, x, seed: 32)
            let z = SamplerStatistics.gaussianMomentZ(out, mean: p.mu, covariance: p.lambda)
            #expect(z.mean <= 5 && z.covariance <= 5, "exact, \(steps) steps on \(grid.rawValue): z-scores \(z)")
        }
    }

    /// The probability-flow ODE of a Gaussian has a closed-form flow: in whitened coordinates
    /// ỹ − ν = U diag(√((γ + σ̃²)/(γ + σ̃_0²))) Uᵀ(ỹ_0 − ν), Γ = L⁻¹ΛL⁻ᵀ = U diag(γ) Uᵀ. rk45 must
    /// reach it to its tolerance; euler, heun and dpmpp-2m with 400 steps to their orders.
    @Test(arguments: [Grid.vpLinear, .edm])
    func odeSamplersFollowTheClosedFormFlow(grid: Grid) throws {
        let p = Self.prior, d = p.dimension
        let coarse = try grid.path(steps: 2)
        let (s0, s1) = (coarse.scaledSigma(0), coarse.scaledSigma(1))
        let lInverse = p.l.inverse
        let gamma = lInverse.mul(p.lambda).mul(lInverse.transposed).symmetrized
        let flowWhitened = gamma.add(DenseMatrix.identity(d).scaled(s1 * s1)).symmetricFunction { $0.squareRoot() }
            .mul(gamma.add(DenseMatrix.identity(d).scaled(s0 * s0)).symmetricFunction { 1 / $0.squareRoot() })
        let flow = p.l.mul(flowWhitened).mul(lInverse)  // x̃_1 − μ = flow (x̃_0 − μ)
        let x = Self.starts(5, coarse, seed: 4)
        var expected = x
        for r in 0..<x.rows {
            let scaled0 = vectorScale(1 / coarse.levels[0].alpha, x.row(r))
            let scaled1 = vectorAdd(p.mu, flow.apply(vectorSub(scaled0, p.mu)))
            let state = AffineState(a: DenseMatrix(d, d), b: scaled1, n: DenseMatrix(d, 0))
            expected.setRow(r, to: p.denoiseScaled(state, scaledSigma: s1).b)
        }
        func error(_ out: Matrix) -> Double {
            (0..<x.rows).map { samplerRelativeError(out.row($0), expected.row($0)) }.max()!
        }
        let tight = try Self.run(RK45Sampler(relativeTolerance: 1e-10, absoluteTolerance: 1e-10), p, coarse, x)
        #expect(error(tight) <= 1e-8, "rk45 at 1e-10: \(error(tight))")
        let loose = try Self.run(RK45Sampler(), p, coarse, x)
        #expect(error(loose) <= 1e-4, "rk45 at 1e-5: \(error(loose))")
        let fine = try grid.path(steps: 401)
        let eulerError = error(try Self.run(EulerSampler(), p, fine, x))
        let heunError = error(try Self.run(HeunSampler(), p, fine, x))
        let dpmError = error(try Self.run(DPMSolverPlusPlus2MSampler(), p, fine, x))
        #expect(eulerError <= 1e-2 && heunError <= 2e-4 && dpmError <= 2e-4,
                "400 steps on \(grid.rawValue): euler \(eulerError), heun \(heunError), dpmpp-2m \(dpmError)")
    }
}
