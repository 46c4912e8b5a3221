import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks a command's output paths before any work: no output may replace one of the command's
/// inputs (the same file by device and inode, or by resolved path), two outputs may not name the
/// same file, and an existing output must be a regular file (never a device, FIFO or directory).
public enum OutputPaths {
    /// `outputs` and `inputs` pair an option name (for the message) with a path; inputs that are
    /// not files (a built-in model's name) are skipped.
    public static func requireSafe(outputs: [(option: String, path: String)],
                                   inputs: [(option: String, path: String)]) throws(FileError) {
        var seen: [(option: String, identity: FileIdentity)] = []
        for input in inputs {
            if let identity = FileIdentity(input.path) { seen.append((input.option, identity)) }
        }
        let inputCount = seen.count
        for output in outputs {
            try AtomicFile.requireWritableDestination(URL(fileURLWithPath: output.path))
            guard let identity = FileIdentity(output.path) else { continue }
            if let clash = seen.first(where: { $0.identity == identity }) {
                let role = seen.firstIndex(where: { $0.identity == identity })! < inputCount
                    ? "the input" : "the output"
                throw FileError(file: output.path, "\(output.option) names the same file as \(role) \(clash.option); "
                                + "refusing to overwrite it")
            }
            seen.append((output.option, identity))
        }
    }
}

/// A file's identity: device and inode when it exists, otherwise its absolute, standardized path
/// (with the directory's symbolic links resolved).
enum FileIdentity: Equatable {
    case inode(device: UInt64, inode: UInt64)
    case path(String)

    init?(_ path: String) {
        guard !path.isEmpty else { return nil }
        var status = stat()
        if stat(path, &status) == 0 {
            self = .inode(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
            return
        }
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let directory = url.deletingLastPathComponent().resolvingSymlinksInPath()
        self = .path(directory.appendingPathComponent(url.lastPathComponent).path)
    }
}
