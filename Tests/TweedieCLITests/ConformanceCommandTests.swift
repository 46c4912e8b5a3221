import Foundation
import Testing
import Tweedie

/// `tweedie conformance`: its report file holds the library's figures, and bad settings are one line.
@Suite struct ConformanceCommandTests {
    @Test func reportFileHoldsTheLibrarysFigures() throws {
        let out = try CLI.scratch().appendingPathComponent("heun.json")
        let run = try CLI.run(["conformance", "--model", "ring8", "--sampler", "heun", "--steps", "4,8",
                               "--count", "64", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("not judged"))
        let report = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        let check = try SamplerConformance(model: BuiltinModels.ring8(), count: 64)
        let expected = try check.check(SamplerConfiguration(.heun).makeSampler(), steps: [4, 8])
        // (to 1e-14: Foundation's JSON reader may round the last digit)
        let shown = try #require(report["mean_error"] as? [Double])
        #expect(shown.count == 2 && zip(shown, expected.meanError).allSatisfy { abs($0 - $1) <= 1e-14 * abs($1) })
        #expect(report["converges"] as? Bool == false && report["kl"] as? [NSNull] != nil)
    }

    @Test func badSettingsAreOneLine() throws {
        for (arguments, text) in [(["--steps", "8,4"], "--steps"), (["--steps", "4,x"], "'x'"),
                                  (["--count", "2"], "--count"), (["--sampler", "nosuch"], "--sampler"),
                                  (["--sigma-min", "100"], "--sigma-min"), (["--order", "-1"], "--order"),
                                  (["--out", "report.txt"], ".json")] {
            let run = try CLI.run(["conformance", "--model", "ring8"] + arguments)
            #expect(run.status != 0 && run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(text),
                    "\(arguments): \(run.stderr)")
        }
    }
}
