import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// Frames of one molecule: N atoms named by their element symbols, and F frames (conformers, or
/// the steps of a trajectory) of their coordinates, as molecular files hold them.
public struct Conformers: Sendable, Equatable {
    /// The element symbol of each atom (N).
    public var symbols: [String]
    /// F × 3N: frame f, atom i at columns 3i, 3i + 1, 3i + 2.
    public var frames: Matrix
    /// Each frame's title or comment line (F).
    public var titles: [String]

    public init(symbols: [String], frames: Matrix, titles: [String]? = nil) {
        self.symbols = symbols
        self.frames = frames
        self.titles = titles ?? Array(repeating: "", count: frames.rows)
    }

    public var atomCount: Int { symbols.count }
    public var frameCount: Int { frames.rows }
}

/// Reads and writes molecular coordinates without a chemistry toolkit: XYZ and extended XYZ
/// (multi-frame), SDF / MOL V2000 (multi-record) and PDB (ATOM and HETATM records, MODEL blocks),
/// chosen by extension. Every frame must have the same atoms in the same order. Errors are one line
/// naming the file and the line, e.g. `ethanol.xyz: line 7: expected 'symbol x y z', got 'C 0.1 0.2'`.
public enum MolecularFile {
    public enum Format: String, Sendable, CaseIterable {
        case xyz, sdf, pdb

        /// By extension: .xyz and .extxyz, .sdf and .mol, .pdb and .ent.
        public init(_ url: URL) throws(FileError) {
            switch url.pathExtension.lowercased() {
            case "xyz", "extxyz": self = .xyz
            case "sdf", "mol", "sd": self = .sdf
            case "pdb", "ent": self = .pdb
            default:
                throw FileError(file: url.displayName, "expected a molecular file (.xyz, .extxyz, .sdf, .mol or .pdb)")
            }
        }
    }

    /// Which atoms of a PDB file to read: all of them, or the Cα atoms of the amino-acid residues.
    public enum Selection: String, Sendable, CaseIterable {
        case all
        case alphaCarbons = "ca"
    }

    public static func read(_ url: URL, selection: Selection = .all) throws(FileError) -> Conformers {
        let format = try Format(url)
        do {
            return try decode(readContents(of: url), format: format, selection: selection)
        } catch {
            throw error.inFile(url.displayName)
        }
    }

    /// The frames of `data` in `format`.
    public static func decode(_ data: Data, format: Format,
                              selection: Selection = .all) throws(FileError) -> Conformers {
        guard let text = String(data: data, encoding: .utf8) else { throw FileError("is not UTF-8 text") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        if lines.last?.isEmpty == true { lines.removeLast() }  // the final newline ends a line, not starts one
        var reader = FrameCollector()
        switch format {
        case .xyz: try readXYZ(lines, into: &reader)
        case .sdf: try readSDF(lines, into: &reader)
        case .pdb: try readPDB(lines, selection: selection, into: &reader)
        }
        guard let symbols = reader.symbols, !reader.values.isEmpty else {
            throw FileError(selection == .alphaCarbons && format == .pdb
                            ? "holds no Cα atoms (ATOM records named CA)" : "holds no atoms")
        }
        return Conformers(symbols: symbols,
                          frames: Matrix(rows: reader.titles.count, columns: 3 * symbols.count,
                                         elements: reader.values),
                          titles: reader.titles)
    }

    /// Writes `conformers` atomically in the format of the extension.
    public static func write(_ conformers: Conformers, to url: URL) throws(FileError) {
        let data = try encode(conformers, format: Format(url))
        try AtomicFile.write(data, to: url)
    }

    public static func encode(_ c: Conformers, format: Format) throws(FileError) -> Data {
        guard c.atomCount >= 1, c.frames.columns == 3 * c.atomCount else {
            throw FileError("frames of \(c.frames.columns) coordinates are not \(c.atomCount) atoms × 3")
        }
        if let i = c.frames.elements.firstIndex(where: { !$0.isFinite }) {
            let n = c.frames.columns
            throw FileError("frame \(i / n), coordinate \(i % n) is \(c.frames.elements[i])")
        }
        if let bad = c.symbols.first(where: { $0.isEmpty || $0.count > 3 || !$0.allSatisfy({ $0.isLetter }) }) {
            throw FileError("the element symbol '\(bad)' is not 1 to 3 letters")
        }
        var text = ""
        text.reserveCapacity(c.frameCount * (c.atomCount * 82 + 100))
        func coordinate(_ f: Int, _ i: Int, _ axis: Int) -> Double { c.frames[f, 3 * i + axis] }
        func title(_ f: Int) -> String {
            let t = f < c.titles.count ? c.titles[f] : ""
            return t.split(whereSeparator: \.isNewline).joined(separator: " ")
        }
        switch format {
        case .xyz:
            for f in 0..<c.frameCount {
                text += "\(c.atomCount)\n\(xyzComment(title(f)))\n"
                for i in 0..<c.atomCount {
                    text += c.symbols[i]
                    for axis in 0..<3 { text += String(format: " %.8f", coordinate(f, i, axis)) }
                    text += "\n"
                }
            }
        case .sdf:
            guard c.atomCount <= 999 else { throw FileError("SDF V2000 holds at most 999 atoms, got \(c.atomCount)") }
            for f in 0..<c.frameCount {
                text += "\(title(f))\n  Tweedie\n\n"
                text += String(format: "%3d%3d  0  0  0  0  0  0  0  0999 V2000\n", c.atomCount, 0)
                for i in 0..<c.atomCount {
                    text += String(format: "%10.4f%10.4f%10.4f ", coordinate(f, i, 0), coordinate(f, i, 1),
                                   coordinate(f, i, 2))
                    text += c.symbols[i].padding(toLength: 3, withPad: " ", startingAt: 0)
                    text += " 0  0  0  0  0  0  0  0  0  0  0  0\n"
                }
                text += "M  END\n$$$$\n"
            }
        case .pdb:
            guard c.atomCount <= 99_999 else { throw FileError("PDB holds at most 99999 atoms, got \(c.atomCount)") }
            if let i = c.frames.elements.firstIndex(where: { abs($0) >= 9999.9995 }) {
                throw FileError("frame \(i / c.frames.columns): coordinate \(c.frames.elements[i]) does not fit "
                                + "PDB's 8 columns")
            }
            for f in 0..<c.frameCount {
                text += String(format: "MODEL     %4d\n", f + 1)
                for i in 0..<c.atomCount {
                    let element = c.symbols[i].uppercased()
                    let name = element.count == 1 ? " \(element)  " : element.padding(toLength: 4, withPad: " ",
                                                                                         startingAt: 0)
                    text += String(format: "HETATM%5d ", i + 1) + name
                        + String(format: " MOL A   1    %8.3f%8.3f%8.3f  1.00  0.00          ",
                                 coordinate(f, i, 0), coordinate(f, i, 1), coordinate(f, i, 2))
                        + element.leftPadded(to: 2) + "\n"
                }
                text += "ENDMDL\n"
            }
            text += "END\n"
        }
        return Data(text.utf8)
    }

    /// A title as an XYZ comment line: an extended XYZ `Properties=` is rewritten to name the
    /// columns written (symbol x y z), whatever the frame was read with.
    private static func xyzComment(_ title: String) -> String {
        guard let range = title.range(of: "properties=", options: .caseInsensitive) else { return title }
        let end = title[range.upperBound...].firstIndex(where: \.isWhitespace) ?? title.endIndex
        return title.replacingCharacters(in: range.lowerBound..<end, with: "Properties=species:S:1:pos:R:3")
    }

    // MARK: Reading

    /// Frames as they are read, checked against the first.
    private struct FrameCollector {
        var symbols: [String]?
        var values: [Double] = []
        var titles: [String] = []

        mutating func add(symbols frame: [String], coordinates: [Double], title: String, line: Int) throws(FileError) {
            if let symbols {
                guard frame.count == symbols.count else {
                    throw FileError(field: "line \(line)", "frame \(titles.count) has \(frame.count) atoms, "
                                    + "frame 0 has \(symbols.count) (all frames must be the same molecule)")
                }
                if let i = frame.indices.first(where: { frame[$0].lowercased() != symbols[$0].lowercased() }) {
                    throw FileError(field: "line \(line)", "frame \(titles.count): atom \(i) is \(frame[i]), "
                                    + "in frame 0 it is \(symbols[i])")
                }
            } else {
                guard !frame.isEmpty else { throw FileError(field: "line \(line)", "a frame without atoms") }
                symbols = frame
            }
            do {
                try MemoryBudget.require("file", "\(titles.count + 1) frames of \(frame.count) atoms",
                                         elements: [values.count + coordinates.count])
            } catch {
                throw FileError(field: "line \(line)", error.reason)
            }
            values += coordinates
            titles.append(title)
        }
    }

    private static func number(_ field: Substring, line: Int, what: String) throws(FileError) -> Double {
        let trimmed = field.trimmingCharacters(in: .whitespaces)
        guard let x = Double(trimmed), x.isFinite else {
            throw FileError(field: "line \(line)",
                            "\(what): expected a finite number, got '\(printableField(trimmed))'")
        }
        return x
    }

    private static func printableField(_ text: String) -> String {
        let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return String(shown.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "?" : Character($0) })
    }

    /// XYZ: per frame a count line, a comment line, then one line per atom. Extended XYZ's comment
    /// line may name the columns (`Properties=species:S:1:pos:R:3:…`); otherwise symbol x y z.
    private static func readXYZ(_ lines: [Substring], into frames: inout FrameCollector) throws(FileError) {
        var i = 0
        while i < lines.count {
            let countText = lines[i].trimmingCharacters(in: .whitespaces)
            if countText.isEmpty { i += 1; continue }  // blank lines between or after frames
            guard let n = Int(countText), n >= 1 else {
                throw FileError(field: "line \(i + 1)",
                                "expected the atom count of a frame, got '\(printableField(countText))'")
            }
            guard n <= lines.count - i - 2 else {
                throw FileError(field: "line \(i + 1)", "a frame of \(n) atoms, but the file ends after "
                                + "\(max(lines.count - i - 2, 0)) more lines")
            }
            let comment = String(lines[i + 1])
            let (symbolColumn, positionColumn, width) = try xyzColumns(comment, line: i + 2)
            var symbols: [String] = [], coordinates: [Double] = []
            symbols.reserveCapacity(n)
            coordinates.reserveCapacity(3 * n)
            for a in 0..<n {
                let number = i + 3 + a
                let fields = lines[i + 2 + a].split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count >= width else {
                    throw FileError(field: "line \(number)", "expected \(width) columns "
                                    + (width == 4 ? "'symbol x y z'" : "(Properties)") + ", got \(fields.count)")
                }
                let symbol = String(fields[symbolColumn])
                guard symbol.count <= 3, symbol.allSatisfy({ $0.isLetter }) else {
                    throw FileError(field: "line \(number)",
                                    "expected an element symbol, got '\(printableField(symbol))'")
                }
                symbols.append(symbol)
                for axis in 0..<3 {
                    coordinates.append(try Self.number(fields[positionColumn + axis], line: number,
                                                  what: ["x", "y", "z"][axis]))
                }
            }
            try frames.add(symbols: symbols, coordinates: coordinates, title: comment, line: i + 1)
            i += n + 2
        }
    }

    /// The columns of the species, of the first position coordinate, and the number of columns an
    /// atom line must have, from an extended XYZ comment line (plain XYZ: 0, 1, 4).
    private static func xyzColumns(_ comment: String, line: Int) throws(FileError) -> (Int, Int, Int) {
        guard let range = comment.range(of: "properties=", options: .caseInsensitive) else { return (0, 1, 4) }
        let spec = comment[range.upperBound...].prefix { !$0.isWhitespace }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count % 3 == 0, !parts.isEmpty else {
            throw FileError(field: "line \(line)", "Properties= must be name:type:count triples, "
                            + "got '\(printableField(String(spec)))'")
        }
        var column = 0, species: Int?, position: Int?
        for p in stride(from: 0, to: parts.count, by: 3) {
            guard let count = Int(parts[p + 2]), count >= 1, count <= 1000 else {
                let name = printableField(String(parts[p]))
                throw FileError(field: "line \(line)", "Properties=: the count of '\(name)' "
                                + "is not a small positive integer")
            }
            let name = parts[p].lowercased(), type = parts[p + 1].uppercased()
            if name == "species", type == "S", count == 1 { species = column }
            if name == "pos", type == "R", count == 3 { position = column }
            column += count
        }
        guard let species, let position else {
            throw FileError(field: "line \(line)", "Properties= names no species:S:1 and pos:R:3")
        }
        return (species, position, column)
    }

    /// SDF / MOL V2000: records ending in `$$$$` (a single .mol file may omit it); each a title, two
    /// header lines, a counts line, then the atom block (x, y, z in columns 1–30, the symbol in 32–34).
    private static func readSDF(_ lines: [Substring], into frames: inout FrameCollector) throws(FileError) {
        var start = 0
        while start < lines.count {
            // Skip blank tails (after the last $$$$).
            if lines[start...].allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { break }
            let countsLine = start + 3
            guard countsLine < lines.count else {
                throw FileError(field: "line \(lines.count)", "a record ends before its counts line")
            }
            let counts = Array(lines[countsLine].utf8)
            let text = String(decoding: counts, as: UTF8.self)
            if text.contains("V3000") {
                throw FileError(field: "line \(countsLine + 1)", "V3000 molfiles are not read; only V2000")
            }
            guard counts.count >= 6, let n = Int(String(decoding: counts[0..<3], as: UTF8.self)
                .trimmingCharacters(in: .whitespaces)), n >= 1 else {
                throw FileError(field: "line \(countsLine + 1)",
                                "expected a V2000 counts line (atoms in columns 1–3), got '\(printableField(text))'")
            }
            guard n <= lines.count - countsLine - 1 else {
                throw FileError(field: "line \(countsLine + 1)", "\(n) atoms, but the file ends first")
            }
            var symbols: [String] = [], coordinates: [Double] = []
            for a in 0..<n {
                let number = countsLine + 2 + a
                let bytes = Array(lines[countsLine + 1 + a].utf8)
                guard bytes.count >= 34 else {
                    throw FileError(field: "line \(number)", "an atom line of \(bytes.count) columns; V2000 needs "
                                    + "x, y, z in columns 1–30 and the symbol in 32–34")
                }
                for axis in 0..<3 {
                    let field = Substring(String(decoding: bytes[(10 * axis)..<(10 * axis + 10)], as: UTF8.self))
                    coordinates.append(try Self.number(field, line: number, what: ["x", "y", "z"][axis]))
                }
                let symbol = String(decoding: bytes[31..<34], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                guard !symbol.isEmpty, symbol.allSatisfy({ $0.isLetter }) else {
                    throw FileError(field: "line \(number)", "expected an element symbol in columns 32–34, "
                                    + "got '\(printableField(symbol))'")
                }
                symbols.append(symbol)
            }
            try frames.add(symbols: symbols, coordinates: coordinates,
                           title: String(lines[start]).trimmingCharacters(in: .whitespaces), line: countsLine + 1)
            // The record ends at $$$$ (or the file's end for a lone molfile).
            var next = countsLine + 1 + n
            while next < lines.count, lines[next].trimmingCharacters(in: .whitespaces) != "$$$$" { next += 1 }
            start = next + 1
        }
    }

    /// PDB: ATOM and HETATM records (x, y, z in columns 31–54, the atom name in 13–16, the element in
    /// 77–78 or else from the name), frames delimited by MODEL/ENDMDL; alternate locations other
    /// than blank or A are skipped.
    private static func readPDB(_ lines: [Substring], selection: Selection,
                                into frames: inout FrameCollector) throws(FileError) {
        var symbols: [String] = [], coordinates: [Double] = [], title = "", open = false, frameLine = 1
        func flush(_ line: Int) throws(FileError) {
            if !symbols.isEmpty {
                try frames.add(symbols: symbols, coordinates: coordinates, title: title, line: frameLine)
            }
            symbols = []
            coordinates = []
            open = false
        }
        for (index, line) in lines.enumerated() {
            let number = index + 1
            let bytes = Array(line.utf8)
            let record = String(decoding: bytes.prefix(6), as: UTF8.self).trimmingCharacters(in: .whitespaces)
            switch record {
            case "MODEL":
                try flush(number)
                open = true
                frameLine = number
                title = "model "
                    + String(decoding: bytes.dropFirst(6), as: UTF8.self).trimmingCharacters(in: .whitespaces)
            case "ENDMDL", "END":
                try flush(number)
            case "TITLE" where title.isEmpty:
                title = String(decoding: bytes.dropFirst(10), as: UTF8.self).trimmingCharacters(in: .whitespaces)
            case "ATOM", "HETATM":
                guard bytes.count >= 54 else {
                    throw FileError(field: "line \(number)", "an \(record) record of \(bytes.count) columns; "
                                    + "x, y, z are in columns 31–54")
                }
                if !open && symbols.isEmpty { frameLine = number }
                let altLoc = bytes[16]
                guard altLoc == UInt8(ascii: " ") || altLoc == UInt8(ascii: "A") else { continue }
                let name = String(decoding: bytes[12..<16], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                if selection == .alphaCarbons, record != "ATOM" || name != "CA" { continue }
                var element = bytes.count >= 78
                    ? String(decoding: bytes[76..<78], as: UTF8.self).trimmingCharacters(in: .whitespaces) : ""
                if element.isEmpty { element = String(name.prefix { $0.isLetter }.prefix(1)) }
                guard !element.isEmpty, element.allSatisfy({ $0.isLetter }) else {
                    throw FileError(field: "line \(number)", "no element symbol (columns 77–78) and none in the "
                                    + "atom name '\(printableField(name))'")
                }
                symbols.append(element.prefix(1).uppercased() + element.dropFirst().lowercased())
                for axis in 0..<3 {
                    let field = Substring(String(decoding: bytes[(30 + 8 * axis)..<(38 + 8 * axis)], as: UTF8.self))
                    coordinates.append(try Self.number(field, line: number, what: ["x", "y", "z"][axis]))
                }
            default: continue
            }
        }
        try flush(lines.count)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
