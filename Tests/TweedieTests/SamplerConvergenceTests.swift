import Foundation
import Testing
import Tweedie

/// Order of convergence of the ODE samplers, measured against rk45 at rtol = atol = 1e-10 from the
/// same starting noise on the same end points, on a smooth problem: a 2-D mixture of three broad,
/// overlapping components (sd 0.6–1.0, means 1.3–2 apart) under a correlated Σ, so that
/// x̂_0 is smooth everywhere and no sample sits near a sharp decision boundary. The error is the
/// RMS over all 24 samples (none excluded) of ‖x − x_rk45‖; the slope is the least-squares fit of
/// log error against log h, h = (λ_end − λ_start)/(N − 1) or the Karras step ∝ 1/(N − 1), over
/// N − 1 = 10, 20, 40, 80 intervals.
@Suite struct SamplerConvergenceTests {
    static func model() throws -> MixtureModel {
        let prior = try GaussianMixture(
            weights: [0.3, 0.45, 0.25],
            means: Matrix([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.2]]),
            covariances: .full([Matrix([[0.8, 0.2], [0.2, 0.5]]), Matrix([[0.4, -0.1], [-0.1, 0.6]]),
                                Matrix([[1.0, 0.3], [0.3, 0.7]])]))
        return try MixtureModel(prior: prior, noise: NoiseCovariance(.full(Matrix([[1.0, 0.4], [0.4, 0.7]])), dimension: 2))
    }

    enum Setting: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case vpLogSNR = "vp-linear, uniform in λ", edmKarras = "edm, Karras ρ = 7"
        var testDescription: String { rawValue }
        func path(_ steps: Int) throws -> SamplingPath {
            switch self {
            case .vpLogSNR: try SamplingPath.make(.logSNR, schedule: .vpLinear(), steps: steps)
            case .edmKarras: try SamplingPath.make(.karras, schedule: .edm(), steps: steps)
            }
        }
    }

    /// Least-squares slope of log e against log h.
    static func slope(_ h: [Double], _ e: [Double]) -> Double {
        let x = h.map(log), y = e.map(log)
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        let sxy = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let sxx = x.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        return sxy / sxx
    }

    static func rmsError(_ a: Matrix, _ b: Matrix) -> Double {
        var total = 0.0
        for i in 0..<a.elements.count { total += (a.elements[i] - b.elements[i]) * (a.elements[i] - b.elements[i]) }
        return (total / Double(a.rows)).squareRoot()
    }

    @Test(arguments: Setting.allCases)
    func eulerIsFirstOrderAndHeunAndDPMSolverAreSecondOrder(setting: Setting) throws {
        let model = try Self.model()
        let oracle = try Oracle(model)
        let stream = NoiseStream(seed: 2024)
        let intervals = [10, 20, 40, 80]
        let start = try setting.path(2)
        let x = try initialState(count: 24, model: oracle, path: start, noise: stream)
        // rk45 integrates from t_max to t_min of the same grid, then returns x̂_0 there.
        let reference = try RK45Sampler(relativeTolerance: 1e-10, absoluteTolerance: 1e-10)
            .sample(x, model: oracle, path: start, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        // The reference's own error: rk45 at 1e-8 is within 1e-6 of it (so its error at 1e-10 is
        // far below the finest sampler error, ~1.5e-3).
        let check = try RK45Sampler(relativeTolerance: 1e-8, absoluteTolerance: 1e-8)
            .sample(x, model: oracle, path: start, noise: stream, firstSample: 0, monitor: SamplingMonitor())
        #expect(Self.rmsError(check, reference) <= 1e-6, "rk45 1e-8 vs 1e-10: \(Self.rmsError(check, reference))")
        let samplers: [(String, any Sampler, ClosedRange<Double>)] = [
            ("euler", EulerSampler(), 0.8...1.3),
            ("heun", HeunSampler(), 1.7...2.6),
            ("dpmpp-2m", DPMSolverPlusPlus2MSampler(), 1.7...2.6),
        ]
        for (name, sampler, band) in samplers {
            var errors: [Double] = []
            for m in intervals {
                let path = try setting.path(m + 1)
                #expect(path.times.first == start.times.first && path.times.last == start.times.last)
                let out = try sampler.sample(x, model: oracle, path: path, noise: stream, firstSample: 0, monitor: SamplingMonitor())
                errors.append(Self.rmsError(out, reference))
            }
            let s = Self.slope(intervals.map { 1 / Double($0) }, errors)
            print("order \(name) on \(setting.rawValue): errors \(errors.map { String(format: "%.3e", $0) }), slope \(String(format: "%.3f", s))")
            #expect(band.contains(s), "\(name) on \(setting.rawValue): slope \(s), errors \(errors)")
            #expect(errors.last! >= 1e3 * Self.rmsError(check, reference))
        }
    }
}
