import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieInverse
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers
import TweedieEvaluation

/// The Gaussian-mixture inverse problems of the posterior-sampling literature (MCGdiff, Cardoso et
/// al. 2024; TMPD, Boys et al.), generated from a seed (docs/math.md §11.5).
public enum InverseProblemSetup {
    /// 25 components N(μ_ij, I) with μ_ij = (8i, 8j, 8i, 8j, …) for i, j ∈ {−2, …, 2}, in an even
    /// dimension D; weights ∝ z_ij² for standard normals z drawn from `seed`.
    public static func gridMixture(dimension d: Int, seed: UInt64) throws -> MixtureModel {
        guard d >= 2, d % 2 == 0 else { throw ArgumentError("dimension", "must be even and at least 2, got \(d)") }
        let stream = NoiseStream(seed: seed)
        let z = stream.normals(sample: 0, step: 0, count: 25)
        let total = z.reduce(0) { $0 + $1 * $1 }
        var means = Matrix(rows: 25, columns: d)
        for i in -2...2 {
            for j in -2...2 {
                let k = (i + 2) * 5 + (j + 2)
                for c in 0..<d { means[k, c] = 8 * Double(c % 2 == 0 ? i : j) }
            }
        }
        let prior = try GaussianMixture(weights: z.map { $0 * $0 / total }, means: means,
                                        covariances: .spherical([Double](repeating: 1, count: 25)))
        return try MixtureModel(prior: prior, name: "grid25-d\(d)")
    }

    /// A random operator and observation for `prior`: A = U diag(s) V_{d_y}ᵀ, the singular vectors
    /// of a d_y×D standard normal matrix G with its singular values replaced by s, uniform on (0, 1)
    /// and sorted; σ_y = u · max s for a uniform u; y = A x_0 + σ_y n for x_0 ~ p_0. The singular
    /// vectors come from the eigendecomposition G Gᵀ = U diag(λ) Uᵀ: A = U diag(s/√λ) Uᵀ G.
    public static func observation(prior: MixtureModel, observedDimension dy: Int,
                                   seed: UInt64) throws -> LinearObservation {
        let d = prior.dimension
        guard dy >= 1, dy <= d else { throw ArgumentError("observed dimension", "must lie in 1...\(d), got \(dy)") }
        let stream = NoiseStream(seed: seed)
        let g = Matrix(rows: dy, columns: d, elements: stream.normals(sample: 0, step: 1, count: dy * d))
        let eigen = try SymmetricEigendecomposition(BLAS.product(g, .none, g, .transpose).symmetrized)
        // Eigenvalues ascending, so singular values ascending: pair them with sorted uniforms.
        let s = (0..<dy).map { stream.uniform(sample: 0, step: 2, index: $0) }.sorted()
        var scaled = eigen.vectors
        for i in 0..<dy { for j in 0..<dy { scaled[i, j] *= s[j] / eigen.values[j].squareRoot() } }
        let a = BLAS.product(BLAS.product(scaled, .none, eigen.vectors, .transpose), g)
        let sigmaY = stream.uniform(sample: 0, step: 3) * s.max()!
        let x0 = try MixtureSampler(prior.prior).sample(count: 1, seed: derivedSeed(seed, purpose: 3)).points
        let noise = stream.normals(sample: 0, step: 4, count: dy)
        var y = [Double](repeating: 0, count: dy)
        for i in 0..<dy {
            for j in 0..<d { y[i] += a[i, j] * x0[0, j] }
            y[i] += sigmaY * noise[i]
        }
        return try LinearObservation(operator: a, y: y, noiseStandardDeviation: sigmaY)
    }
}

/// The inverse-problem study: for each dimension D and observed dimension d_y, several random
/// operators (``InverseProblemSetup``), each guidance method sampled with one sampler from the same
/// noise, and measured against exact posterior samples: sliced W2 with its noise floor (two exact
/// sets) and the TV distance of the posterior mode weights.
public struct InverseProblemStudy {
    public struct Configuration: Sendable {
        public var dimensions: [Int] = [8, 80, 800]
        public var observedDimensions: [Int] = [1, 2, 4]
        public var operators = 5
        public var count = 1000
        public var seed: UInt64 = 0
        public var sampler: String = "heun"
        public var schedule: String = "vp-linear"
        public var steps: Int? = 50
        public var methods: [GuidanceMethod] = GuidanceMethod.allCases
        public var projections = SlicedWasserstein.defaultProjections
        public var batchSize = 256
        public init() {}
    }

    public struct Row: Sendable {
        public var dimension: Int
        public var observedDimension: Int
        public var operatorIndex: Int
        public var method: GuidanceMethod
        /// σ_y of the operator, and log p(y).
        public var noiseStd: Double
        public var logEvidence: Double
        public var slicedWasserstein: Double
        public var slicedWassersteinFloor: Double
        public var modeWeightTV: Double
        public var modeWeightTVFloor: Double
        public var wallTime: Double
        /// Why the run produced no samples (a diverging method: DPS with a strong step, say); its
        /// figures are then NaN.
        public var failure: String?
    }

    public let configuration: Configuration
    let samplerConfiguration: SamplerConfiguration
    let schedule: Schedule

    public init(_ configuration: Configuration) throws {
        self.configuration = configuration
        samplerConfiguration = try SamplerConfiguration(parsing: configuration.sampler)
        schedule = try Schedule.named(configuration.schedule)
        _ = try samplerConfiguration.path(schedule: schedule, steps: configuration.steps)
        for d in configuration.dimensions where d < 2 || d % 2 != 0 {
            throw ArgumentError("dimensions", "each must be even and at least 2, got \(d)")
        }
        for dy in configuration.observedDimensions
        where dy < 1 || configuration.dimensions.contains(where: { dy > $0 }) {
            throw ArgumentError("observed", "each d_y must lie in 1...D, got \(dy)")
        }
        guard configuration.operators >= 1 else {
            throw ArgumentError("operators", "must be at least 1, got \(configuration.operators)")
        }
        guard configuration.count >= 2 else {
            throw ArgumentError("count", "must be at least 2, got \(configuration.count)")
        }
        guard !configuration.methods.isEmpty else { throw ArgumentError("guidance", "no method given") }
    }

    /// The seed of operator `index` of cell (D, d_y): the same whatever else the run contains.
    public func operatorSeed(dimension d: Int, observed dy: Int, index: Int) -> UInt64 {
        derivedSeed(derivedSeed(derivedSeed(configuration.seed, purpose: UInt64(d)), purpose: UInt64(dy)),
                    purpose: UInt64(index))
    }

    /// Runs every (D, d_y, operator, method) row; `progress` gets the fraction done.
    public func run(progress: ((Double) -> Void)? = nil) throws -> [Row] {
        let c = configuration
        let total = Double(c.dimensions.count * c.observedDimensions.count * c.operators * c.methods.count)
        var rows: [Row] = []
        let path = try samplerConfiguration.path(schedule: schedule, steps: c.steps)
        for d in c.dimensions {
            let prior = try InverseProblemSetup.gridMixture(dimension: d, seed: derivedSeed(c.seed, purpose: 100))
            let oracle = try Oracle(prior)
            for dy in c.observedDimensions {
                for index in 0..<c.operators {
                    let observation = try InverseProblemSetup.observation(
                        prior: prior, observedDimension: dy,
                        seed: operatorSeed(dimension: d, observed: dy, index: index))
                    let posterior = try ExactPosterior(prior: prior, observation: observation)
                    for method in c.methods {
                        let start = Date()
                        var row = Row(dimension: d, observedDimension: dy, operatorIndex: index, method: method,
                                      noiseStd: observation.noiseMatrix[0, 0].squareRoot(),
                                      logEvidence: posterior.logEvidence,
                                      slicedWasserstein: .nan, slicedWassersteinFloor: .nan, modeWeightTV: .nan,
                                      modeWeightTVFloor: .nan, wallTime: 0, failure: nil)
                        do {
                            let model = try guidedModel(method, base: oracle, prior: prior, observation: observation)
                            let samples = try samplerConfiguration.makeSampler().run(
                                count: c.count, model: model, path: path, noise: NoiseStream(seed: c.seed),
                                batchSize: c.batchSize).samples
                            row.wallTime = Date().timeIntervalSince(start)
                            let quality = try SampleQuality(samples: samples, mixture: posterior.model.prior,
                                                            seed: c.seed, projections: c.projections)
                            row.slicedWasserstein = quality.slicedWasserstein
                            row.slicedWassersteinFloor = quality.slicedWassersteinFloor
                            row.modeWeightTV = quality.modeWeights.totalVariation
                            row.modeWeightTVFloor = quality.referenceModeWeights.totalVariation
                        } catch let error as SamplerDivergence {
                            row.failure = "\(error)"
                        } catch let error as ArgumentError where error.argument == "guidance" {
                            row.failure = "\(error)"
                        }
                        rows.append(row)
                        progress?(Double(rows.count) / total)
                    }
                }
            }
        }
        return rows
    }

    /// results.csv: one line per row, every number in full.
    public static func csv(_ rows: [Row]) -> String {
        var lines = ["dimension,observed_dimension,operator,method,noise_std,log_evidence,sliced_w2,sliced_w2_floor,"
                     + "tv_mode_weights,tv_mode_weights_floor,wall_time_s,failure"]
        for r in rows {
            lines.append([String(r.dimension), String(r.observedDimension), String(r.operatorIndex), r.method.rawValue,
                          "\(r.noiseStd)", "\(r.logEvidence)", "\(r.slicedWasserstein)", "\(r.slicedWassersteinFloor)",
                          "\(r.modeWeightTV)", "\(r.modeWeightTVFloor)", "\(r.wallTime)",
                          (r.failure ?? "").replacingOccurrences(of: ",", with: ";")].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Mean and standard deviation over the operators of a cell.
    public static func summary(_ values: [Double]) -> (mean: Double, std: Double) {
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let variance = values.count > 1 ? values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1) : 0
        return (mean, variance.squareRoot())
    }

    /// report.md: per cell (D, d_y) and method, sliced W2 and the mode-weight TV as mean ± std over
    /// the operators, beside their noise floors.
    public func markdown(_ rows: [Row]) -> String {
        let c = configuration
        var lines = ["# Inverse-problem study: 25-mode grid mixture, random operators", ""]
        lines.append("- prior: 25 components N(μ_ij, I), μ_ij = (8i, 8j, 8i, 8j, …), i, j ∈ {−2, …, 2}, "
                     + "weights ∝ z², seeded")
        lines.append("- operators: A = U diag(s) Vᵀ with Haar singular vectors and s sorted uniforms on (0, 1); "
                     + "σ_y = u · max s; "
                     + "y = A x_0 + σ_y n, x_0 ~ p_0; \(c.operators) operator\(c.operators == 1 ? "" : "s") per cell")
        lines.append("- sampler `\(c.sampler)` on `\(c.schedule)`\(c.steps.map { ", \($0) steps" } ?? ""); "
                     + "\(c.count) samples per run, seed \(c.seed); "
                     + "every method from the same starting noise")
        lines.append("- sliced W2 (\(c.projections) directions) to \(c.count) exact posterior samples; "
                     + "floor: two exact sets. "
                     + "TV: total variation between the share of samples in each mode and p(k | y); "
                     + "floor: exact samples")
        lines.append("- `exact` is the exact posterior's oracle driving the same sampler: "
                     + "its distance is the sampler's own error")
        lines.append("- mean ± standard deviation over the operators; "
                     + "a run that diverged (NaN or overflow) is counted apart")
        lines.append("")
        lines.append("| D | d_y | method | sliced W2 | floor | TV of mode weights | floor | diverged |")
        lines.append("|---:|---:|---|---:|---:|---:|---:|---:|")
        func cell(_ values: [Double]) -> String {
            let finite = values.filter(\.isFinite)
            guard !finite.isEmpty else { return "—" }
            let s = Self.summary(finite)
            return String(format: "%.3g ± %.2g", s.mean, s.std)
        }
        for d in c.dimensions {
            for dy in c.observedDimensions {
                for method in c.methods {
                    let own = rows.filter { $0.dimension == d && $0.observedDimension == dy && $0.method == method }
                    guard !own.isEmpty else { continue }
                    lines.append("| \(d) | \(dy) | \(method.rawValue) | \(cell(own.map(\.slicedWasserstein))) | "
                                 + "\(cell(own.map(\.slicedWassersteinFloor))) | \(cell(own.map(\.modeWeightTV))) | "
                                 + "\(cell(own.map(\.modeWeightTVFloor))) | "
                                 + "\(own.filter { $0.failure != nil }.count) of \(own.count) |")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
