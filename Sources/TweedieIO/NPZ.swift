import Foundation
import TweedieDistributions
import ZIPFoundation

/// NumPy's `.npz` format: a ZIP archive with one `<name>.npy` entry per array.
///
/// Reading accepts stored (`np.savez`) and deflated (`np.savez_compressed`) entries, including the
/// ZIP64 local headers NumPy always writes, and checks each entry's CRC-32. Writing stores the
/// entries uncompressed (or deflated), in order, with a fixed timestamp so that equal arrays
/// give equal files on a given machine.
public struct NPZArchive: Sendable, Equatable {
    /// The file size an entry's `.npy` header declares, once `prefix` holds the whole header (nil
    /// before, and for a header that does not parse); `checked` becomes true at the first complete
    /// header, parsed or not.
    private static func declaredSize(_ prefix: Data, checked: inout Bool) -> Int? {
        do {
            let size = try NPY.declaredFileSize(prefix: prefix)
            checked = size != nil
            return size
        } catch {
            checked = true
            return nil
        }
    }

    /// One named array.
    public struct Entry: Sendable, Equatable {
        /// The array's key, without the `.npy` suffix.
        public var name: String
        public var value: NPYValue
        /// Numbers are written as `<f8`, or as `|u1` bytes when every value is an integer in 0...255.
        public var storesBytes: Bool

        public init(name: String, value: NPYValue, storesBytes: Bool = false) {
            self.name = name
            self.value = value
            self.storesBytes = storesBytes
        }
    }

    /// The arrays in archive order.
    public private(set) var entries: [Entry]

    public init() { entries = [] }

    /// An archive of the given arrays; throws if a name is empty, contains `/`, or repeats.
    public init(_ entries: [Entry]) throws(FileError) {
        self.init()
        for entry in entries { try append(entry.name, entry.value, storesBytes: entry.storesBytes) }
    }

    public var names: [String] { entries.map(\.name) }

    /// The array named `name`, if present.
    public subscript(name: String) -> NPYValue? {
        entries.first { $0.name == name }?.value
    }

    /// Adds an array at the end; throws if the name is empty, contains `/`, or is already used.
    public mutating func append(_ name: String, _ value: NPYValue, storesBytes: Bool = false) throws(FileError) {
        guard !name.isEmpty, !name.contains("/") else {
            throw FileError(field: name, "array names must be non-empty and must not contain '/'")
        }
        guard self[name] == nil else { throw FileError(field: name, "appears twice") }
        entries.append(Entry(name: name, value: value, storesBytes: storesBytes))
    }

    /// The most bytes an entry may inflate to, and why (for the message).
    public struct EntryLimit: Sendable {
        public var bytes: Int
        public var reason: String
        public init(bytes: Int, reason: String) {
            self.bytes = bytes
            self.reason = reason
        }
    }

    /// Reads a `.npz` file. With `keys`, only the arrays named there are inflated (the others are
    /// skipped unread); every name in `required` must be present, and an entry named in `limits`
    /// may not declare more bytes than its limit: all three are checked against the archive's
    /// directory before anything is inflated.
    public static func read(_ url: URL, keys: Set<String>? = nil, required: [String] = [],
                            limits: [String: EntryLimit] = [:]) throws(FileError) -> NPZArchive {
        try requireReadableFile(url)
        do { return try decode(archiveAt: url, keys: keys, required: required, limits: limits) } catch {
            throw error.inFile(url.displayName)
        }
    }

    /// This archive's arrays followed by those of `other` (names must not repeat).
    public func appending(_ other: NPZArchive) throws(FileError) -> NPZArchive {
        var result = self
        for entry in other.entries { try result.append(entry.name, entry.value) }
        return result
    }

    /// Writes the archive atomically.
    public func write(to url: URL, compressed: Bool = false) throws(FileError) {
        let data: Data
        do { data = try encoded(compressed: compressed) } catch { throw error.inFile(url.displayName) }
        try AtomicFile.write(data, to: url)
    }

    /// Decodes the bytes of a `.npz` file.
    public static func decode(_ data: Data) throws(FileError) -> NPZArchive {
        // ZIPFoundation's in-memory reader traps on some damaged archives (it seeks past the end of
        // its buffer); its file-backed reader does not, so the bytes go through a temporary file.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tweedie-\(UUID().uuidString).npz")
        do { try data.write(to: url) } catch {
            throw FileError("cannot write a temporary copy in \(url.deletingLastPathComponent().path)")
        }
        defer { try? FileManager.default.removeItem(at: url) }
        return try decode(archiveAt: url)
    }

    private static func decode(archiveAt url: URL, keys: Set<String>? = nil, required: [String] = [],
                               limits: [String: EntryLimit] = [:]) throws(FileError) -> NPZArchive {
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw FileError("not a ZIP archive (\(zipReason(error)))")
        }
        let entries = archive.filter { $0.type != .directory }
        for entry in entries where entry.type != .file || !entry.path.hasSuffix(".npy") {
            throw FileError(field: entry.path, "is not a .npy entry")
        }
        let names = Set(entries.map { String($0.path.dropLast(4)) })
        if let missing = required.first(where: { !names.contains($0) }) {
            throw FileError(field: missing, "missing")
        }
        var result = NPZArchive()
        for entry in entries where keys?.contains(String(entry.path.dropLast(4))) ?? true {
            let path = entry.path
            // Bound the entry before inflating it: its declared size against the memory limit, its
            // .npy header against its declared size, and what it inflates to against both.
            let declared = Int(clamping: entry.uncompressedSize)
            if let limit = limits[String(path.dropLast(4))], declared > limit.bytes {
                throw FileError(field: String(path.dropLast(4)),
                                "declares \(declared) bytes, more than \(limit.reason) (at most \(limit.bytes))")
            }
            do {
                try MemoryBudget.require("entry", "\(declared) bytes", elements: [declared], bytesEach: 1)
            } catch {
                throw FileError(field: path, "is too large to inflate: \(error.reason)")
            }
            var contents = Data()
            var headerChecked = false
            do {
                let checksum = try archive.extract(entry, skipCRC32: false) { chunk in
                    // A stored entry cut short comes as empty chunks until its declared size: stop at the first.
                    guard !chunk.isEmpty else {
                        throw FileError(field: path, "is truncated: the archive ends before the \(declared) bytes "
                                        + "it declares")
                    }
                    contents.append(chunk)
                    guard contents.count <= declared else {
                        throw FileError(field: path, "inflates to more than the \(declared) bytes it declares "
                                        + "(the archive is corrupt)")
                    }
                    // A header that does not parse is reported after the CRC check, by the decoder; it is
                    // parsed once, not again for every chunk that follows.
                    if !headerChecked, let size = Self.declaredSize(contents, checked: &headerChecked) {
                        guard size == declared else {
                            throw FileError(field: String(path.dropLast(4)),
                                            "\(size > declared ? "truncated" : "too much data"): "
                                            + "its .npy header declares \(size) bytes, "
                                            + "the archive entry holds \(declared)")
                        }
                    }
                }
                guard checksum == entry.checksum else {
                    throw FileError(field: path, "CRC-32 mismatch (the archive is corrupt)")
                }
            } catch let error as FileError {
                throw error
            } catch {
                throw FileError(field: path, "cannot extract (\(zipReason(error)))")
            }
            let name = String(path.dropLast(4))
            let value: NPYValue
            do { value = try NPY.decode(contents) } catch { throw error.within(field: name) }
            try result.append(name, value)
        }
        return result
    }

    /// The bytes of a `.npz` file holding these arrays.
    public func encoded(compressed: Bool = false) throws(FileError) -> Data {
        // 2000-01-01 00:00 UTC: any fixed date in the DOS range makes the output reproducible.
        let timestamp = Date(timeIntervalSince1970: 946_684_800)
        do {
            let archive = try Archive(data: Data(), accessMode: .create)
            for entry in entries {
                let contents = entry.storesBytes ? try NPY.encodeBytes(entry.value) : NPY.encode(entry.value)
                try archive.addEntry(with: entry.name + ".npy", type: .file, uncompressedSize: Int64(contents.count),
                                     modificationDate: timestamp,
                                     compressionMethod: compressed ? .deflate : .none) { position, size in
                    contents.subdata(in: Int(position)..<Int(position) + size)
                }
            }
            guard let data = archive.data else { throw FileError("the in-memory archive is missing") }
            return data
        } catch let error as FileError {
            throw error
        } catch {
            throw FileError("cannot build the ZIP archive (\(zipReason(error)))")
        }
    }
}

/// A readable reason for a ZIPFoundation error.
private func zipReason(_ error: any Error) -> String {
    switch error {
    case Archive.ArchiveError.missingEndOfCentralDirectoryRecord: "no end-of-central-directory record"
    case Archive.ArchiveError.unreadableArchive: "unreadable or damaged"
    case Archive.ArchiveError.invalidCRC32: "CRC-32 mismatch"
    case Archive.ArchiveError.invalidCompressionMethod: "unsupported compression method"
    default: "\(error)"
    }
}
