import ArgumentParser
import Foundation
import Tweedie

/// The observation y = A x_0 + n of an inverse problem, as `posterior`, `sample` and `compare` take it.
struct ObservationOptions: ParsableArguments {
    @Option(name: .customLong("operator"), help: "The forward operator A: a .npy array of shape (d_y, D).")
    var operatorFile: String?
    @Option(name: .customLong("y"), help: "The observation y: a .npy array of shape (d_y,).") var yFile: String?
    @Option(name: .customLong("noise-std"), help: "Observation noise Σ_y = σ_y² I: σ_y > 0.") var noiseStd: Double?
    @Option(name: .customLong("noise-covariance"),
            help: "Observation noise Σ_y: a .npy array of shape (d_y, d_y), positive definite.")
    var noiseCovarianceFile: String?

    var isGiven: Bool { operatorFile != nil || yFile != nil || noiseStd != nil || noiseCovarianceFile != nil }

    /// The input files, for the output-path checks.
    var inputs: [(option: String, path: String)] {
        [("--operator", operatorFile), ("--y", yFile), ("--noise-covariance", noiseCovarianceFile)]
            .compactMap { option, path in path.map { (option: option, path: $0) } }
    }

    func validate() throws {
        guard isGiven else { return }
        guard operatorFile != nil, yFile != nil else {
            throw ValidationError("an observation needs both --operator A.npy and --y Y.npy")
        }
        switch (noiseStd, noiseCovarianceFile) {
        case (nil, nil):
            throw ValidationError("an observation needs its noise: --noise-std S or --noise-covariance SY.npy")
        case (.some, .some): throw ValidationError("give one of --noise-std and --noise-covariance, not both")
        case (let s?, nil):
            guard s.isFinite, s > 0 else { throw ValidationError("--noise-std must be finite and positive, got \(s)") }
        default: break
        }
    }

    /// The observation for a model of dimension `dimension`; nil when none is given.
    func observation(dimension: Int) throws -> LinearObservation? {
        guard isGiven, let operatorFile, let yFile else { return nil }
        let a = try readArray(operatorFile, "--operator")
        guard a.shape.count == 2 else {
            throw CommandFailure("--operator: \(name(operatorFile)) has shape \(a.shapeText); "
                                 + "expected (d_y, D) = (d_y, \(dimension))")
        }
        guard a.shape[1] == dimension else {
            throw CommandFailure("--operator: \(name(operatorFile)) has \(a.shape[1]) columns; "
                                 + "the model's dimension D is \(dimension)")
        }
        let y = try readArray(yFile, "--y")
        guard y.shape.count == 1 || (y.shape.count == 2 && y.shape[1] == 1) else {
            throw CommandFailure("--y: \(name(yFile)) has shape \(y.shapeText); expected (d_y,) = (\(a.shape[0]),)")
        }
        guard y.count == a.shape[0] else {
            throw CommandFailure("--y: \(name(yFile)) holds \(y.count) values; "
                                 + "the operator has d_y = \(a.shape[0]) rows")
        }
        let matrix = Matrix(rows: a.shape[0], columns: a.shape[1], elements: a.values)
        do {
            if let noiseStd {
                return try LinearObservation(operator: matrix, y: y.values, noiseStandardDeviation: noiseStd)
            }
            let file = noiseCovarianceFile!
            let s = try readArray(file, "--noise-covariance")
            guard s.shape == [a.shape[0], a.shape[0]] else {
                throw CommandFailure("--noise-covariance: \(name(file)) has shape \(s.shapeText); "
                                     + "expected (d_y, d_y) = (\(a.shape[0]), \(a.shape[0]))")
            }
            let noise = try NoiseCovariance(.full(Matrix(rows: a.shape[0], columns: a.shape[0], elements: s.values)),
                                            dimension: a.shape[0], field: "--noise-covariance: \(name(file))")
            return try LinearObservation(operator: matrix, y: y.values, noise: noise)
        } catch let error as ModelError {
            let option = ["operator": "--operator", "y": "--y", "noise_std": "--noise-std",
                          "noise_covariance": "--noise-covariance"][error.field]
            throw CommandFailure(option.map { "\($0): \(error.reason)" } ?? "\(error)")
        }
    }

    private func name(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }

    private func readArray(_ path: String, _ option: String) throws -> NDArray {
        do { return try ArrayFile.readArray(URL(fileURLWithPath: path)) } catch {
            throw CommandFailure("\(option): \(error)")
        }
    }
}

struct PosteriorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "posterior",
        abstract: "The exact posterior p(x_0 | y) of a model given a linear observation y = A x_0 + n, "
            + "as a model file.",
        discussion: """
        Each component N(μ_k, Λ_k) is conditioned on y exactly (Cholesky of A Λ_k Aᵀ + Σ_y; Joseph's \
        form for the covariance) and reweighted by its evidence N(y; A μ_k, A Λ_k Aᵀ + Σ_y); a data set \
        (Dirac components) keeps its points with new weights. The posterior keeps the model's noise \
        covariance Σ, so every command that takes --model takes it: its oracle is the exact \
        conditional oracle of p_t(x_t | y), and `sample --sampler exact` draws exact posterior samples.
        """)

    @Option(help: "A built-in model name or a .json/.npz model file: the prior.") var model: String
    @OptionGroup var observation: ObservationOptions
    @Option(help: "Output .json or .npz model file for the posterior (written atomically).") var out: String

    func validate() throws {
        guard observation.isGiven else {
            throw ValidationError("posterior needs an observation: --operator, --y and --noise-std "
                                  + "or --noise-covariance")
        }
        guard out.hasSuffix(".json") || out.hasSuffix(".npz") else {
            throw ValidationError("--out must name a .json or .npz file, got '\(out)'")
        }
    }

    func run() throws {
        try OutputPaths.requireSafe(outputs: [("--out", out)], inputs: [("--model", model)] + observation.inputs)
        let prior = try loadModel(model)
        let y = try observation.observation(dimension: prior.dimension)!
        let posterior: ExactPosterior
        do { posterior = try ExactPosterior(prior: prior, observation: y) } catch { throw CommandFailure("\(error)") }
        try ModelFile.write(posterior.model, to: URL(fileURLWithPath: out))
        print(posteriorSummary(posterior, prior: prior, observation: y).joined(separator: "\n"))
        print("\nwrote \(out)")
    }
}

/// The evidence and the mode weights of a posterior, prior beside posterior.
func posteriorSummary(_ posterior: ExactPosterior, prior: MixtureModel, observation: LinearObservation) -> [String] {
    var lines = ["posterior of \(prior.name ?? "model") (D = \(prior.dimension), K = \(prior.componentCount)) "
                 + "given y (d_y = \(observation.observedDimension)): "
                 + "log p(y) = \(format(posterior.logEvidence))"]
    let k = prior.componentCount
    let order = (0..<k).sorted { posterior.weights[$0] > posterior.weights[$1] }
    let shown = order.prefix(12)
    let rows = shown.map { c in
        [String(c), fixed(prior.prior.weights[c], 4), format(posterior.componentLogEvidence[c]),
         fixed(posterior.weights[c], 4)]
    }
    lines.append(tableText(["mode k", "prior π_k", "log N(y; A μ_k, S_k)", "p(k | y)"], rows))
    if k > shown.count {
        let rest = order.dropFirst(shown.count).reduce(0.0) { $0 + posterior.weights[$1] }
        lines.append("  … \(k - shown.count) more modes, total weight \(fixed(rest, 4))")
    }
    return lines
}
