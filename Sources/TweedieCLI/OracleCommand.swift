import ArgumentParser
import Foundation
import Tweedie

struct OracleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oracle",
        abstract: "Evaluate the exact oracle at a batch of points and write every quantity to an .npz file.",
        discussion: """
        Writes log_density (B), responsibilities (B×K), denoised (B×D, E[x_0|x_t]), noise (B×D, \
        E[ε|x_t] with ε = x_t − α x_0), standardized_noise (B×D, E[z|x_t]), score (B×D), \
        divergence (B, tr(Σ ∇² log p_t)), alpha and sigma; with --covariance also \
        posterior_covariance (B×D×D), with --components also component_means (B×K×D). With --prune ε \
        (data sets with Σ = I), the denoiser alone with certified pruning: denoised, error_bound (B, \
        ‖x̂_0 − E[x_0|x_t]‖ ≤ error_bound ≤ ε‖x_t‖), neglected_mass (B, a bound on the posterior mass \
        skipped), kept (B, the components weighed; K where a point was answered exactly), alpha and sigma.
        """)

    @Option(help: "A built-in model name or a .json/.npz model file.") var model: String
    @Option(name: .customLong("x"), help: "Points x_t: a .npy array of shape (B, D) or (B, N, d).") var points: String
    @OptionGroup var level: NoiseLevelOptions
    @Option(help: "Output .npz file (written atomically).") var out: String
    @Flag(help: "Also write the posterior covariance Cov[x_0 | x_t] (B×D×D).") var covariance = false
    @Flag(help: "Also write the component posterior means m_k(x_t) (B×K×D).") var components = false
    @Option(help: """
        Data sets (Σ = I): the denoiser alone, with certified pruning, each point within ε ‖x_t‖ of the exact \
        one, and the certificate of each point.
        """)
    var prune: Double?
    @Option(help: """
        A harmonic (matrix-valued) process instead of a schedule, at --t alone (docs/math.md §13.4): \
        chain (EigenFold's, κ = 3/3.8² Å⁻²), chain:strength=κ, or a .npy N×N matrix H (a graph \
        Laplacian). Writes log_density, responsibilities, denoised, score and t.
        """)
    var harmonic: String?
    @Flag(name: .shortAndLong, help: "Print no summary.") var quiet = false

    func validate() throws {
        if harmonic != nil {
            guard level.t != nil, level.schedule == nil, level.alpha == nil, level.sigma == nil else {
                throw ValidationError("--harmonic takes the time --t alone (no --schedule, --alpha or --sigma)")
            }
            guard prune == nil, !covariance, !components else {
                throw ValidationError("--harmonic gives log_density, responsibilities, denoised and score: "
                                      + "not with --prune, --covariance or --components")
            }
            guard out.hasSuffix(".npz") else { throw ValidationError("--out must name a .npz file, got '\(out)'") }
            return
        }
        try level.check()
        guard out.hasSuffix(".npz") else { throw ValidationError("--out must name a .npz file, got '\(out)'") }
        if prune != nil, covariance || components {
            throw ValidationError("--prune gives the denoiser alone: not with --covariance or --components")
        }
    }

    func run() throws {
        try OutputPaths.requireSafe(outputs: [("--out", out)], inputs: [("--model", model), ("--x", points)])
        if let harmonic {
            try runHarmonic(harmonic, at: level.t!)
            return
        }
        let (a, s) = try level.resolve()
        let m = try loadModel(model)
        let oracle = try Oracle(m)
        let x = try modelPoints(m, ArrayFile.readMatrix(URL(fileURLWithPath: points)), file: points)
        if let prune {
            try runPruned(oracle, x: x, alpha: a, sigma: s, tolerance: prune)
            return
        }
        var extras: OracleExtras = []
        if covariance { extras.insert(.posteriorCovariance) }
        if components { extras.insert(.componentMeans) }
        let start = Date()
        let result: OracleResult
        do { result = try oracle.evaluate(x, alpha: a, sigma: s, including: extras) } catch {
            throw CommandFailure(error.argument == "x" ? "\(points): \(error.reason)"
                                     : "--\(error.argument): \(error.reason)")
        }
        let elapsed = Date().timeIntervalSince(start)
        var arrays: [(String, NDArray)] = [
            ("log_density", NDArray(result.logDensity)),
            ("responsibilities", NDArray(matrix: result.responsibilities)),
            ("denoised", NDArray(matrix: m.embed(result.denoised))),
            ("noise", NDArray(matrix: m.embed(result.noise))),
            ("standardized_noise", NDArray(matrix: m.embed(result.standardizedNoise))),
            ("score", NDArray(matrix: m.embed(result.score))),
            ("divergence", NDArray(result.divergence)),
            ("alpha", NDArray(scalar: a)),
            ("sigma", NDArray(scalar: s)),
        ]
        let p = m.pointDimension
        if let c = result.posteriorCovariance {
            let embedded = m.zeroCentreOfMass.map { s in c.map(s.embedSymmetric) } ?? c
            arrays.append(("posterior_covariance", NDArray(stacking: embedded, rows: p, columns: p)))
        }
        if let c = result.componentMeans {
            arrays.append(("component_means", NDArray(stacking: c.map(m.embed), rows: m.componentCount, columns: p)))
        }
        try ArrayFile.writeArchive(arrays, to: URL(fileURLWithPath: out))
        guard !quiet else { return }
        print(summary(result, x: m.embed(x), model: m, alpha: a, sigma: s, elapsed: elapsed))
        print("wrote \(out): " + arrays.map { "\($0.0) \($0.1.shapeText)" }.joined(separator: ", "))
    }

    /// `--harmonic`: the oracle under a harmonic process at time t, on R^{N×d}.
    private func runHarmonic(_ specification: String, at t: Double) throws {
        let m = try loadModel(model)
        let oracle = try harmonicOracle(specification, model: m)
        let process = oracle.process
        let x = try ArrayFile.readMatrix(URL(fileURLWithPath: points))
        let start = Date()
        let r: HarmonicOracle.Result
        do { r = try oracle.evaluate(x, at: t) } catch {
            throw CommandFailure(error.argument == "x" ? "\(points): \(error.reason)" : "--t \(t): \(error.reason)")
        }
        let elapsed = Date().timeIntervalSince(start)
        let arrays: [(String, NDArray)] = [
            ("log_density", NDArray(r.logDensity)), ("responsibilities", NDArray(matrix: r.responsibilities)),
            ("denoised", NDArray(matrix: r.denoised)), ("score", NDArray(matrix: r.score)), ("t", NDArray(scalar: t)),
        ]
        try ArrayFile.writeArchive(arrays, to: URL(fileURLWithPath: out))
        guard !quiet else { return }
        let rates = process.rates
        print("harmonic oracle of \(m.name ?? "model") (\(process.atoms) atoms × \(process.axes), zero centre of mass: "
              + "D′ = \(process.dimension), K = \(m.componentCount)) at t = \(format(t)); "
              + "rates λ from \(format(rates.first!)) to \(format(rates.last!))")
        let a = process.coefficients(at: t).scale
        print("\(x.rows) points in \(format(elapsed * 1e3, 3)) ms; mean log p_t = "
              + "\(format(r.logDensity.reduce(0, +) / Double(max(x.rows, 1)))); a(t) from \(format(a.last!)) "
              + "(stiffest mode) to \(format(a.first!))")
        print("wrote \(out): " + arrays.map { "\($0.0) \($0.1.shapeText)" }.joined(separator: ", "))
    }

    /// `--prune`: the certified denoiser and its certificates.
    private func runPruned(_ oracle: Oracle, x: Matrix, alpha: Double, sigma: Double, tolerance: Double) throws {
        let m = oracle.model
        let start = Date()
        let result = try certified(oracle, x: x, at: NoiseLevel(alpha: alpha, sigma: sigma), tolerance: tolerance)
        let elapsed = Date().timeIntervalSince(start)
        let arrays: [(String, NDArray)] = [
            ("denoised", NDArray(matrix: m.embed(result.denoised))),
            ("error_bound", NDArray(result.errorBounds)),
            ("neglected_mass", NDArray(result.neglectedMass)),
            ("kept", NDArray(result.keptCounts.map(Double.init))),
            ("alpha", NDArray(scalar: alpha)),
            ("sigma", NDArray(scalar: sigma)),
        ]
        try ArrayFile.writeArchive(arrays, to: URL(fileURLWithPath: out))
        guard !quiet else { return }
        var rows: [[String]] = []
        for b in 0..<min(x.rows, 8) {
            rows.append(["\(b)", format(m.embed(result.denoised).row(b), 3, limit: 3), format(result.errorBounds[b], 3),
                         format(result.neglectedMass[b], 3), "\(result.keptCounts[b])"])
        }
        print("pruned denoiser of \(m.name ?? "model") (\(dimensionText(m)), K = \(m.componentCount)) at "
              + "\(level.timeDescription)α = \(format(alpha)), σ = \(format(sigma)), ε = \(format(tolerance))")
        print("\(x.rows) points in \(format(elapsed * 1e3, 3)) ms (set-up of the screens included); "
              + "largest certified error \(format(result.errorBounds.max() ?? 0))")
        print("")
        print(tableText(["point", "E[x_0|x_t]", "error bound", "neglected mass", "kept"], rows))
        if x.rows > 8 { print("  … \(x.rows - 8) more points") }
        print("wrote \(out): " + arrays.map { "\($0.0) \($0.1.shapeText)" }.joined(separator: ", "))
    }

    /// The certified denoiser at one level; an argument's complaint names the option or the points file.
    private func certified(_ oracle: Oracle, x: Matrix, at level: NoiseLevel,
                           tolerance: Double) throws -> PrunedDataSetDenoiser.Certified {
        do {
            let denoiser = try PrunedDataSetDenoiser(oracle, tolerance: tolerance)
            return try denoiser.denoiseCertified(x, at: level)
        } catch {
            let name = error.argument == "x" ? points : "--" + error.argument
            throw CommandFailure(name + ": " + error.reason)
        }
    }

    private func summary(_ r: OracleResult, x: Matrix, model: MixtureModel, alpha: Double, sigma: Double,
                         elapsed: TimeInterval) -> String {
        let when = level.timeDescription
        var lines = ["oracle of \(model.name ?? "model") (\(dimensionText(model)), K = \(model.componentCount)) "
                        + "at \(when)α = \(format(alpha)), σ = \(format(sigma))",
                     "\(r.count) points in \(format(elapsed * 1e3, 3)) ms; "
                        + "mean log p_t = \(format(r.logDensity.reduce(0, +) / Double(max(r.count, 1))))",
                     ""]
        let shown = min(r.count, 8)
        let denoised = model.embed(r.denoised)
        var rows: [[String]] = []
        for b in 0..<shown {
            let resp = r.responsibilities.row(b)
            let k = resp.indices.max { resp[$0] < resp[$1] } ?? 0
            let scoreNorm = r.score.row(b).reduce(0) { $0 + $1 * $1 }.squareRoot()
            rows.append(["\(b)", format(x.row(b), 3, limit: 3), format(r.logDensity[b]), "\(k) (\(format(resp[k], 3)))",
                         format(denoised.row(b), 3, limit: 3), format(scoreNorm, 3), format(r.divergence[b])])
        }
        lines.append(tableText(["point", "x_t", "log p_t", "top k (r_k)", "E[x_0|x_t]", "|score|", "tr(ΣH)"], rows))
        if r.count > shown { lines.append("  … \(r.count - shown) more points") }
        return lines.joined(separator: "\n")
    }
}
