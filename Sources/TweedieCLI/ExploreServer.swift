import Dispatch
import FlyingFox
import FlyingSocks
import Foundation
import Tweedie

/// The page's files (HTML, script, style, the vendored plotly.js and its licence), shipped as the
/// resources of the command-line tool beside its binary.
struct ExploreAssets: Sendable {
    static let files = ["index.html", "explore.js", "explore.css", "plotly.min.js", "LICENSE-plotly.js.txt"]
    let folder: URL

    /// The resource folder next to the running binary (SwiftPM's `Tweedie_TweedieCLI.resources/Explore`),
    /// or `$TWEEDIE_EXPLORE_ASSETS`.
    static func locate() throws -> ExploreAssets {
        var candidates: [URL] = []
        if let folder = ProcessInfo.processInfo.environment["TWEEDIE_EXPLORE_ASSETS"] {
            candidates.append(URL(fileURLWithPath: folder))
        }
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(binary.deletingLastPathComponent()
            .appendingPathComponent("Tweedie_TweedieCLI.resources").appendingPathComponent("Explore"))
        for folder in candidates
        where files.allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }) {
            return ExploreAssets(folder: folder)
        }
        throw CommandFailure("the explorer's page is not beside the tweedie binary (looked in "
                             + candidates.map(\.path).joined(separator: ", ")
                             + "); build with `swift build` or set TWEEDIE_EXPLORE_ASSETS")
    }

    func contents(_ name: String) throws -> Data {
        try Data(contentsOf: folder.appendingPathComponent(name))
    }

    static func contentType(_ name: String) -> String {
        switch (name as NSString).pathExtension {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        default: "text/plain; charset=utf-8"
        }
    }
}

/// A sampler's step ladder costs a dozen runs (a second or more): it is computed once, on the first
/// request for any of its runs or its curve, and every view of it is kept.
actor ExploreCache {
    private var values: [String: String] = [:]

    func ladderView(_ view: ExplorerView, _ explorer: Explorer) throws -> String {
        if let value = values[view.name] { return value }
        let kind: SamplerConfiguration.Kind
        switch view {
        case .curve(let k): kind = k
        case .run(let k, _): kind = k
        default: return try view.json(explorer)
        }
        let (runs, curve) = try explorer.ladder(sampler: SamplerConfiguration(kind))
        values[ExplorerView.curve(kind).name] = curve.description
        for (steps, run) in runs { values[ExplorerView.run(kind, steps: steps).name] = run.description }
        if let value = values[view.name] { return value }
        return try view.json(explorer)
    }
}

/// The local HTTP server of `tweedie explore` (FlyingFox): the page's files at `/`, the views at
/// `/api/NAME`, and `/data/mode.js`, which tells the page it is served (a static copy says otherwise).
struct ExploreServer: Sendable {
    let explorer: Explorer
    let assets: ExploreAssets

    private static func json(_ status: HTTPStatusCode, _ body: String) -> HTTPResponse {
        HTTPResponse(statusCode: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                     body: Data(body.utf8))
    }

    private func respond(to request: HTTPRequest, cache: ExploreCache) async -> HTTPResponse {
        let path = request.path
        if path == "/" || path == "/index.html" || ExploreAssets.files.contains(String(path.dropFirst())) {
            let name = path == "/" ? "index.html" : String(path.dropFirst())
            guard let data = try? assets.contents(name) else { return HTTPResponse(statusCode: .notFound) }
            return HTTPResponse(statusCode: .ok, headers: [.contentType: ExploreAssets.contentType(name)], body: data)
        }
        if path == "/data/mode.js" {
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "text/javascript; charset=utf-8"],
                                body: Data("window.TWEEDIE_STATIC = false;\n".utf8))
        }
        guard path.hasPrefix("/api/"), let view = ExplorerView(name: String(path.dropFirst(5))) else {
            return Self.json(.notFound, "{\"error\":\"no such page or view\"}")
        }
        do {
            let body: String
            switch view {
            case .curve, .run: body = try await cache.ladderView(view, explorer)
            case .model, .density: body = try view.json(explorer)
            }
            return Self.json(.ok, body)
        } catch {
            var w = JSONWriter.object()
            w.add("error", string: "\(error)")
            return Self.json(.badRequest, w.description)
        }
    }

    /// Listens on host:port until interrupted; prints the address once listening. A port in use or an
    /// address that cannot be bound is a one-line error.
    func serve(host: String, port: Int) throws {
        let address: sockaddr_in
        do { address = try .inet(ip4: host, port: UInt16(port)) } catch {
            throw CommandFailure("--host '\(printable(host))': not an IPv4 address")
        }
        unblockStopSignals()
        let server = HTTPServer(address: address, timeout: 60, logger: .disabled)
        let cache = ExploreCache()
        let outcome = ServerOutcome()
        let name = explorer.model.name ?? "model"
        Task {
            await server.appendRoute("GET *") { request in await respond(to: request, cache: cache) }
            let listening = Task {
                try await server.waitUntilListening(timeout: 30)
                if case .ip4(let ip, let bound) = await server.listeningAddress {
                    FileHandle.standardOutput.write(Data(
                        "Serving the explorer of \(name) at http://\(ip):\(bound)/ (Ctrl-C to stop)\n".utf8))
                }
            }
            do {
                try await server.run()
                outcome.finish(nil)
            } catch {
                listening.cancel()
                outcome.finish(error)
            }
        }
        if let error = outcome.wait() {
            if case SocketError.failed(let type, let code, let message) = error,
               ["bind", "listen"].contains(type.lowercased()) {
                throw CommandFailure("--port \(port): cannot listen on \(host):\(port) "
                                     + "(\(code == EADDRINUSE ? "the port is in use" : message))")
            }
            throw CommandFailure("the explorer's server stopped: \(error.localizedDescription)")
        }
    }
}

/// Lets SIGINT, SIGTERM and SIGHUP stop the server even when the parent started it with them blocked
/// (a blocked mask is inherited, e.g. from some process launchers), so Ctrl-C and `kill` always work.
private func unblockStopSignals() {
    var stops = sigset_t()
    sigemptyset(&stops)
    for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&stops, signal) }
    pthread_sigmask(SIG_UNBLOCK, &stops, nil)
}

/// How the server ended, handed from its task to the blocked main thread.
final class ServerOutcome: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var error: (any Error)?

    func finish(_ error: (any Error)?) {
        lock.lock()
        self.error = error
        lock.unlock()
        semaphore.signal()
    }

    func wait() -> (any Error)? {
        semaphore.wait()
        lock.lock()
        defer { lock.unlock() }
        return error
    }
}

/// `tweedie explore --static DIR`: the page and every view its controls can ask for, as
/// `data/NAME.js` scripts (which a page opened from file:// can load), written into a new folder
/// that appears whole or not at all.
enum ExploreStaticCopy {
    static func write(_ explorer: Explorer, assets: ExploreAssets, to folder: String) throws {
        let target = URL(fileURLWithPath: folder)
        guard !FileManager.default.fileExists(atPath: target.path) else {
            throw CommandFailure("--static \(printable(folder)): exists; name a new folder (nothing is overwritten)")
        }
        let parent = target.deletingLastPathComponent()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw CommandFailure("--static \(printable(folder)): the folder \(parent.path) does not exist")
        }
        let partial = parent.appendingPathComponent(".\(target.lastPathComponent).partial-\(getpid())")
        do {
            try FileManager.default.createDirectory(at: partial.appendingPathComponent("data"),
                                                    withIntermediateDirectories: true)
            for name in ExploreAssets.files {
                try assets.contents(name).write(to: partial.appendingPathComponent(name))
            }
            func put(_ name: String, _ script: String) throws {
                try Data(script.utf8).write(to: partial.appendingPathComponent("data").appendingPathComponent(name))
            }
            try put("mode.js", "window.TWEEDIE_STATIC = true;\n")
            func put(_ view: ExplorerView, _ json: String) throws {
                try put(view.name + ".js", "tweedieData(\"\(view.name)\", \(json));\n")
            }
            try put(.model, try ExplorerView.model.json(explorer, isStatic: true))
            for i in explorer.times.indices { try put(.density(i), try ExplorerView.density(i).json(explorer)) }
            for kind in Explorer.samplers {
                let (runs, curve) = try explorer.ladder(sampler: SamplerConfiguration(kind))
                try put(.curve(kind), curve.description)
                for (steps, run) in runs { try put(.run(kind, steps: steps), run.description) }
            }
            try FileManager.default.moveItem(at: partial, to: target)
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
    }
}
