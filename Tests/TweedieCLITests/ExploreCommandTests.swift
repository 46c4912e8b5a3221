import Foundation
import Testing
import Tweedie

/// `tweedie explore`: its bad inputs, its static copy and its --state JSON. The page itself is tested in
/// a real browser (python/tests_browser, make test-explore).
@Suite struct ExploreCommandTests {
    private func expectOneLineError(_ run: CLIRun, containing text: String) {
        #expect(run.status != 0)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && run.stderr.contains(text), "\(run.stderr)")
    }

    @Test func badInputIsOneLine() throws {
        expectOneLineError(try CLI.run(["explore", "--model", "nosuch"]), containing: "model 'nosuch'")
        expectOneLineError(try CLI.run(["explore", "--model", "chain16"]), containing: "--project i,j")
        expectOneLineError(try CLI.run(["explore", "--model", "chain16", "--project", "3"]), containing: "--project")
        expectOneLineError(try CLI.run(["explore", "--model", "chain16", "--project", "0,48"]), containing: "coordinate 48")
        expectOneLineError(try CLI.run(["explore", "--model", "ring8", "--host", "nowhere"]), containing: "--host")
        expectOneLineError(try CLI.run(["explore", "--model", "ring8", "--port", "70000"]), containing: "--port")
        expectOneLineError(try CLI.run(["explore", "--model", "ring8", "--state", "--t", "7", "--samples", "4"]),
                           containing: "outside the usable times")
    }

    /// A second explorer on a port the first holds fails with one line, and the first keeps serving.
    @Test func portInUseIsOneLine() throws {
        let first = Process()
        first.executableURL = CLI.executable
        first.arguments = ["explore", "--model", "ring8", "--port", "0", "--samples", "10"]
        let out = Pipe()
        first.standardOutput = out
        first.standardError = Pipe()
        try first.run()
        defer { stop(first) }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        let port = try #require(text.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }, "\(text)")
        expectOneLineError(try CLI.run(["explore", "--model", "ring8", "--port", "\(port)"]), containing: "in use")
        #expect(first.isRunning)
    }

    /// SIGTERM stops a server even when this test process hands its children a blocked signal mask; a
    /// server that outlives 10 s of SIGTERM fails the test (and is killed) rather than hanging it.
    private func stop(_ server: Process) {
        server.terminate()
        let deadline = Date().addingTimeInterval(10)
        while server.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!server.isRunning, "the explorer ignored SIGTERM")
        if server.isRunning { kill(server.processIdentifier, SIGKILL) }
        server.waitUntilExit()
    }

    @Test func staticCopyIsWholeAndNeverOverwrites() throws {
        let dir = try CLI.scratch()
        let page = dir.appendingPathComponent("page")
        let run = try CLI.run(["explore", "--model", "ring8", "--static", page.path, "--slider-positions", "3",
                               "--samples", "20", "--trajectories", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        let data = try FileManager.default.contentsOfDirectory(atPath: page.appendingPathComponent("data").path)
        // mode.js, model.js, 3 densities, and per sampler a curve and a run per ladder step count.
        #expect(data.count == 2 + 3 + Explorer.samplers.count * (1 + Explorer.stepLadder.count))
        #expect(FileManager.default.fileExists(atPath: page.appendingPathComponent("plotly.min.js").path))
        let again = try CLI.run(["explore", "--model", "ring8", "--static", page.path])
        expectOneLineError(again, containing: "exists")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers == ["page"])
    }

    /// --state prints the library's views (the page's numbers) for the settings given.
    @Test func stateIsTheLibrarysViews() throws {
        let run = try CLI.run(["explore", "--model", "ring8", "--state", "--t", "0.25", "--sampler", "euler",
                               "--steps", "6", "--samples", "30", "--trajectories", "2", "--seed", "9"])
        #expect(run.status == 0, "\(run.stderr)")
        let printed = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let explorer = try Explorer(model: BuiltinModels.ring8(), schedule: "vp-cosine", trajectoryCount: 2,
                                    sampleCount: 30, seed: 9)
        let density = try #require(JSONSerialization.jsonObject(
            with: Data(try explorer.densityView(at: 0.25).description.utf8)) as? [String: Any])
        let shown = try #require((printed["density"] as? [String: Any])?["log_density"] as? [[Double]])
        let expected = try #require(density["log_density"] as? [[Double]])
        #expect(zip(shown.joined(), expected.joined()).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) })
        let printedRun = try #require(printed["run"] as? [String: Any])
        #expect(printedRun["sampler"] as? String == "euler" && printedRun["model_calls"] as? Double == 6)
    }
}
