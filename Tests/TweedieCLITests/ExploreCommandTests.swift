import Foundation
import Glibc
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

        // Hostile requests: no file outside the page's, no view outside its ranges, and the server lives on.
        for path in ["/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/Package.swift", "/api/density-101",
                     "/api/density--1", "/api/density-99999999999999999999999", "/api/run-heun-0",
                     "/api/run-heun-100000", "/api/run-nosuch-4", "/api/curve-", "/api/run--", "/api/run-5", "/api/\u{00e9}",
                     "/" + String(repeating: "a", count: 4000)] {
            let (status, body) = try httpGet(port: port, path: path)
            #expect([400, 404, 414, 431].contains(status), "\(path): \(status)")
            #expect(!body.contains("root:"), "\(path)")
        }
        let (status, body) = try httpGet(port: port, path: "/api/density-3")
        #expect(status == 200 && body.contains("log_density"))
        #expect(first.isRunning)
    }

    /// GET over a plain socket (no client library rewrites the path): the status code and the body.
    private func httpGet(port: Int, path: String) throws -> (Int, String) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socket >= 0)
        defer { close(socket) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
        var response = [UInt8](), buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(socket, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? -1
        return (status, text)
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
