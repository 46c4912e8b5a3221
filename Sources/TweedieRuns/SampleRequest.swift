import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieInverse
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// One sampling run, whichever door it comes through: the command line parses its options into a
/// request, the C ABI decodes it from JSON, Python builds it from keywords. The rules between
/// options live here once (``validate()``), and so does the choice of the denoiser the sampler
/// calls (``prepare(model:network:)``): the model's oracle, a network, or either guided towards an
/// observation.
///
/// ```swift
/// var request = SampleRequest(sampler: try SamplerConfiguration(parsing: "heun"), schedule: "edm",
///                             steps: 18, count: 1000, seed: 1)
/// let setup = try request.prepare(model: BuiltinModels.ring8())
/// let run = try setup.run()   // run.samples: 1000×2, bit for bit `tweedie sample` with the same options
/// ```
///
/// The request's JSON form (``init(json:)``, ``json()``) holds the configuration; the observation's
/// arrays travel beside it (files on the command line, an observation handle in the C ABI).
public struct SampleRequest: Sendable, Equatable {
    /// Guidance towards the observation y = A x_0 + n (docs/math.md §11.4).
    public struct Guidance: Sendable, Equatable {
        public var method: GuidanceMethod
        /// DPS's strength ζ (dps only; 1 when not given).
        public var zeta: Double?

        public init(_ method: GuidanceMethod, zeta: Double? = nil) {
            self.method = method
            self.zeta = zeta
        }
    }

    /// A network that drives the sampler instead of the model's oracle: what it predicts and the
    /// dimension D of its points.
    public struct Network: Sendable, Equatable {
        public var prediction: PredictionType
        public var dimension: Int

        public init(prediction: PredictionType, dimension: Int) {
            self.prediction = prediction
            self.dimension = dimension
        }
    }

    /// The sampler and its parsed options.
    public var sampler: SamplerConfiguration
    /// A schedule specification, as ``Schedule/named(_:)`` reads it (`edm`, `ddpm:steps=1000`).
    public var schedule: String
    /// The time grid; the schedule's default when nil.
    public var grid: GridKind?
    /// N, the intervals of the grid; nil for an adaptive sampler, which chooses its own.
    public var steps: Int?
    /// An explicit grid instead of `grid` and `steps`: the N times t_0 > … > t_{N−1} in the
    /// schedule's own time (σ itself for edm), after which every sampler ends at σ = 0 — e.g. a grid
    /// of least exact KL (docs/math.md §12.5).
    public var times: [Double]?
    /// C, the number of samples.
    public var count: Int
    /// The noise stream: sample i uses only the noise of (seed, i).
    public var seed: UInt64
    /// Samples per batch (the samples do not depend on it); ``SamplingRun/defaultBatchSize(dimension:)``
    /// when nil.
    public var batchSize: Int?
    /// The arithmetic of the model's oracle (``Precision/float32`` for data sets only).
    public var precision: Precision
    public var guidance: Guidance?
    /// What guidance steers towards; needed with guidance, refused without.
    public var observation: LinearObservation?
    /// Set when a network, not the model's oracle, is the denoiser.
    public var network: Network?
    /// ε of certified pruning (data sets with Σ = I only; docs/math.md §2.8): each call's denoiser
    /// is within ε ‖x_t‖ of the exact one, certified; nil for the exact sum over every component.
    public var prune: Double?

    public init(sampler: SamplerConfiguration, schedule: String, grid: GridKind? = nil, steps: Int? = nil,
                count: Int, seed: UInt64 = 0, batchSize: Int? = nil, precision: Precision = .float64,
                guidance: Guidance? = nil, observation: LinearObservation? = nil, network: Network? = nil,
                prune: Double? = nil) {
        self.sampler = sampler
        self.schedule = schedule
        self.grid = grid
        self.steps = steps
        self.count = count
        self.seed = seed
        self.batchSize = batchSize
        self.precision = precision
        self.guidance = guidance
        self.observation = observation
        self.network = network
        self.prune = prune
    }

    /// Checks every rule between the request's fields; throws the first one broken.
    public func validate() throws(RequestError) {
        let kind = sampler.kind
        if let times {
            guard !kind.isAdaptive else {
                throw RequestError("times",
                                   "{times}: the \(kind.rawValue) sampler is adaptive and chooses its own steps")
            }
            guard steps == nil, grid == nil else {
                throw RequestError("times", "{times} gives the grid itself: not with {steps} or {grid}")
            }
            guard !times.isEmpty, times.count <= MemoryBudget.maximumSteps else {
                throw RequestError("times",
                                   "{times} must hold 1 to \(MemoryBudget.maximumSteps) times, got \(times.count)")
            }
            guard times.allSatisfy(\.isFinite) else { throw RequestError("times", "{times} must be finite numbers") }
            return try validateRest()
        }
        if kind.isAdaptive, steps != nil {
            throw RequestError("steps", "{steps} is not an option of the \(kind.rawValue) sampler: "
                               + "it is adaptive ({rtol} and {atol} set its accuracy)")
        }
        if !kind.isAdaptive {
            guard let steps else { throw RequestError("steps", "{steps} is needed by the \(kind.rawValue) sampler") }
            guard steps >= 1 else { throw RequestError("steps", "{steps} must be at least 1, got \(steps)") }
        }
        try validateRest()
    }

    /// The rules that do not concern the grid.
    private func validateRest() throws(RequestError) {
        guard count >= 1 else { throw RequestError("count", "{count} must be at least 1, got \(count)") }
        if let batchSize, batchSize < 1 {
            throw RequestError("batch_size", "{batch_size} must be at least 1, got \(batchSize)")
        }
        if let network, network.dimension < 1 {
            throw RequestError("dimension", "{dimension} must be at least 1, got \(network.dimension)")
        }
        if guidance != nil, observation == nil {
            throw RequestError("guidance",
                               "{guidance} needs an observation: {operator}, {y} and {noise_std} or {noise_covariance}")
        }
        if guidance == nil, observation != nil {
            throw RequestError("operator", "{operator}, {y} and the observation noise need {guidance} "
                               + "(dps, pigdm, tmpd, mmps or exact)")
        }
        if let zeta = guidance?.zeta {
            guard guidance?.method == .dps else {
                throw RequestError("zeta", "{zeta} is an option of {guidance} dps only")
            }
            guard zeta.isFinite, zeta > 0 else {
                throw RequestError("zeta", "{zeta} must be finite and positive, got \(zeta)")
            }
        }
        if precision == .float32 {
            if guidance != nil {
                throw RequestError("precision",
                                   "{precision} float32 is for unguided sampling (the guided denoisers run in Float64)")
            }
            if network != nil {
                throw RequestError("precision",
                                   "{precision} float32 is for a data-set model's own oracle, not a network")
            }
        }
        if let prune {
            guard prune.isFinite, prune > 0 else {
                throw RequestError("prune", "{prune} must be finite and positive, got \(prune)")
            }
            if sampler.kind == .exact {
                throw RequestError("prune", "{prune} is for samplers that call a denoiser; the exact sampler draws "
                                   + "from the exact reverse transitions, which need no pruning")
            }
            if network != nil || guidance != nil || precision != .float64 {
                throw RequestError("prune", "{prune} is for a data-set model's own Float64 oracle, "
                                   + "unguided (not with a network, {guidance} or {precision} float32)")
            }
        }
        if guidance?.method == .exact, network != nil {
            throw RequestError("guidance",
                               "{guidance} exact needs a mixture model (the exact posterior), not a network")
        }
    }

    /// What a network computes: its output of type ``Network/prediction`` for a batch at a level.
    public typealias NetworkFunction = @Sendable (Matrix, NoiseLevel) throws -> Matrix

    /// The one place that chooses what the sampler calls, after ``validate()``: `model`'s oracle (in
    /// the request's precision), or `network` (with `model`, when given, supplying only the noise
    /// covariance Σ), guided towards the observation when the request says so. With
    /// `exactPosterior`, a guided run on a model also gets the exact posterior p(x_0 | y) its
    /// samples are measured against (exact guidance always does: it samples from it).
    public func prepare(model: MixtureModel?, network function: NetworkFunction? = nil,
                        exactPosterior: Bool = false) throws -> SamplingSetup {
        try validate()
        let schedule = try Schedule.named(schedule)
        let path: SamplingPath
        if let times {
            do { path = try SamplingPath(schedule: schedule, times: times) } catch let error as ArgumentError {
                throw RequestError("times", "{times}: \(error.reason)")
            }
        } else {
            path = try sampler.path(schedule: schedule, grid: grid, steps: steps)
        }
        var priorOracle: Oracle?
        var denoiser: any DenoisingModel
        if let network {
            guard let function else {
                throw RequestError("network", "{network}: the request names a network, but none is given")
            }
            let noise = model?.noise
            if let noise, noise.dimension != network.dimension {
                throw RequestError("dimension", "{dimension} is \(network.dimension), "
                                   + "but the model's noise covariance is \(noise.dimension)×\(noise.dimension)")
            }
            denoiser = PredictionModel(dimension: network.dimension, noise: noise, predicting: network.prediction,
                                       function)
        } else {
            guard let model else { throw RequestError("model", "{model}: a model is needed (or a network)") }
            let oracle = try Oracle(model)
            priorOracle = oracle
            if let prune {
                do { denoiser = try PrunedDataSetDenoiser(oracle, tolerance: prune) } catch {
                    throw RequestError("prune", "{prune}: \(error.reason)")
                }
            } else if precision == .float64 {
                denoiser = oracle
            } else {
                do { denoiser = try Oracle(model, precision: precision) } catch {
                    throw RequestError("precision", "{precision}: \(error.reason)")
                }
            }
        }
        var posterior: ExactPosterior?
        if let guidance, let observation {
            guard model?.zeroCentreOfMass == nil else {
                throw RequestError("operator", "observations of a model with a zero centre of mass are not "
                                   + "supported yet (docs/math.md §13.1)")
            }
            guard observation.dimension == denoiser.dimension else {
                throw RequestError("operator", "{operator} has \(observation.dimension) columns; "
                                   + "the model's dimension D is \(denoiser.dimension)")
            }
            if let model, network == nil, exactPosterior || guidance.method == .exact {
                posterior = try ExactPosterior(prior: model, observation: observation)
            }
            if guidance.method == .exact, let posterior {
                denoiser = try Oracle(posterior.model)
            } else {
                let base: any PosteriorCovarianceModel = priorOracle ?? FiniteDifferenceCovariance(denoiser)
                denoiser = try GuidedDenoiser(base, observation: observation, method: guidance.method,
                                              zeta: guidance.zeta ?? 1)
            }
        }
        return SamplingSetup(request: self, schedule: schedule, path: path, sampler: sampler.makeSampler(),
                             denoiser: denoiser, model: model, priorOracle: priorOracle, posterior: posterior)
    }
}

/// A request made ready to run: its sampler, path and denoiser, and what its samples are measured
/// against.
public struct SamplingSetup: Sendable {
    public let request: SampleRequest
    public let schedule: Schedule
    public let path: SamplingPath
    public let sampler: any Sampler
    /// What the sampler calls.
    public let denoiser: any DenoisingModel
    /// The model (nil for a network without one).
    public let model: MixtureModel?
    /// The model's Float64 oracle (nil for a network).
    public let priorOracle: Oracle?
    /// The exact posterior p(x_0 | y) of a guided run on a model, when asked for.
    public let posterior: ExactPosterior?

    /// D.
    public var dimension: Int { denoiser.dimension }
    /// The certificates of a pruned run's denoiser calls (nil unless the request prunes).
    public var certificates: CertificateLog? { (denoiser as? PrunedDataSetDenoiser)?.log }
    /// The distribution the samples should follow: p_0, or p(x_0 | y) when guided.
    public var reference: MixtureModel? { posterior?.model ?? model }

    /// Runs the sampler: sample i starts from σ_{t_0} R z_i, z_i from the request's seed or row i of
    /// `standardNormals` (C×D), and uses only the noise of (seed, i). The other arguments are those of ``Sampler``'s
    /// `run(count:model:path:noise:batchSize:standardNormals:recordsTrajectory:keepsSamples:onBatch:progress:)`.
    public func run(standardNormals: Matrix? = nil, recordsTrajectory: Bool = false, keepsSamples: Bool = true,
                    onBatch: ((_ range: Range<Int>, _ samples: Matrix) throws -> Void)? = nil,
                    progress: (@Sendable (Int, Int, Int, Int) -> Void)? = nil) throws -> SamplingRun {
        try sampler.run(count: request.count, model: denoiser, path: path, noise: NoiseStream(seed: request.seed),
                        batchSize: request.batchSize, standardNormals: standardNormals,
                        recordsTrajectory: recordsTrajectory, keepsSamples: keepsSamples, onBatch: onBatch,
                        progress: progress)
    }
}
