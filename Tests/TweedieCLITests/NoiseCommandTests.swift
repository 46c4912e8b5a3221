import Foundation
import Testing
import Tweedie

@Suite struct NoiseCommandTests {
    /// `noise --model --count` writes exactly the library's marginal samples (x_t and, with
    /// --also-x0, x_0), and a shorter run is a prefix of a longer one.
    @Test func modelSamplesMatchTheLibrary() throws {
        let dir = try CLI.scratch()
        let xt = dir.appendingPathComponent("xt.npy"), x0 = dir.appendingPathComponent("x0.npy")
        let run = try CLI.run(["noise", "--model", "ring8", "--count", "40", "--t", "0.3", "--schedule", "vp-cosine",
                               "--seed", "7", "--out", xt.path, "--also-x0", x0.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").count == 1)
        #expect(run.stdout.contains("40") && run.stdout.contains("D = 2") && run.stdout.contains(xt.path))
        let expected = try BuiltinModels.ring8().sampleMarginal(count: 40, t: 0.3, schedule: .vpCosine(), seed: 7)
        #expect(try ArrayFile.readMatrix(xt) == expected.points)
        #expect(try ArrayFile.readMatrix(x0) == expected.cleanPoints)

        let short = dir.appendingPathComponent("short.npy")
        _ = try CLI.run(["noise", "--model", "ring8", "--count", "5", "--t", "0.3", "--schedule", "vp-cosine",
                         "--seed", "7", "--out", short.path, "--quiet"])
        #expect(try ArrayFile.readMatrix(short).elements == Array(expected.points.elements.prefix(10)))
    }

    /// `--x0` noises given points with the model's Σ, keeping the point shape (N, d).
    ///
    /// The model goes through a file: building chain16 runs LAPACK (`dpotri`), whose OpenBLAS
    /// result changes in the last bits with the BLAS thread count, so a model built in this
    /// process need not equal, bit for bit, one built in the CLI's.
    @Test func givenPointsKeepTheirShape() throws {
        let dir = try CLI.scratch()
        let modelFile = dir.appendingPathComponent("chain16.npz")
        try ModelFile.write(BuiltinModels.chain16(), to: modelFile)
        let model = try ModelFile.read(modelFile)
        let clean = try model.prior.sample(count: 3, seed: 1).points
        let input = dir.appendingPathComponent("clean.npy"), out = dir.appendingPathComponent("noisy.npy")
        try ArrayFile.write(clean, to: input)   // flat (3, 48)
        let run = try CLI.run(["noise", "--x0", input.path, "--model", modelFile.path, "--alpha", "0.8", "--sigma", "0.6",
                               "--seed", "4", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        let written = try ArrayFile.readArray(out)
        #expect(written.shape == [3, 16, 3])
        let expected = try model.forwardKernel(alpha: 0.8, sigma: 0.6).sample(from: clean, seed: 4)
        #expect(written.values == expected.elements)
    }

    /// Each bad input: one line on stderr naming the problem, a non-zero exit, no output files.
    @Test(arguments: [
        (["--model", "ring8", "--count", "3", "--x0", "POINTS", "--alpha", "1", "--sigma", "1"],
         "either --model with --count, or --x0"),
        (["--model", "ring8"], "either --model with --count, or --x0"),
        (["--x0", "POINTS", "--count", "3"], "either --model with --count, or --x0"),
        (["--count", "3"], "--count needs --model"),
        (["--model", "ring8", "--count", "3", "--t", "1.5", "--schedule", "vp-linear"], "outside the time range"),
        (["--model", "ring8", "--count", "3", "--alpha", "0.5"], "--alpha and --sigma"),
        (["--model", "ring8", "--count", "3", "--alpha", "0.5", "--sigma=-1"], "sigma"),
        (["--model", "ring8", "--count=-2", "--alpha", "0.5", "--sigma", "1"], "--count"),
        (["--model", "no-such-model", "--count", "3", "--alpha", "1", "--sigma", "1"], "no-such-model"),
        (["--x0", "POINTS", "--model", "chain16", "--alpha", "1", "--sigma", "1"], "coordinates"),
        (["--x0", "POINTS", "--alpha", "1", "--sigma", "1", "--also-x0", "ALSO"], "--also-x0"),
        (["--model", "ring8", "--count", "3", "--alpha", "1", "--sigma", "1", "--also-x0", "OUT"], "same file"),
        (["--x0", "MISSING", "--alpha", "1", "--sigma", "1"], "missing.npy"),
    ])
    func badInputIsOneLineAndNoOutput(arguments: [String], expected: String) throws {
        let dir = try CLI.scratch()
        let points = dir.appendingPathComponent("points.npy")
        try ArrayFile.write(Matrix([[1, 2], [3, 4]]), to: points)
        let out = dir.appendingPathComponent("out.npy"), also = dir.appendingPathComponent("also.npy")
        let resolved = arguments.map { argument -> String in
            switch argument {
            case "POINTS": points.path
            case "MISSING": dir.appendingPathComponent("missing.npy").path
            case "ALSO": also.path
            case "OUT": out.path
            default: argument
            }
        }
        let run = try CLI.run(["noise"] + resolved + ["--out", out.path])
        #expect(run.status != 0)
        #expect(run.stderr.split(separator: "\n").count == 1, "stderr: \(run.stderr)")
        #expect(run.stderr.lowercased().contains(expected.lowercased()), "stderr: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(!FileManager.default.fileExists(atPath: also.path))
    }
}
