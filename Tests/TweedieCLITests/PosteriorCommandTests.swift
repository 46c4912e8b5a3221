import Foundation
import Testing
import Tweedie

/// `tweedie posterior` and `tweedie sample --guidance`.
@Suite struct PosteriorCommandTests {
    /// A (1×2), y and Σ_y files for ring8 in a scratch directory.
    static func observationFiles() throws -> URL {
        let dir = try CLI.scratch()
        try ArrayFile.write(Matrix([[1, 0.3]]), to: dir.appendingPathComponent("A.npy"))
        try NPY.write(.numbers(NDArray([1.2])), to: dir.appendingPathComponent("y.npy"))
        try ArrayFile.write(Matrix([[0.25]]), to: dir.appendingPathComponent("S.npy"))
        return dir
    }

    static func observationArguments(_ dir: URL, noise: [String] = ["--noise-std", "0.5"]) -> [String] {
        ["--operator", dir.appendingPathComponent("A.npy").path, "--y", dir.appendingPathComponent("y.npy").path] + noise
    }

    @Test func writesTheExactPosterior() throws {
        let dir = try Self.observationFiles()
        let out = dir.appendingPathComponent("post.json")
        let run = try CLI.run(["posterior", "--model", "ring8"] + Self.observationArguments(dir) + ["--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        for phrase in ["log p(y) = -2.129", "p(k | y)", "0.5213", out.path] {
            #expect(run.stdout.contains(phrase), "missing '\(phrase)' in:\n\(run.stdout)")
        }
        let written = try ModelFile.read(out)
        let observation = try LinearObservation(operator: Matrix([[1, 0.3]]), y: [1.2], noiseStandardDeviation: 0.5)
        let posterior = try ExactPosterior(prior: BuiltinModels.ring8(), observation: observation)
        #expect(written.prior == posterior.model.prior)
        // Σ_y as a file gives the same posterior as σ_y.
        let viaFile = dir.appendingPathComponent("post2.json")
        let second = try CLI.run(["posterior", "--model", "ring8"]
                                 + Self.observationArguments(dir, noise: ["--noise-covariance", dir.appendingPathComponent("S.npy").path])
                                 + ["--out", viaFile.path])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try ModelFile.read(viaFile).prior == written.prior)
        // The posterior is a model like any other: exact samples of p(x_0 | y).
        let samples = dir.appendingPathComponent("exact.npy")
        let exact = try CLI.run(["sample", "--model", out.path, "--schedule", "edm", "--sampler", "exact", "--steps", "4",
                                 "--count", "300", "--out", samples.path])
        #expect(exact.status == 0, "\(exact.stderr)")
    }

    @Test func guidedSamplingReportsAgainstThePosterior() throws {
        let dir = try Self.observationFiles()
        for method in ["exact", "mmps", "dps"] {
            let out = dir.appendingPathComponent("\(method).npy")
            let run = try CLI.run(["sample", "--model", "ring8", "--schedule", "edm", "--sampler", "heun", "--steps", "12",
                                   "--count", "200", "--guidance", method] + Self.observationArguments(dir) + ["--out", out.path])
            #expect(run.status == 0, "\(run.stderr)")
            for phrase in ["guidance \(method)", "log p(y) = -2.129", "exact p(x_0 | y)", "p(k | y)"] {
                #expect(run.stdout.contains(phrase), "missing '\(phrase)' in:\n\(run.stdout)")
            }
        }
    }

    /// Guided samples depend only on (seed, i), as unguided ones do.
    @Test func guidedSamplesDoNotDependOnTheBatchSize() throws {
        let dir = try Self.observationFiles()
        var files: [Data] = []
        for batch in ["1000", "7"] {
            let out = dir.appendingPathComponent("mmps-\(batch).npy")
            let run = try CLI.run(["sample", "--model", "ring8", "--schedule", "vp-cosine", "--sampler", "ddpm", "--steps", "6",
                                   "--count", "30", "--seed", "5", "--batch-size", batch, "--guidance", "mmps", "--quiet"]
                                  + Self.observationArguments(dir) + ["--out", out.path])
            #expect(run.status == 0, "\(run.stderr)")
            files.append(try Data(contentsOf: out))
        }
        let same = files[0] == files[1]
        #expect(same)
    }

    @Test func badObservationsAreOneLineAndWriteNothing() throws {
        let dir = try Self.observationFiles()
        try ArrayFile.write(Matrix([[1, 0, 2]]), to: dir.appendingPathComponent("A3.npy"))
        try NPY.write(.numbers(NDArray([1, 2])), to: dir.appendingPathComponent("y2.npy"))
        try NPY.write(.numbers(NDArray([.nan])), to: dir.appendingPathComponent("ynan.npy"))
        try ArrayFile.write(Matrix([[-1]]), to: dir.appendingPathComponent("Sneg.npy"))
        let a = dir.appendingPathComponent("A.npy").path, y = dir.appendingPathComponent("y.npy").path
        let out = dir.appendingPathComponent("never.json").path
        let cases: [([String], String)] = [
            (["--operator", dir.appendingPathComponent("A3.npy").path, "--y", y, "--noise-std", "1"], "--operator"),
            (["--operator", a, "--y", dir.appendingPathComponent("y2.npy").path, "--noise-std", "1"], "--y"),
            (["--operator", a, "--y", dir.appendingPathComponent("ynan.npy").path, "--noise-std", "1"], "--y"),
            (["--operator", a, "--y", y, "--noise-covariance", dir.appendingPathComponent("Sneg.npy").path], "--noise-covariance"),
            (["--operator", a, "--y", y, "--noise-std", "0"], "--noise-std"),
            (["--operator", a, "--y", y, "--noise-std", "1", "--noise-covariance", dir.appendingPathComponent("S.npy").path], "--noise-covariance"),
            (["--operator", a, "--y", y], "--noise-std"),
            (["--operator", a, "--noise-std", "1"], "--y"),
            (["--operator", dir.appendingPathComponent("missing.npy").path, "--y", y, "--noise-std", "1"], "--operator"),
        ]
        for (arguments, named) in cases {
            let run = try CLI.run(["posterior", "--model", "ring8"] + arguments + ["--out", out])
            #expect(run.status != 0)
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1 && run.stderr.contains(named), "\(arguments): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        let samples = dir.appendingPathComponent("never.npy").path
        for (arguments, named) in [(["--guidance", "mmps"], "--guidance"), (Self.observationArguments(dir), "--guidance"),
                                   (["--guidance", "mmps", "--zeta", "2"] + Self.observationArguments(dir), "--zeta"),
                                   (["--guidance", "dps", "--zeta", "-1"] + Self.observationArguments(dir), "--zeta")] {
            let run = try CLI.run(["sample", "--model", "ring8", "--schedule", "edm", "--sampler", "euler", "--steps", "3",
                                   "--count", "5", "--out", samples] + arguments)
            #expect(run.status != 0)
            #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(named), "\(arguments): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: samples))
    }
}

/// `tweedie study inverse` on a small grid.
@Suite struct InverseProblemStudyCommandTests {
    @Test func smallBenchmarkWritesItsFiles() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("bench")
        let run = try CLI.run(["study", "inverse", "--dimensions", "4", "--observed", "1", "--operators", "2", "--count", "60",
                               "--steps", "8", "--guidance", "exact,mmps", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 1 + 2 * 2)
        #expect(run.stdout.contains("| 4 | 1 | exact |") && run.stdout.contains("| 4 | 1 | mmps |"), "\(run.stdout)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("sliced_w2_vs_dimension.svg").path))
        // The same seed gives the same problems and samples: rerunning reproduces every figure but the wall time.
        let again = dir.appendingPathComponent("again")
        #expect(try CLI.run(["study", "inverse", "--dimensions", "4", "--observed", "1", "--operators", "2", "--count", "60",
                             "--steps", "8", "--guidance", "exact,mmps", "--out", again.path]).status == 0)
        func withoutTime(_ url: URL) throws -> [String] {
            try String(contentsOf: url.appendingPathComponent("results.csv"), encoding: .utf8).split(separator: "\n")
                .map { line in
                    var fields = line.split(separator: ",", omittingEmptySubsequences: false)
                    fields.remove(at: 10)  // wall_time_s
                    return fields.joined(separator: ",")
                }
        }
        #expect(try withoutTime(out) == withoutTime(again))
    }

    @Test(arguments: [(["--dimensions", "5"], "--dimensions"), (["--observed", "9", "--dimensions", "8"], "--observed"),
                      (["--guidance", "dps,nope"], "--guidance"), (["--operators", "0"], "--operators"),
                      (["--sampler", "magic"], "--sampler")])
    func badOptionsFailCleanly(arguments: [String], named: String) throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("never")
        let run = try CLI.run(["study", "inverse"] + arguments + ["--out", out.path])
        #expect(run.status != 0)
        #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(named), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}

/// The generated problems: the operator's singular values are the sorted uniforms, and σ_y is
/// within the largest of them.
@Suite struct InverseProblemSetupTests {
    @Test func operatorHasTheDrawnSingularValues() throws {
        let prior = try InverseProblemSetup.gridMixture(dimension: 10, seed: 1)
        #expect(prior.componentCount == 25 && abs(prior.prior.weights.reduce(0, +) - 1) < 1e-12)
        #expect(prior.prior.means[24, 0] == 16 && prior.prior.means[24, 1] == 16 && prior.prior.means[0, 3] == -16)
        let observation = try InverseProblemSetup.observation(prior: prior, observedDimension: 3, seed: 2)
        let a = observation.forwardOperator
        // A Aᵀ = U diag(s²) Uᵀ: its eigenvalues are the squared singular values, each in (0, 1).
        let values = try SymmetricEigendecomposition(BLAS.product(a, .none, a, .transpose).symmetrized).values
        #expect(values.allSatisfy { $0 > 0 && $0 < 1 })
        let sigmaY = observation.noiseMatrix[0, 0].squareRoot()
        #expect(sigmaY > 0 && sigmaY <= values.last!.squareRoot() * (1 + 1e-12))
    }
}
