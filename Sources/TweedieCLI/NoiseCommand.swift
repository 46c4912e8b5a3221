import ArgumentParser
import Foundation
import Tweedie

struct NoiseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "noise",
        abstract: "Noise points with the forward kernel, x_t = α x_0 + σ L z, or draw exact samples of p_t.",
        discussion: """
        With --model and --count, draws x_0 ~ p_0 and noises it: exact samples of the marginal p_t \
        (--also-x0 also writes the clean points). With --x0, noises the given points; --model is then \
        optional and supplies the noise covariance Σ (identity without it) and the shape of a point. \
        Sample i uses only the noise of (--seed, i), so a run with --count 10 gives the first 10 \
        points of a run with --count 1000, bit for bit. Output keeps the model's point shape, or the \
        shape of the --x0 points.
        """)

    @Option(help: "A built-in model name or a .json/.npz model file.") var model: String?
    @Option(help: "Number of samples of p_t to draw (with --model).") var count: Int?
    @Option(name: .customLong("x0"), help: "Clean points x_0: a .npy array of shape (B, D) or (B, N, d).")
    var cleanPoints: String?
    @OptionGroup var level: NoiseLevelOptions
    @Option(help: "Seed of the noise stream.") var seed: UInt64 = 0
    @Option(help: "Output .npy file for x_t (written atomically).") var out: String
    @Option(name: .customLong("also-x0"), help: "Also write the clean samples x_0 to this .npy file (with --count).")
    var alsoCleanPoints: String?
    @Option(help: """
        A harmonic (matrix-valued) process instead of a schedule, at --t alone (docs/math.md §13.4): \
        chain, chain:strength=κ or a .npy N×N matrix H; needs --model (points of N atoms × d).
        """)
    var harmonic: String?
    @Flag(name: .shortAndLong, help: "Print no summary.") var quiet = false

    func validate() throws {
        switch (count, cleanPoints) {
        case (.some, nil):
            guard model != nil else { throw ValidationError("--count needs --model (the distribution p_0 to sample)") }
        case (nil, .some): break
        default: throw ValidationError("give either --model with --count, or --x0")
        }
        if let count, count < 0 { throw ValidationError("--count must be non-negative, got \(count)") }
        if harmonic != nil {
            guard model != nil else { throw ValidationError("--harmonic needs --model (the atoms and the prior)") }
            guard level.t != nil, level.schedule == nil, level.alpha == nil, level.sigma == nil else {
                throw ValidationError("--harmonic takes the time --t alone (no --schedule, --alpha or --sigma)")
            }
        } else {
            try level.check()
        }
        guard out.hasSuffix(".npy") else { throw ValidationError("--out must name a .npy file, got '\(out)'") }
        if let alsoCleanPoints {
            guard count != nil else {
                throw ValidationError("--also-x0 needs --model and --count (with --x0 the clean points are the input)")
            }
            guard alsoCleanPoints.hasSuffix(".npy") else {
                throw ValidationError("--also-x0 must name a .npy file, got '\(alsoCleanPoints)'")
            }
            guard URL(fileURLWithPath: alsoCleanPoints).standardizedFileURL
                    != URL(fileURLWithPath: out).standardizedFileURL else {
                throw ValidationError("--also-x0 and --out name the same file '\(out)'")
            }
        }
    }

    func run() throws {
        try OutputPaths.requireSafe(outputs: [("--out", out)] + (alsoCleanPoints.map { [("--also-x0", $0)] } ?? []),
                                    inputs: (model.map { [("--model", $0)] } ?? [])
                                        + (cleanPoints.map { [("--x0", $0)] } ?? []))
        let m = try model.map { try loadModel($0) }
        if let harmonic, let m {
            try runHarmonic(harmonic, model: m, at: level.t!)
            return
        }
        let (a, s) = try level.resolve()
        let start = Date()
        let kernel: ForwardKernel, clean: Matrix, pointShape: [Int]?
        var noisy: Matrix
        if let count, let m {
            kernel = try ForwardKernel(alpha: a, sigma: s, noise: m.noise)
            let sample = try kernel.sampleMarginal(of: MixtureSampler(m.prior), count: count, seed: seed)
            (noisy, clean, pointShape) = (m.embed(sample.points), m.embed(sample.cleanPoints), m.shape)
        } else {
            let path = cleanPoints!
            let (read, fileShape) = try ArrayFile.readPoints(URL(fileURLWithPath: path))
            // With a zero centre of mass, x_0 is centred and the noise drawn on the subspace (§13.1).
            let x0 = try m.map { try modelPoints($0, read, file: path) } ?? read
            kernel = try ForwardKernel(alpha: a, sigma: s, noise: m?.noise ?? .identity(dimension: x0.columns))
            do { noisy = try kernel.sample(from: x0, seed: seed) } catch {
                throw CommandFailure("\(path): \(error)")
            }
            (clean, pointShape) = (m?.embed(x0) ?? x0, m?.shape ?? fileShape)
            if let m { noisy = m.embed(noisy) }
        }
        let elapsed = Date().timeIntervalSince(start)
        let outURL = URL(fileURLWithPath: out)
        if let alsoCleanPoints {
            let cleanURL = URL(fileURLWithPath: alsoCleanPoints)
            try ArrayFile.write(clean, to: cleanURL, shape: pointShape)
            do { try ArrayFile.write(noisy, to: outURL, shape: pointShape) } catch {
                try? FileManager.default.removeItem(at: cleanURL)
                throw error
            }
        } else {
            try ArrayFile.write(noisy, to: outURL, shape: pointShape)
        }
        guard !quiet else { return }
        let when = level.timeDescription
        let source = count != nil ? "samples of p_t from \(m?.name ?? "model")" : "points from \(cleanPoints!)"
        let extra = alsoCleanPoints.map { " (x_0 in \($0))" } ?? ""
        print("noised \(noisy.rows) \(source) (D = \(noisy.columns)) at \(when)α = \(format(kernel.alpha)), "
              + "σ = \(format(kernel.sigma)), seed \(seed) in \(format(elapsed * 1e3, 3)) ms; wrote \(out)\(extra)")
    }

    /// `--harmonic`: x_t = A_t x_0 + S_t^{1/2} z on the zero-centre-of-mass subspace, z from (--seed, i).
    private func runHarmonic(_ specification: String, model m: MixtureModel, at t: Double) throws {
        let oracle = try harmonicOracle(specification, model: m)
        let process = oracle.process
        let clean: Matrix
        if let count {
            do {
                let prior = m.zeroCentreOfMass == nil ? m.prior : try m.ambientPrior()
                clean = try prior.sample(count: count, seed: seed).points
            } catch let error as ArgumentError {
                throw CommandFailure("--count: \(error.reason)")
            }
        } else {
            let path = cleanPoints!
            clean = try ArrayFile.readPoints(URL(fileURLWithPath: path)).points
            guard clean.columns == process.atoms * process.axes else {
                throw CommandFailure("\(path): points of \(clean.columns) coordinates; the model's are "
                                     + "\(process.atoms) atoms × \(process.axes)")
            }
        }
        let stream = NoiseStream(seed: seed)
        var z = Matrix(rows: clean.rows, columns: process.dimension)
        for b in 0..<clean.rows { z.setRow(b, to: stream.normals(sample: b, step: 0, count: process.dimension)) }
        let noisy: Matrix
        do { noisy = try oracle.noise(clean, standardNormals: z, at: t) } catch {
            throw CommandFailure("--\(error.argument) \(t): \(error.reason)")
        }
        let outURL = URL(fileURLWithPath: out)
        if let alsoCleanPoints {
            let cleanURL = URL(fileURLWithPath: alsoCleanPoints)
            try ArrayFile.write(clean, to: cleanURL, shape: m.shape)
            do { try ArrayFile.write(noisy, to: outURL, shape: m.shape) } catch {
                try? FileManager.default.removeItem(at: cleanURL)
                throw error
            }
        } else {
            try ArrayFile.write(noisy, to: outURL, shape: m.shape)
        }
        guard !quiet else { return }
        print("noised \(noisy.rows) points by the harmonic process \(specification) at t = \(format(t)) "
              + "(\(process.atoms) atoms × \(process.axes), D′ = \(process.dimension)), seed \(seed); wrote \(out)")
    }
}
