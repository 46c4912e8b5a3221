import Foundation
import TweedieDistributions
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
/// error the destination is left untouched and the temporary file is removed. A destination that
/// exists and is not a regular file (a device, a FIFO, a directory) is refused.
///
/// A result made of several files is written in two phases: ``stage(_:to:)`` each file, then
/// ``Staged/commit()`` them all, so that a failure while preparing any of them leaves none behind.
/// A command-line tool calls ``removeTemporariesOnSignals()`` once so that SIGINT, SIGTERM and
/// SIGHUP also remove the temporary files in flight.
public enum AtomicFile {
    /// A file written to its temporary name and not yet renamed into place.
    public final class Staged: @unchecked Sendable {
        let temporary: URL
        let destination: URL
        private var slot: Int?

        fileprivate init(temporary: URL, destination: URL, slot: Int?) {
            self.temporary = temporary
            self.destination = destination
            self.slot = slot
        }

        /// Renames the file into place.
        public func commit() throws(FileError) {
            defer { release() }
            guard rename(temporary.path, destination.path) == 0 else {
                let reason = errorText()
                unlink(temporary.path)
                throw FileError(file: destination.displayName, "cannot replace \(destination.path) (\(reason))")
            }
        }

        /// Removes the temporary file (nothing happens to the destination).
        public func discard() {
            unlink(temporary.path)
            release()
        }

        private func release() {
            if let slot { TemporaryFiles.shared.remove(slot) }
            slot = nil
        }

        deinit { if slot != nil { discard() } }
    }

    /// Writes `data` to `url`, replacing any existing regular file. Inside
    /// ``writingTogether(_:)`` the file is staged and renamed into place with the others at the end.
    public static func write(_ data: Data, to url: URL) throws(FileError) {
        if let transaction = currentTransaction {
            transaction.append(try stage(data, to: url))
            return
        }
        try stage(data, to: url).commit()
    }

    /// Runs `body`, staging every file it writes with ``write(_:to:)``, and renames them all into
    /// place only once it has returned: a failure in `body` leaves no new file behind, and an
    /// interruption can only fall between renames, not between writing files.
    public static func writingTogether<T>(_ body: () throws -> T) throws -> T {
        let transaction = Transaction()
        let result = try $currentTransaction.withValue(transaction) { try body() }
        try transaction.commit()
        return result
    }

    @TaskLocal static var currentTransaction: Transaction?

    final class Transaction: @unchecked Sendable {
        private var staged: [Staged] = []
        private let lock = NSLock()

        func append(_ file: Staged) {
            lock.lock(); defer { lock.unlock() }
            staged.append(file)
        }

        /// Renames in order; the files not yet renamed when one fails are discarded.
        func commit() throws(FileError) {
            lock.lock(); defer { lock.unlock() }
            let files = staged
            staged = []
            for (i, file) in files.enumerated() {
                do { try file.commit() } catch {
                    for rest in files[(i + 1)...] { rest.discard() }
                    throw error
                }
            }
        }
    }

    /// Writes `data` to a temporary file beside `url`, flushed to disk, ready to be committed.
    public static func stage(_ data: Data, to url: URL) throws(FileError) -> Staged {
        let stream = try openStream(to: url, bytes: data.count)
        try stream.write(data)
        return try stream.finish()
    }

    /// A file written piece by piece to its temporary name; ``finish()`` flushes it and hands it
    /// over staged, ready to be committed. Dropped unfinished, it removes its temporary file.
    public final class Stream: @unchecked Sendable {
        private let staged: Staged
        private var descriptor: Int32
        private var name: String { staged.destination.displayName }

        fileprivate init(staged: Staged, descriptor: Int32) {
            self.staged = staged
            self.descriptor = descriptor
        }

        public func write(_ data: Data) throws(FileError) {
            try AtomicFile.writeAll(data, to: descriptor, name: name)
        }

        public func finish() throws(FileError) -> Staged {
            let fd = descriptor
            descriptor = -1
            guard fsync(fd) == 0 else {
                let reason = errorText()
                close(fd)
                staged.discard()
                throw FileError(file: name, "cannot flush (\(reason))")
            }
            guard close(fd) == 0 else {
                staged.discard()
                throw FileError(file: name, "cannot close (\(errorText()))")
            }
            return staged
        }

        deinit {
            if descriptor >= 0 {
                close(descriptor)
                staged.discard()
            }
        }
    }

    /// Opens a temporary file beside `url` for writing piece by piece, after checking that the
    /// destination may be written and that its file system has `bytes` bytes free.
    public static func openStream(to url: URL, bytes: Int) throws(FileError) -> Stream {
        let name = url.displayName
        try requireWritableDestination(url)
        let directory = url.deletingLastPathComponent()
        var space = statvfs()
        if statvfs(directory.path, &space) == 0 {
            let (free, overflow) = Int(space.f_bavail).multipliedReportingOverflow(by: Int(space.f_frsize))
            if !overflow, free < bytes {
                throw FileError(file: name, "needs \(MemoryBudget.formatBytes(bytes)) on disk, "
                                + "\(directory.path) has \(MemoryBudget.formatBytes(free)) free")
            }
        }
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let slot = TemporaryFiles.shared.add(temporary.path)
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            let reason = errorText()
            if let slot { TemporaryFiles.shared.remove(slot) }
            throw FileError(file: name, "cannot create a temporary file in \(directory.path) (\(reason))")
        }
        return Stream(staged: Staged(temporary: temporary, destination: url, slot: slot), descriptor: descriptor)
    }

    /// Throws unless `url` is absent or a regular file.
    public static func requireWritableDestination(_ url: URL) throws(FileError) {
        var status = stat()
        guard stat(url.path, &status) == 0 else { return }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw FileError(file: url.displayName, "exists and is not a regular file; refusing to write to it")
        }
    }

    /// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the temporary files being
    /// written, then end the process as the signal would have. For command-line tools only: a
    /// library must not take over its host's signals.
    public static func removeTemporariesOnSignals() {
        _ = TemporaryFiles.shared
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber) { received in
                TemporaryFiles.shared.unlinkAll()
                signal(received, SIG_DFL)
                raise(received)
            }
        }
    }

    fileprivate static func writeAll(_ data: Data, to descriptor: Int32, name: String) throws(FileError) {
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

/// The temporary files being written, in fixed slots of C strings so that a signal handler can
/// remove them without allocating or locking.
final class TemporaryFiles: @unchecked Sendable {
    static let shared = TemporaryFiles()
    static let capacity = 256

    private let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let lock = NSLock()

    private init() {
        slots = .allocate(capacity: Self.capacity)
        slots.initialize(repeating: nil, count: Self.capacity)
    }

    /// Records a path; nil when every slot is taken (the file is then still removed on errors,
    /// only not on signals).
    func add(_ path: String) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard let free = (0..<Self.capacity).first(where: { slots[$0] == nil }) else { return nil }
        slots[free] = strdup(path)
        return free
    }

    func remove(_ slot: Int) {
        lock.lock(); defer { lock.unlock() }
        let path = slots[slot]
        slots[slot] = nil
        free(path)
    }

    /// Async-signal-safe: only reads the slots and calls unlink(2).
    func unlinkAll() {
        for i in 0..<Self.capacity {
            if let path = slots[i] { unlink(path) }
        }
    }
}

/// The C library's `write(2)`, which `AtomicFile.write` would otherwise shadow.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
