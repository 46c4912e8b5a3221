import Foundation
import Testing
import Tweedie

@Suite struct SampleCommandTests {
    /// A run writes C×D samples (the model's point shape) and a report naming each figure and
    /// its noise floor.
    @Test func runWritesSamplesAndReport() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("samples.npy")
        let run = try CLI.run(["sample", "--model", "ring8", "--schedule", "vp-linear", "--sampler", "heun", "--steps", "6",
                               "--count", "40", "--seed", "3", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty, "no progress bar when stderr is not a terminal: \(run.stderr)")
        let samples = try ArrayFile.readArray(out)
        #expect(samples.shape == [40, 2])
        #expect(samples.values.allSatisfy { $0.isFinite })
        for phrase in ["heun", "vp-linear", "karras grid", "6 steps", "model calls 11 per sample", "mean −log p_0",
                       "entropy estimate", "TV distance", "noise floor", "sliced W2", "π_k", "KL(q_N ‖ p_0)", "effective sample size", out.path] {
            #expect(run.stdout.contains(phrase), "missing '\(phrase)' in:\n\(run.stdout)")
        }
    }

    /// Sample i depends only on (seed, i): batches of 1000 and of 7 give identical files, for a
    /// deterministic and two stochastic samplers.
    @Test(arguments: [["heun", "--s-churn", "2"], ["ddpm"], ["dpmpp-2m-sde", "--eta", "0.7"]])
    func batchSizeDoesNotChangeTheSamples(sampler: [String]) throws {
        let dir = try CLI.scratch()
        var files: [Data] = []
        for batch in ["1000", "7"] {
            let out = dir.appendingPathComponent("samples-\(batch).npy")
            let run = try CLI.run(["sample", "--model", "ring8", "--schedule", "vp-cosine", "--sampler"] + sampler
                                  + ["--steps", "5", "--count", "30", "--seed", "11", "--batch-size", batch,
                                     "--out", out.path, "--quiet"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.isEmpty)
            files.append(try Data(contentsOf: out))
        }
        let same = files[0] == files[1]
        #expect(same)
    }

    /// With --quiet and no other output the samples are streamed to the file batch by batch; the
    /// file equals the one written at once (with the report), bit for bit, for the chain16 shape.
    @Test func quietRunsStreamTheSamplesToDisk() throws {
        let dir = try CLI.scratch()
        var files: [Data] = []
        for (name, extra) in [("streamed", ["--quiet", "--batch-size", "7"]), ("whole", [])] {
            let out = dir.appendingPathComponent("\(name).npy")
            let run = try CLI.run(["sample", "--model", "chain16", "--schedule", "vp-linear", "--sampler", "ddpm",
                                   "--steps", "4", "--count", "20", "--seed", "5", "--out", out.path] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            files.append(try Data(contentsOf: out))
        }
        #expect(try ArrayFile.readArray(dir.appendingPathComponent("streamed.npy")).shape == [20, 16, 3])
        let same = files[0] == files[1]
        #expect(same)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["streamed.npy", "whole.npy"])
    }

    /// `--init z.npy` starts from x = σ_{t_0} R z: the CLI's samples (in batches of 4) equal a
    /// library run from the same z, bit for bit. The trajectory holds the grid times and every
    /// state, the last one being the samples.
    ///
    /// (ring8: its 2×2 eigendecompositions do not depend on the OpenBLAS thread count, which
    /// other tests running concurrently change; for larger models the oracle built here could
    /// differ from the CLI's in the last bits.)
    @Test func initialNoiseReproducesALibraryRun() throws {
        let dir = try CLI.scratch()
        let model = BuiltinModels.ring8()
        let (count, d) = (10, model.dimension)
        let z = Matrix(rows: count, columns: d, elements: (0..<(count * d)).map { sin(Double($0) * 1.7) * 1.3 })
        let input = dir.appendingPathComponent("z.npy"), out = dir.appendingPathComponent("samples.npy")
        let trajectory = dir.appendingPathComponent("trajectory.npz")
        try ArrayFile.write(z, to: input)
        let run = try CLI.run(["sample", "--model", "ring8", "--schedule", "vp-linear", "--sampler", "ddim", "--eta", "0.5",
                               "--grid", "log-snr", "--steps", "4", "--count", "\(count)", "--seed", "5", "--batch-size", "4",
                               "--init", input.path, "--out", out.path, "--trajectory", trajectory.path, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")

        let oracle = try Oracle(model)
        let path = try SamplingPath.make(.logSNR, schedule: .named("vp-linear"), steps: 4)
        let stream = NoiseStream(seed: 5)
        let x = try initialState(count: count, model: oracle, path: path, noise: stream, standardNormals: z)
        let monitor = SamplingMonitor(recordsTrajectory: true)
        let expected = try DDIMSampler(eta: 0.5).sample(x, model: oracle, path: path, noise: stream, firstSample: 0,
                                                        monitor: monitor)
        let written = try ArrayFile.readArray(out)
        #expect(written.shape == [count, d])
        let same = written.values == expected.elements
        #expect(same, "largest difference \(maxDifference(written.values, expected.elements))")

        let archive = try NPZArchive.read(trajectory)
        #expect(archive.names == ["times", "x"])
        let times = try #require(archive["times"]?.numbers), states = try #require(archive["x"]?.numbers)
        #expect(times.values == path.times)
        #expect(states.shape == [5, count, d])
        let sameStates = states.values == monitor.trajectory.flatMap(\.elements)
        #expect(sameStates)
        let lastIsSamples = Array(states.values.suffix(count * d)) == written.values
        #expect(lastIsSamples)
    }

    private func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
        a.count == b.count ? zip(a, b).map { abs($0 - $1) }.max() ?? 0 : .infinity
    }

    /// `--xyz` on an N×3 model: one frame per sample, N atoms each, the comment naming the sample
    /// and the model, coordinates equal to the samples.
    @Test func xyzFramesHoldTheSamples() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("samples.npy"), xyz = dir.appendingPathComponent("samples.xyz")
        let run = try CLI.run(["sample", "--model", "chain16", "--schedule", "vp-cosine", "--sampler", "euler", "--steps", "4",
                               "--count", "3", "--out", out.path, "--xyz", xyz.path, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try ArrayFile.readArray(out).shape == [3, 16, 3])
        let samples = try ArrayFile.readMatrix(out)
        let lines = try String(contentsOf: xyz, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 * 18 + 1 && lines.last == "")
        for f in 0..<3 {
            #expect(lines[f * 18] == "16")
            #expect(lines[f * 18 + 1].contains("sample \(f)") && lines[f * 18 + 1].contains("chain16"))
            for i in 0..<16 {
                let fields = lines[f * 18 + 2 + i].split(separator: " ")
                #expect(fields.count == 4 && fields[0] == "C")
                for c in 0..<3 { #expect(abs(Double(fields[c + 1])! - samples[f, 3 * i + c]) <= 5e-9) }
            }
        }
    }

    /// rk45 is adaptive: it runs without --steps, from t_max to t_min and then the final denoise,
    /// and matches the library's tight ODE solve from the same starting noise to its tolerance.
    @Test func rk45RunsWithoutSteps() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("rk45.npy")
        let run = try CLI.run(["sample", "--model", "ring8", "--schedule", "vp-linear", "--sampler", "rk45", "--rtol", "1e-9",
                               "--atol", "1e-9", "--count", "16", "--seed", "2", "--out", out.path, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let samples = try ArrayFile.readMatrix(out)
        let configuration = try SamplerConfiguration(parsing: "rk45:rtol=1e-12:atol=1e-12")
        let path = try configuration.path(schedule: .vpLinear(), steps: nil)
        let karras = try SamplingPath.make(.karras, schedule: .vpLinear(), steps: 18)
        #expect(path.times == [karras.times.first!, karras.times.last!])
        let reference = try configuration.makeSampler().run(count: 16, model: Oracle(BuiltinModels.ring8()), path: path,
                                                            noise: NoiseStream(seed: 2)).samples
        let error = zip(samples.elements, reference.elements).map { abs($0 - $1) }.max()!
        #expect(error < 1e-6, "largest difference \(error)")
    }

    /// Each bad input: one line on stderr naming the problem, a non-zero exit, no output files.
    @Test(arguments: [
        (["--sampler", "nope"], "The value 'nope' is invalid for '--sampler <sampler>'. Please provide one of the following: euler, heun, dpmpp-2m, ddim, ddpm, dpmpp-2m-sde, euler-maruyama, pc, rk45, exact"),
        (["--sampler", "heun", "--grid", "cubic"], "The value 'cubic' is invalid for '--grid <grid>'. Please provide one of the following: uniform, log-snr, karras, linspace, leading, trailing"),
        (["--sampler", "rk45", "--steps", "4"], "--steps is not an option of the rk45 sampler: it is adaptive"),
        (["--sampler", "heun", "--steps", "0"], "--steps must be at least 1"),
        (["--sampler", "heun", "--eta", "0.5"], "--eta is not an option of the heun sampler"),
        (["--sampler", "euler", "--rtol", "1e-3"], "--rtol is not an option of the euler sampler"),
        (["--sampler", "ddpm", "--variance", "large"], "--variance"),
        (["--sampler", "heun", "--xyz", "XYZ"], "--xyz needs a model whose points are N×3"),
        (["--sampler", "heun", "--init", "INIT"], "expected 5×2 standard normals"),
        (["--sampler", "heun", "--init", "MISSING"], "missing.npy"),
        (["--sampler", "heun", "--count", "0"], "--count must be at least 1"),
        (["--sampler", "heun", "--batch-size", "0"], "--batch-size"),
        (["--sampler", "heun", "--grid", "leading"], "discrete schedule"),
        (["--sampler", "heun", "--trajectory", "OUT"], "--trajectory must name a .npz file"),
        (["--sampler", "heun", "--precision", "float32"], "--precision: float32 is for data-set models"),
        (["--sampler", "heun", "--precision", "float16"], "--precision"),
    ])
    func badInputIsOneLineAndNoOutput(arguments: [String], expected: String) throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("out.npy"), xyz = dir.appendingPathComponent("out.xyz")
        let initial = dir.appendingPathComponent("z.npy")
        try ArrayFile.write(Matrix(rows: 4, columns: 2, repeating: 0.5), to: initial)
        let resolved = arguments.map { argument -> String in
            switch argument {
            case "XYZ": xyz.path
            case "INIT": initial.path
            case "MISSING": dir.appendingPathComponent("missing.npy").path
            case "OUT": dir.appendingPathComponent("trajectory.npy").path
            default: argument
            }
        }
        let base = ["sample", "--model", "ring8", "--schedule", "vp-linear", "--steps", "3", "--count", "5"]
        // Later options override earlier ones (--steps, --count).
        let run = try CLI.run(base + resolved + ["--out", out.path])
        #expect(run.status != 0)
        #expect(run.stderr.split(separator: "\n").count == 1, "stderr: \(run.stderr)")
        #expect(run.stderr.contains(expected), "stderr: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(!FileManager.default.fileExists(atPath: xyz.path))
    }
}


/// `--precision float32` on a data set: samples within the stated error of the Float64 run (the
/// drift of 18 heun steps included), and refused with guidance.
@Suite struct SamplePrecisionTests {
    @Test func float32SamplesStayCloseToFloat64() throws {
        let dir = try CLI.scratch()
        var samples: [Matrix] = []
        for precision in ["float64", "float32"] {
            let out = dir.appendingPathComponent("\(precision).npy")
            let run = try CLI.run(["sample", "--model", "spiral-dirac", "--schedule", "vp-linear", "--sampler", "heun",
                                   "--steps", "18", "--count", "300", "--seed", "3", "--precision", precision, "-q",
                                   "--out", out.path])
            #expect(run.status == 0, "\(run.stderr)")
            samples.append(try ArrayFile.readMatrix(out))
        }
        let difference = zip(samples[0].elements, samples[1].elements).map { abs($0 - $1) }.max()!
        #expect(difference > 0 && difference < 1e-4, "\(difference)")
    }

    @Test func guidedRunsAreRefused() throws {
        let dir = try CLI.scratch()
        let a = dir.appendingPathComponent("A.npy"), y = dir.appendingPathComponent("y.npy")
        try ArrayFile.write(Matrix(rows: 1, columns: 2, elements: [1, 0]), to: a)
        try ArrayFile.write(Matrix(rows: 1, columns: 1, elements: [0.5]), to: y)
        let run = try CLI.run(["sample", "--model", "spiral-dirac", "--schedule", "edm", "--sampler", "heun", "--steps", "3",
                               "--count", "5", "--guidance", "mmps", "--operator", a.path, "--y", y.path, "--noise-std", "0.5",
                               "--precision", "float32", "--out", dir.appendingPathComponent("s.npy").path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--precision float32 is for unguided sampling"))
    }
}
