import Foundation
import Testing

/// Declared shapes that no array could fill — zeros beside huge dimensions, 2³¹, 2³², 2⁶² and
/// products that overflow `Int` — through every command that reads an array. Each file is a bare
/// `.npy` header with no data, so a reader that trusts the shape would read past the end or
/// multiply into a trap. Every run must end with exit 0 (an empty array is a valid batch of
/// nothing) or exit 1 and one line on stderr, and never by a signal.
@Suite struct ShapeSweepTests {
    static let shapes: [[Int]] = [
        [0], [0, 2], [0, 0], [2, 0], [0, 1 << 32, 1 << 32], [1 << 32, 1 << 32, 0], [0, 1 << 62, 4],
        [1 << 31], [1 << 31, 2], [1 << 32, 2], [1 << 62, 2], [2, 1 << 62], [1 << 62, 1 << 62],
        [3, 1 << 21, 1 << 21, 1 << 21], [Int.max, 2], [0, Int.max, Int.max],
    ]

    /// The commands that read an array, with `{file}` where the array goes.
    static let doors: [[String]] = [
        ["noise", "--model", "ring8", "--x0", "{file}", "--t", "0.5", "--schedule", "vp-linear", "--out", "{out}/n.npy"],
        ["oracle", "--model", "ring8", "--x", "{file}", "--t", "0.5", "--schedule", "vp-linear", "--out", "{out}/o.npz"],
        ["evaluate", "--model", "ring8", "--samples", "{file}"],
        ["likelihood", "--model", "ring8", "--schedule", "vp-linear", "--x", "{file}", "--out", "{out}/l.npy"],
        ["sample", "--model", "ring8", "--schedule", "vp-linear", "--sampler", "euler", "--steps", "4", "--count", "2", "--init", "{file}", "--out", "{out}/s.npy"],
        ["posterior", "--model", "ring8", "--operator", "{file}", "--y", "{file}", "--noise-std", "0.1",
         "--out", "{out}/p.json"],
        ["model", "show", "{model}"],
    ]

    static func header(_ shape: [Int]) -> Data {
        let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = Array("{'descr': '<f8', 'fortran_order': False, 'shape': \(tuple), }".utf8)
        let padding = (64 - (10 + text.count + 1) % 64) % 64
        text += [UInt8](repeating: 0x20, count: padding) + [0x0A]
        return Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text)
    }

    /// A model archive whose `means` declares `shape` (weights and variances are well formed).
    static func model(_ shape: [Int], at url: URL) throws {
        let weights = header([2]) + Data(repeating: 0, count: 16)
        try Zip.stored([("weights.npy", weights), ("means.npy", header(shape))]).write(to: url)
    }

    @Test(.serialized, arguments: shapes)
    func declaredShape(_ shape: [Int]) throws {
        let scratch = try CLI.scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = scratch.appendingPathComponent("x.npy"), archive = scratch.appendingPathComponent("m.npz")
        try Self.header(shape).write(to: file)
        try Self.model(shape, at: archive)
        for door in Self.doors {
            let arguments = door.map {
                $0.replacingOccurrences(of: "{file}", with: file.path)
                    .replacingOccurrences(of: "{model}", with: archive.path)
                    .replacingOccurrences(of: "{out}", with: scratch.path)
            }
            let run = try HostileRunner.run(arguments, environment: [:])
            let report = "\(door[0]) on shape \(shape): exit \(run.status), stderr: \(run.stderr.prefix(500))"
            #expect(!run.signaled && !run.timedOut, "\(report)")
            #expect(run.status == 0 || run.status == 1, "\(report)")
            if run.status != 0 {
                let line = run.stderr.hasSuffix("\n") ? String(run.stderr.dropLast()) : run.stderr
                #expect(!line.isEmpty && !line.contains("\n"), "expected one line: \(report)")
            }
        }
    }
}

/// The smallest ZIP writer a test needs: stored (uncompressed) entries with their CRC-32.
enum Zip {
    static func stored(_ entries: [(String, Data)]) -> Data {
        var body = Data(), directory = Data()
        func le<T: FixedWidthInteger>(_ value: T) -> Data { withUnsafeBytes(of: value.littleEndian) { Data($0) } }
        for (name, contents) in entries {
            let offset = UInt32(body.count), crc = crc32(contents), size = UInt32(contents.count)
            let fields = le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0))
                + le(crc) + le(size) + le(size) + le(UInt16(name.utf8.count)) + le(UInt16(0))
            body += le(UInt32(0x0403_4B50)) + fields + Data(name.utf8) + contents
            directory += le(UInt32(0x0201_4B50)) + le(UInt16(20)) + fields + le(UInt16(0)) + le(UInt16(0))
                + le(UInt16(0)) + le(UInt32(0)) + le(offset) + Data(name.utf8)
        }
        let end = le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count))
            + le(UInt16(entries.count)) + le(UInt32(directory.count)) + le(UInt32(body.count)) + le(UInt16(0))
        return body + directory + end
    }

    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
