import Foundation
import Testing
import Tweedie

@Suite struct OracleCommandTests {
    static func writePoints(_ rows: [[Double]], in dir: URL, name: String = "x.npy") throws -> String {
        let url = dir.appendingPathComponent(name)
        try ArrayFile.write(Matrix(rows), to: url)
        return url.path
    }

    @Test func modelListNamesTheBuiltinModels() throws {
        let run = try CLI.run(["model", "list"])
        #expect(run.status == 0)
        for name in ["ring8", "chain16", "spiral-dirac"] { #expect(run.stdout.contains(name)) }
    }

    @Test func oracleWritesEveryQuantity() throws {
        let dir = try CLI.scratch()
        let x = [[4.0, 0.0], [0.0, 0.0], [-2.8, -2.9]]
        let points = try Self.writePoints(x, in: dir)
        let out = dir.appendingPathComponent("o.npz")
        let run = try CLI.run(["oracle", "--model", "ring8", "--x", points, "--t", "0.3", "--schedule", "vp-cosine",
                               "--out", out.path, "--covariance", "--components", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let archive = try NPZArchive.read(out)
        let expectedShapes: [String: [Int]] = [
            "log_density": [3], "responsibilities": [3, 8], "denoised": [3, 2], "noise": [3, 2],
            "standardized_noise": [3, 2], "score": [3, 2], "divergence": [3],
            "posterior_covariance": [3, 2, 2], "component_means": [3, 8, 2]]
        for (key, shape) in expectedShapes { #expect(archive[key]?.shape == shape, "\(key)") }
        // The file holds what the library computes.
        let c = try Schedule.named("vp-cosine").coefficients(at: 0.3)
        let reference = try Oracle(BuiltinModels.ring8()).evaluate(Matrix(x), alpha: c.alpha, sigma: c.sigma)
        #expect(archive["denoised"]?.numbers?.values == reference.denoised.elements)
        #expect(archive["log_density"]?.numbers?.values == reference.logDensity)
    }

    /// `--prune`: on a clustered data set (synthetic, labelled as such) at small σ, the certified
    /// denoiser skips components, and each point's answer is within its certified bound of the
    /// exact binary64 sum over every atom, computed by the library's full oracle.
    @Test func prunedDenoiserHoldsItsCertificate() throws {
        let dir = try CLI.scratch()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {  // SplitMix64, enough for a fixed test set
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / 9_007_199_254_740_992
        }
        let (clusters, perCluster, d) = (40, 100, 24)
        var atoms: [[Double]] = []
        for _ in 0..<clusters {
            let centre = (0..<d).map { _ in 8 * uniform() - 4 }
            for _ in 0..<perCluster { atoms.append(centre.map { $0 + 0.2 * (uniform() - 0.5) }) }
        }
        let k = atoms.count
        let prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(k), count: k),
                                        means: Matrix(atoms), covariances: .dirac)
        let modelURL = dir.appendingPathComponent("set.npz")
        try ModelFile.write(try MixtureModel(prior: prior, name: "clustered (synthetic)"), to: modelURL)
        let sigma = 0.02
        let queries = (0..<16).map { i in atoms[i * 97 % k].map { $0 + sigma * (uniform() - 0.5) } }
        let points = try Self.writePoints(queries, in: dir)
        let out = dir.appendingPathComponent("p.npz")
        let run = try CLI.run(["oracle", "--model", modelURL.path, "--x", points, "--alpha", "1",
                               "--sigma", "\(sigma)", "--prune", "1e-8", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("largest certified error"))
        let archive = try NPZArchive.read(out)
        let denoised = try #require(archive["denoised"]?.numbers?.values)
        let bounds = try #require(archive["error_bound"]?.numbers?.values)
        let kept = try #require(archive["kept"]?.numbers?.values)
        let exact = try Oracle(try ModelFile.read(modelURL)).evaluate(Matrix(queries), alpha: 1, sigma: sigma)
        for b in 0..<queries.count {
            let row = Array(denoised[(b * d)..<((b + 1) * d)])
            let error = zip(row, exact.denoised.row(b)).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            let norm = queries[b].reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(error <= bounds[b] + 1e-13 * norm, "point \(b): error \(error) > bound \(bounds[b])")
            #expect(bounds[b] <= 1e-8 * norm)
        }
        #expect(kept.contains { $0 < Double(k) }, "nothing was pruned: \(kept)")
        // Not for Gaussian components, nor with the covariance.
        for extra in [["--model", "ring8"], ["--covariance"]] {
            var arguments = ["oracle", "--model", modelURL.path, "--x", points, "--alpha", "1", "--sigma", "0.05",
                             "--prune", "1e-8", "--out", dir.appendingPathComponent("bad.npz").path]
            if extra[0] == "--model" { arguments[2] = extra[1]; arguments[4] = try Self.writePoints([[0, 0]], in: dir,
                                                                                                  name: "two.npy") }
            else { arguments += extra }
            let bad = try CLI.run(arguments)
            #expect(bad.status != 0)
            #expect(bad.stderr.split(separator: "\n").count == 1 && bad.stderr.contains("prune"), "\(bad.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.npz").path))
        }
    }

    /// Each bad input: exactly one line on stderr naming the problem, a non-zero exit, no output.
    @Test(arguments: [
        (["--model", "no-such-model"], "no-such-model"),
        (["--schedule", "vp-wrong"], "unknown schedule"),
        (["--t", "1.5"], "outside the time range"),
        (["--alpha", "-1", "--sigma", "0.5"], "alpha"),
        (["--alpha", "0.5", "--sigma", "0"], "sigma"),
        (["--alpha", "0.5"], "--alpha and --sigma"),
        (["--x", "three-columns"], "coordinates"),
        (["--x", "nan-point"], "nan"),
        (["--x", "truncated"], "x.npy"),
        (["--model", "bad-weights"], "weights"),
        (["--model", "negative-weight"], "negative"),
        (["--model", "asymmetric"], "covariances[1]"),
        (["--model", "indefinite"], "covariances[0]"),
    ])
    func badInputIsOneLineAndNoOutput(change: [String], expected: String) throws {
        let dir = try CLI.scratch()
        var arguments = ["--model", "ring8", "--x", try Self.writePoints([[1, 2], [3, 4]], in: dir),
                         "--t", "0.5", "--schedule", "vp-linear"]
        func set(_ option: String, _ value: String?) {
            if let i = arguments.firstIndex(of: option) { arguments.remove(at: i + 1); arguments.remove(at: i) }
            if let value { arguments += [option, value] }
        }
        var i = 0
        while i < change.count {
            let (option, value) = (change[i], change[i + 1])
            i += 2
            switch (option, value) {
            case ("--alpha", _), ("--sigma", _):
                set("--t", nil); set("--schedule", nil); set(option, value)
            case ("--x", "three-columns"): set("--x", try Self.writePoints([[1, 2, 3]], in: dir))
            case ("--x", "nan-point"): set("--x", try Self.writePoints([[1, .nan]], in: dir))
            case ("--x", "truncated"):
                let path = try Self.writePoints([[1, 2], [3, 4]], in: dir, name: "x.npy")
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                try data.prefix(data.count - 5).write(to: URL(fileURLWithPath: path))
                set("--x", path)
            case ("--model", let kind) where ["bad-weights", "negative-weight", "asymmetric", "indefinite"].contains(kind):
                var weights = "[0.5, 0.5]"
                var covariances = "[[[1, 0], [0, 1]], [[1, 0], [0, 1]]]"
                switch kind {
                case "bad-weights": weights = "[0.5, 0.4]"
                case "negative-weight": weights = "[1.5, -0.5]"
                case "asymmetric": covariances = "[[[1, 0], [0, 1]], [[1, 0.5], [0.2, 1]]]"
                default: covariances = "[[[1, 2], [2, 1]], [[1, 0], [0, 1]]]"
                }
                let json = """
                {"weights": \(weights), "means": [[0, 0], [1, 1]], "covariance_type": "full", "covariances": \(covariances)}
                """
                let url = dir.appendingPathComponent("model.json")
                try Data(json.utf8).write(to: url)
                set("--model", url.path)
            default: set(option, value)
            }
        }
        let out = dir.appendingPathComponent("out.npz")
        let run = try CLI.run(["oracle"] + arguments + ["--out", out.path])
        #expect(run.status != 0)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(run.stderr)")
        #expect(run.stderr.lowercased().contains(expected.lowercased()), "stderr: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("out") }
        #expect(leftovers.isEmpty)
    }
}
