import Foundation
import TweedieLinearAlgebra

/// Multi-frame XYZ files, the plain-text format molecular viewers (VMD, OVITO, ASE, PyMOL)
/// read as a trajectory or an ensemble. Each frame is
///
///     N
///     <comment line>
///     <symbol> x y z      (N lines)
///
/// with coordinates as `%.8f`.
public enum XYZFile {
    /// Writes each row of `frames` (F × 3N, atom i at columns 3i, 3i+1, 3i+2) as one frame,
    /// atomically. `comment(f)` is frame f's comment line (line breaks become spaces).
    public static func write(_ frames: Matrix, atoms: Int, symbol: String = "C", comment: (Int) -> String,
                             to url: URL) throws(FileError) {
        guard atoms >= 1, frames.columns == 3 * atoms else {
            throw FileError(file: url.displayName,
                            "points of \(frames.columns) coordinates are not \(atoms) atoms × 3")
        }
        guard !symbol.isEmpty, !symbol.contains(where: { $0.isWhitespace }) else {
            throw FileError(file: url.displayName, "the element symbol must be one word, got '\(symbol)'")
        }
        if let i = frames.elements.firstIndex(where: { !$0.isFinite }) {
            throw FileError(file: url.displayName,
                            "frame \(i / frames.columns), coordinate \(i % frames.columns) is \(frames.elements[i])")
        }
        var text = ""
        text.reserveCapacity(frames.rows * (atoms * 40 + 64))
        for f in 0..<frames.rows {
            text += "\(atoms)\n"
            text += comment(f).split(whereSeparator: \.isNewline).joined(separator: " ") + "\n"
            for i in 0..<atoms {
                let base = f * frames.columns + 3 * i
                text += symbol
                for c in 0..<3 { text += String(format: " %.8f", frames.elements[base + c]) }
                text += "\n"
            }
        }
        try AtomicFile.write(Data(text.utf8), to: url)
    }
}
