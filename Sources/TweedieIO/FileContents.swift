import Foundation
import TweedieDistributions
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens a regular file for reading and returns its descriptor and size; the caller closes it.
/// Errors are one line naming the file, e.g. `x.npy: cannot read (No such file or directory)`.
///
/// The file is opened without blocking, so a FIFO with no writer (or a device) is refused at once
/// instead of hanging the open.
private func openRegularFile(_ url: URL) throws(FileError) -> (descriptor: Int32, size: Int) {
    let descriptor = open(url.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { throw readFailure(url, errorText()) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
        let reason = errorText()
        close(descriptor)
        throw readFailure(url, reason)
    }
    guard (status.st_mode & S_IFMT) == S_IFREG else {
        close(descriptor)
        let kind = switch status.st_mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
        throw readFailure(url, kind == "not a regular file" ? kind : "it is \(kind), not a regular file")
    }
    _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
    return (descriptor, Int(status.st_size))
}

private func readFailure(_ url: URL, _ reason: String) -> FileError {
    FileError(file: url.displayName, "cannot read (\(reason))")
}

/// Throws the error `readContents(of:)` would, without reading the file.
func requireReadableFile(_ url: URL) throws(FileError) {
    close(try openRegularFile(url).descriptor)
}

/// Reads a whole regular file, refusing one larger than the memory limit (``MemoryBudget``).
func readContents(of url: URL) throws(FileError) -> Data {
    let (descriptor, size) = try openRegularFile(url)
    defer { close(descriptor) }
    do {
        try MemoryBudget.require("file", "its \(size) bytes", elements: [size], bytesEach: 1)
    } catch {
        throw FileError(file: url.displayName, "is too large to read: \(error.reason)")
    }
    var data = Data(count: size)
    let failed: String? = data.withUnsafeMutableBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errorText() }
            if n == 0 { return "the file shrank while being read" }
            offset += n
        }
        return nil
    }
    if let failed { throw readFailure(url, failed) }
    return data
}

/// The text of the current `errno`.
func errorText() -> String { String(cString: strerror(errno)) }

/// Whole files read as the readers read them (regular files only, within the memory limit).
public enum FileContents {
    /// The bytes of the regular file `url`; a ``FileError`` naming it otherwise.
    public static func read(_ url: URL) throws(FileError) -> Data { try readContents(of: url) }
}
