import Foundation
import Testing
import Tweedie
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The CLI on hostile and careless inputs: the cases of `Hostile/cases.json`, written with the
/// files beside it by `scripts/make_hostile_corpus.py` (see that script for the manifest format).
///
/// Each case must either fail with a non-zero exit and exactly one line on stderr naming the
/// culprit, or succeed with the right answer; never die by a signal; finish within 5 s (it is
/// killed then, and fails); leave its inputs byte for byte unchanged; and leave nothing in its
/// scratch directory but the expected outputs (no `.NAME.<UUID>.tmp` files, no output on failure).
@Suite struct HostileInputTests {
    @Test func manifestIsReadable() throws {
        let cases = try HostileCorpus.load()
        #expect(cases.count > 100)
        #expect(Set(cases.map(\.name)).count == cases.count, "case names must be unique")
        for c in cases where c.expect == .error {
            #expect(!c.culprit.isEmpty, "\(c.name): an error case needs a culprit")
        }
    }

    // One case at a time: each runs a process with a 5 s limit, which parallel runs on a small
    // machine could exceed through no fault of the CLI.
    @Test(.serialized, arguments: HostileCorpus.cases)
    func hostileInput(_ c: HostileCase) throws {
        let scratch = try CLI.scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let substitute = { (text: String) in
            text.replacingOccurrences(of: "{corpus}", with: HostileCorpus.directory.path)
                .replacingOccurrences(of: "{out}", with: scratch.path)
        }

        for step in c.setup {
            try FileManager.default.copyItem(atPath: substitute(step.copy), toPath: substitute(step.to))
        }
        for item in c.generate { try item.make(at: substitute(item.path)) }

        // What must not change: the files named in the arguments and everything already in scratch.
        let before = try FileSnapshot.tree(scratch.path)
        var inputs: [String: FileSnapshot] = [:]
        for path in c.args.map(substitute) + c.setup.map({ substitute($0.copy) })
        where path.hasPrefix(HostileCorpus.directory.path) || path.hasPrefix(scratch.path) {
            if let snapshot = FileSnapshot(path) { inputs[path] = snapshot }
        }
        for relative in before { inputs[scratch.path + "/" + relative] = FileSnapshot(scratch.path + "/" + relative) }
        let corpusBefore = try FileManager.default.contentsOfDirectory(atPath: HostileCorpus.directory.path)

        let environment = c.env.mapValues(substitute)
        let run = try HostileRunner.run(c.args.map(substitute), environment: environment)
        let report = "\(c.name): exit \(run.status)\(run.signaled ? " (signal)" : ""), stderr: \(run.stderr.prefix(2000))"

        var expectedTree = before
        if run.timedOut {
            Issue.record("\(c.name): still running after \(HostileRunner.timeout) s; killed\n\(report)")
        } else if run.signaled {
            Issue.record("\(c.name): died by signal \(run.status)\n\(report)")
        } else {
            switch c.expect {
            case .error:
                #expect(run.status != 0, "\(c.name): expected an error\n\(report)")
                let line = run.stderr.hasSuffix("\n") ? String(run.stderr.dropLast()) : run.stderr
                #expect(!line.isEmpty && !line.contains("\n"), "\(c.name): expected exactly one line on stderr\n\(report)")
                #expect(c.culprit.contains { line.contains($0) },
                        "\(c.name): the error should name \(c.culprit.map { "'\($0)'" }.joined(separator: " or "))\n\(report)")
                for text in c.also {
                    #expect(line.contains(text), "\(c.name): the error should mention '\(text)'\n\(report)")
                }
            case .ok:
                #expect(run.status == 0, "\(c.name): expected success\n\(report)")
                for output in c.outputs {
                    // The output and any directories the run had to create for it.
                    var relative = String(substitute(output).dropFirst(scratch.path.count + 1))
                    while !relative.isEmpty && relative != "." {
                        expectedTree.insert(relative)
                        relative = relative.lastIndex(of: "/").map { String(relative[..<$0]) } ?? ""
                    }
                }
            }
        }

        let after = try FileSnapshot.tree(scratch.path)
        #expect(after.subtracting(expectedTree).isEmpty,
                "\(c.name): left behind in the output directory: \(after.subtracting(expectedTree).sorted())")
        #expect(expectedTree.subtracting(after).isEmpty,
                "\(c.name): missing from the output directory: \(expectedTree.subtracting(after).sorted())")
        let corpusAfter = try FileManager.default.contentsOfDirectory(atPath: HostileCorpus.directory.path)
        #expect(Set(corpusAfter) == Set(corpusBefore),
                "\(c.name): the corpus folder changed: \(Set(corpusAfter).symmetricDifference(corpusBefore).sorted())")
        for (path, snapshot) in inputs.sorted(by: { $0.key < $1.key }) {
            #expect(FileSnapshot(path) == snapshot, "\(c.name): input \(path) changed")
        }

        // A correct answer: the same numbers as the reference run (e.g. on the float64 copy of the input).
        guard c.expect == .ok, let reference = c.reference, run.status == 0, !run.signaled else { return }
        let second = try HostileRunner.run(reference.args.map(substitute), environment: environment)
        #expect(second.status == 0 && !second.signaled && !second.timedOut,
                "\(c.name): the reference run failed: exit \(second.status), stderr: \(second.stderr)")
        guard second.status == 0 && !second.signaled else { return }
        for pair in c.compare {
            guard pair.count == 2 else {
                Issue.record("\(c.name): compare needs pairs of files, got \(pair)")
                continue
            }
            let (output, expected) = (substitute(pair[0]), substitute(pair[1]))
            let got = try NumbersFile.read(output), want = try NumbersFile.read(expected)
            #expect(got.map(\.name) == want.map(\.name), "\(c.name): \(output) and \(expected) hold different arrays")
            for (a, b) in zip(got, want) where a.name == b.name {
                #expect(a.bits == b.bits, "\(c.name): '\(a.name)' in \(output) differs from \(expected)")
            }
        }
    }
}

// MARK: - The manifest

/// One entry of `Hostile/cases.json`.
struct HostileCase: Decodable, Sendable, CustomTestStringConvertible {
    enum Expectation: String, Decodable, Sendable { case error, ok }

    /// `{"copy": "{corpus}/x", "to": "{out}/x"}`: copy a file into place before the run.
    struct Copy: Decodable, Sendable {
        let copy: String
        let to: String
    }

    /// A file made at run time: too big to commit, or not a regular file.
    struct Generated: Decodable, Sendable {
        enum Kind: String, Decodable, Sendable {
            /// A named pipe with no writer.
            case fifo
            /// An empty directory.
            case directory
            /// A `<f8` .npy file of `shape` filled with zeros.
            case zerosNPY = "zeros_npy"
            /// The same, sparse: only the header is written, the zeros are a hole (1 TiB takes no disk).
            case sparseNPY = "sparse_npy"
        }
        let kind: Kind
        let path: String
        let shape: [Int]?
    }

    /// A second run after the checks whose outputs the case's outputs must equal.
    struct Reference: Decodable, Sendable {
        let args: [String]
        let outputs: [String]?
    }

    let name: String
    let args: [String]
    let expect: Expectation
    /// For errors: the stderr line must contain one of these.
    let culprit: [String]
    /// For errors: ... and every one of these.
    let also: [String]
    let env: [String: String]
    let setup: [Copy]
    let generate: [Generated]
    let outputs: [String]
    let reference: Reference?
    let compare: [[String]]

    var testDescription: String { name }

    private enum CodingKeys: String, CodingKey {
        case name, args, expect, culprit, also, env, setup, generate, outputs, reference, compare
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        args = try c.decode([String].self, forKey: .args)
        expect = try c.decode(Expectation.self, forKey: .expect)
        // "culprit": "text" or ["text", "or this"].
        if let one = try? c.decode(String.self, forKey: .culprit) {
            culprit = [one]
        } else {
            culprit = try c.decodeIfPresent([String].self, forKey: .culprit) ?? []
        }
        also = try c.decodeIfPresent([String].self, forKey: .also) ?? []
        env = try c.decodeIfPresent([String: String].self, forKey: .env) ?? [:]
        setup = try c.decodeIfPresent([Copy].self, forKey: .setup) ?? []
        // "generate": one object or a list of them.
        if let one = try? c.decode(Generated.self, forKey: .generate) {
            generate = [one]
        } else {
            generate = try c.decodeIfPresent([Generated].self, forKey: .generate) ?? []
        }
        outputs = try c.decodeIfPresent([String].self, forKey: .outputs) ?? []
        reference = try c.decodeIfPresent(Reference.self, forKey: .reference)
        compare = try c.decodeIfPresent([[String]].self, forKey: .compare) ?? []
    }
}

enum HostileCorpus {
    /// `Tests/TweedieCLITests/Hostile`, found from this source file (the test target has no resources).
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Hostile")

    static func load() throws -> [HostileCase] {
        try JSONDecoder().decode([HostileCase].self, from: Data(contentsOf: directory.appendingPathComponent("cases.json")))
    }

    /// The cases, or none if the manifest cannot be read (``HostileInputTests/manifestIsReadable()`` then fails).
    static let cases: [HostileCase] = (try? load()) ?? []
}

extension HostileCase.Generated {
    func make(at path: String) throws {
        switch kind {
        case .fifo:
            guard mkfifo(path, 0o600) == 0 else { throw HostileSetupError("mkfifo \(path): \(String(cString: strerror(errno)))") }
        case .directory:
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        case .zerosNPY, .sparseNPY:
            guard let shape, !shape.isEmpty, shape.allSatisfy({ $0 >= 0 }) else {
                throw HostileSetupError("\(kind.rawValue) needs a shape of non-negative numbers")
            }
            try Self.writeZeros(path, shape: shape)
        }
    }

    /// A version 1.0 `<f8` header, then `ftruncate` to the full size: the data is a hole that reads as zeros.
    private static func writeZeros(_ path: String, shape: [Int]) throws {
        let dimensions = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '<f8', 'fortran_order': False, 'shape': \(dimensions), }".utf8)
        let unpadded = 10 + header.count + 1
        header += Array(repeating: UInt8(ascii: " "), count: (64 - unpadded % 64) % 64) + [UInt8(ascii: "\n")]
        let prefix: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        let bytes = prefix + header
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        let size = bytes.count + count * 8
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw HostileSetupError("create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
        guard written == bytes.count else { throw HostileSetupError("write \(path): \(String(cString: strerror(errno)))") }
        guard ftruncate(descriptor, off_t(size)) == 0 else {
            throw HostileSetupError("ftruncate \(path) to \(size) bytes: \(String(cString: strerror(errno)))")
        }
    }
}

struct HostileSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Running the CLI with a time limit

struct HostileRun {
    /// The exit code, or the signal number when `signaled`.
    let status: Int32
    /// Whether the process died by a signal (also when killed after the time limit).
    let signaled: Bool
    let timedOut: Bool
    let stdout: String
    let stderr: String
}

enum HostileRunner {
    static let timeout = 5.0

    /// Runs the CLI with `environment` added to this process's (without an inherited
    /// `TWEEDIE_MEMORY_LIMIT`, so that the default limit applies unless a case sets one); after
    /// ``timeout`` seconds it is killed with SIGKILL.
    static func run(_ arguments: [String], environment: [String: String]) throws -> HostileRun {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        variables["TWEEDIE_MEMORY_LIMIT"] = nil
        variables.merge(environment) { _, new in new }
        process.environment = variables
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()

        // Both pipes are drained while the process runs, so that a chatty one cannot block on a full pipe.
        let output = PipeOutput()
        let drained = DispatchGroup()
        for (index, handle) in [out.fileHandleForReading, err.fileHandleForReading].enumerated() {
            let reader = UncheckedSendable(handle)
            DispatchQueue.global().async(group: drained) {
                output.store(reader.value.readDataToEndOfFile(), at: index)
            }
        }
        var timedOut = false
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            // Foundation reports the end only once the pipes close, which a child of the process
            // could delay: wait a little, then take the kill as the end.
            _ = exited.wait(timeout: .now() + 2)
        }
        _ = drained.wait(timeout: .now() + 2)
        let finished = !process.isRunning
        return HostileRun(status: finished ? process.terminationStatus : SIGKILL,
                          signaled: finished ? process.terminationReason == .uncaughtSignal : true,
                          timedOut: timedOut, stdout: String(decoding: output.data(at: 0), as: UTF8.self),
                          stderr: String(decoding: output.data(at: 1), as: UTF8.self))
    }
}

/// stdout and stderr as the reader threads collect them.
private final class PipeOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var chunks = [Data(), Data()]

    func store(_ data: Data, at index: Int) {
        lock.lock()
        defer { lock.unlock() }
        chunks[index] = data
    }

    func data(at index: Int) -> Data {
        lock.lock()
        defer { lock.unlock() }
        return chunks[index]
    }
}

private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

// MARK: - Files before and after

/// What a path holds, for telling whether a run changed it: the bytes of a regular file (size and
/// modification time for one over 64 MiB, e.g. the sparse 1 TiB array), the type of anything else.
/// Never opens a FIFO or a device.
enum FileSnapshot: Equatable {
    case bytes(Data)
    case large(size: Int64, modified: Int, modifiedNanoseconds: Int)
    case other(mode: UInt32)

    init?(_ path: String) {
        var status = stat()
        guard lstat(path, &status) == 0 else { return nil }
        let type = UInt32(status.st_mode) & UInt32(S_IFMT)
        guard type == UInt32(S_IFREG) else {
            self = .other(mode: type)
            return
        }
        let size = Int64(status.st_size)
        if size > 64 << 20 {
            #if canImport(Darwin)
            let modified = status.st_mtimespec
            #else
            let modified = status.st_mtim
            #endif
            self = .large(size: size, modified: Int(modified.tv_sec), modifiedNanoseconds: Int(modified.tv_nsec))
        } else if let data = FileManager.default.contents(atPath: path) {
            self = .bytes(data)
        } else {
            return nil
        }
    }

    /// Every path under `root`, relative to it, hidden files included; symbolic links are not followed.
    static func tree(_ root: String) throws -> Set<String> {
        var result: Set<String> = []
        func walk(_ relative: String) throws {
            let path = relative.isEmpty ? root : root + "/" + relative
            for name in try FileManager.default.contentsOfDirectory(atPath: path) {
                let child = relative.isEmpty ? name : relative + "/" + name
                result.insert(child)
                var status = stat()
                if lstat(root + "/" + child, &status) == 0, UInt32(status.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR) {
                    try walk(child)
                }
            }
        }
        try walk("")
        return result
    }
}

/// The numbers in an output file, array by array (`.npz`) or as one array (`.npy`), as bit
/// patterns in C order: shapes may differ (a (B, N, d) input gives (B, N, d) outputs).
enum NumbersFile {
    struct Entry: Equatable {
        let name: String
        let bits: [UInt64]
    }

    static func read(_ path: String) throws -> [Entry] {
        let url = URL(fileURLWithPath: path)
        func bits(_ value: NPYValue) -> [UInt64] { value.numbers?.values.map(\.bitPattern) ?? [] }
        if url.pathExtension == "npz" {
            return try NPZArchive.read(url).entries.map { Entry(name: $0.name, bits: bits($0.value)) }
        }
        return [Entry(name: "", bits: bits(try NPY.read(url)))]
    }
}
