import Foundation
import Testing
import Tweedie

@Suite struct LikelihoodCommandTests {
    static func writePoints(_ rows: [[Double]], in dir: URL) throws -> String {
        let url = dir.appendingPathComponent("x.npy")
        try ArrayFile.write(Matrix(rows), to: url)
        return url.path
    }

    static let points: [[Double]] = [[4.1, 0.1], [2.7, 2.9], [-0.1, -3.8]]

    /// The file holds B values, those of the library, and the report compares them with log p_0.
    @Test func writesTheLogLikelihoodsAndReports() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("l.npy")
        let run = try CLI.run(["likelihood", "--model", "ring8", "--x", try Self.writePoints(Self.points, in: dir),
                               "--schedule", "vp-linear", "--rtol", "1e-8", "--atol", "1e-8", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        let array = try ArrayFile.readArray(out)
        #expect(array.shape == [3])
        let reference = try ProbabilityFlowLikelihood(oracle: Oracle(BuiltinModels.ring8()), schedule: .vpLinear(),
                                                      relativeTolerance: 1e-8, absoluteTolerance: 1e-8)
            .logLikelihood(Matrix(Self.points))
        #expect(array.values == reference.map(\.logLikelihood))
        for text in ["log p_0", "ODE − log p_0", "|ODE − log p_0|: mean", "NFE", "wrote"] {
            #expect(run.stdout.contains(text), "\(text) missing from:\n\(run.stdout)")
        }
    }

    @Test func hutchinsonReportsItsStandardError() throws {
        let dir = try CLI.scratch()
        let out = dir.appendingPathComponent("l.npy")
        let run = try CLI.run(["likelihood", "--model", "ring8", "--x", try Self.writePoints(Self.points, in: dir),
                               "--schedule", "edm", "--divergence", "hutchinson", "--probes", "4", "--seed", "3",
                               "--prior", "gaussian", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try ArrayFile.readArray(out).shape == [3])
        #expect(run.stdout.contains("SE"))
        #expect(run.stdout.contains("points within 2 SE of log p_0"), "\(run.stdout)")
    }

    /// Each bad input: exactly one line on stderr naming the problem, a non-zero exit, no output.
    @Test(arguments: [
        (["--model", "no-such-model"], "no-such-model"),
        (["--schedule", "vp-wrong"], "unknown schedule"),
        (["--x", "three-columns"], "coordinates"),
        (["--x", "nan-point"], "nan"),
        (["--rtol", "0"], "--rtol"),
        (["--t-min", "0"], "--t-min"),
        (["--t-min", "2"], "--t-min"),
        (["--prior", "uniform"], "--prior"),
        (["--divergence", "trace"], "--divergence"),
        (["--probes", "8"], "hutchinson"),
        (["--divergence", "hutchinson", "--probes", "1"], "--probes"),
        (["--model", "spiral-dirac", "--schedule", "flow", "--t-max", "1"], "--t-max"),
    ])
    func badInputIsOneLineAndNoOutput(change: [String], expected: String) throws {
        let dir = try CLI.scratch()
        var arguments = ["--model", "ring8", "--x", try Self.writePoints(Self.points, in: dir), "--schedule", "vp-linear"]
        var i = 0
        while i < change.count {
            let (option, value) = (change[i], change[i + 1])
            i += 2
            if let j = arguments.firstIndex(of: option) { arguments.remove(at: j + 1); arguments.remove(at: j) }
            switch (option, value) {
            case ("--x", "three-columns"): arguments += ["--x", try Self.writePoints([[1, 2, 3]], in: dir)]
            case ("--x", "nan-point"): arguments += ["--x", try Self.writePoints([[1, .nan]], in: dir)]
            default: arguments += [option, value]
            }
        }
        let out = dir.appendingPathComponent("out.npy")
        let run = try CLI.run(["likelihood"] + arguments + ["--out", out.path])
        #expect(run.status != 0)
        #expect(run.stderr.split(separator: "\n").count == 1, "stderr: \(run.stderr)")
        #expect(run.stderr.lowercased().contains(expected.lowercased()), "stderr: \(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("out") }
        #expect(leftovers.isEmpty)
    }
}
