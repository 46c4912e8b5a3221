import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes whole files atomically: readers see either the old file or the complete new one.
///
/// The data goes to a temporary file in the destination's directory (so the final step is a
/// same-file-system rename), is flushed to disk, and is then renamed over the destination. On any
/// error the destination is left untouched and the temporary file is removed.
public enum AtomicFile {
    /// Writes `data` to `url`, replacing any existing file.
    public static func write(_ data: Data, to url: URL) throws(FileError) {
        let name = url.displayName
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileError(file: name, "cannot create a temporary file in \(directory.path) (\(errorText()))")
        }
        var closed = false
        do throws(FileError) {
            defer { if !closed { close(descriptor) } }
            try writeAll(data, to: descriptor, name: name)
            guard fsync(descriptor) == 0 else { throw FileError(file: name, "cannot flush (\(errorText()))") }
            closed = true
            guard close(descriptor) == 0 else { throw FileError(file: name, "cannot close (\(errorText()))") }
            guard rename(temporary.path, url.path) == 0 else {
                throw FileError(file: name, "cannot replace \(url.path) (\(errorText()))")
            }
        } catch {
            unlink(temporary.path)
            throw error
        }
    }

    private static func writeAll(_ data: Data, to descriptor: Int32, name: String) throws(FileError) {
        let failure: String? = data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = posixWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errorText()
                }
                offset += written
            }
            return nil
        }
        if let failure { throw FileError(file: name, "cannot write (\(failure))") }
    }
}

/// The C library's `write(2)`, which `AtomicFile.write` would otherwise shadow.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
