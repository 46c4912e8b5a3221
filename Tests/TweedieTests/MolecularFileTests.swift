import Foundation
import Testing
@testable import Tweedie

/// XYZ, SDF and PDB against one another on the same conformers (examples/molecules/, written by
/// RDKit's own SDF and PDB writers: scripts/make_molecules.py), round trips, extended XYZ, Cα
/// selection, the superposition against a known rotation and against random ones, and bad files.
@Suite struct MolecularFileTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/molecules")

    @Test func theThreeFormatsAgreeOnTheExampleConformers() throws {
        let xyz = try MolecularFile.read(Self.examples.appendingPathComponent("butanol.xyz"))
        let sdf = try MolecularFile.read(Self.examples.appendingPathComponent("butanol.sdf"))
        let pdb = try MolecularFile.read(Self.examples.appendingPathComponent("butanol.pdb"))
        #expect(xyz.frameCount == 40 && xyz.atomCount == 15)
        #expect(xyz.symbols.filter { $0 == "C" }.count == 4 && xyz.symbols.filter { $0 == "H" }.count == 10)
        #expect(sdf.symbols == xyz.symbols && pdb.symbols == xyz.symbols)
        #expect(sdf.frames.rows == 40 && pdb.frames.rows == 40)
        // SDF keeps 4 decimals, PDB 3: each within half a unit of its last place.
        for e in xyz.frames.elements.indices {
            #expect(abs(sdf.frames.elements[e] - xyz.frames.elements[e]) <= 0.5e-4 + 1e-12)
            #expect(abs(pdb.frames.elements[e] - xyz.frames.elements[e]) <= 0.5e-3 + 1e-12)
        }
        #expect(xyz.titles[3].hasPrefix("1-butanol conformer 3"))
    }

    @Test(arguments: [("xyz", 1e-8), ("sdf", 1e-4), ("pdb", 1e-3)])
    func roundTrip(format: String, resolution: Double) throws {
        var random = TestRandom(seed: 9)
        let frames = random.matrix(3, 12, scale: 3)
        let c = Conformers(symbols: ["C", "O", "Cl", "H"], frames: frames, titles: ["a", "b", "c"])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mol-\(UUID()).\(format)")
        defer { try? FileManager.default.removeItem(at: url) }
        try MolecularFile.write(c, to: url)
        let back = try MolecularFile.read(url)
        #expect(back.symbols == c.symbols && back.frameCount == 3)
        for e in frames.elements.indices { #expect(abs(back.frames.elements[e] - frames.elements[e]) <= resolution / 2 + 1e-12) }
    }

    @Test func extendedXYZNamesItsColumns() throws {
        let text = """
            2
            Lattice="10 0 0 0 10 0 0 0 10" Properties=forces:R:3:pos:R:3:species:S:1 energy=-3.5 pbc="T T T"
            0.1 0.2 0.3  1.0 2.0 3.0  O
            0.0 0.0 0.0  4.0 5.0 6.0  H
            2
            Properties=species:S:1:pos:R:3
            O 1.5 2.5 3.5
            H 4.5 5.5 6.5

            """
        let c = try MolecularFile.decode(Data(text.utf8), format: .xyz)
        #expect(c.symbols == ["O", "H"])
        #expect(c.frames.row(0) == [1, 2, 3, 4, 5, 6])
        #expect(c.frames.row(1) == [1.5, 2.5, 3.5, 4.5, 5.5, 6.5])
        // Written back, the title keeps its metadata and names the columns written.
        let text2 = String(decoding: try MolecularFile.encode(c, format: .xyz), as: UTF8.self)
        #expect(text2.contains("Properties=species:S:1:pos:R:3 energy=-3.5"))
        let back = try MolecularFile.decode(Data(text2.utf8), format: .xyz)
        #expect(back.symbols == c.symbols && back.frames == c.frames)
    }

    static func pdbLine(_ record: String, _ serial: Int, _ name: String, _ altLoc: Character, _ residue: Int,
                        _ x: Double, _ y: Double, _ z: Double, _ element: String) -> String {
        let atomName = name.count < 4 ? " " + name.padding(toLength: 3, withPad: " ", startingAt: 0) : name
        return record.padding(toLength: 6, withPad: " ", startingAt: 0) + String(format: "%5d ", serial) + atomName
            + String(altLoc) + "ALA A" + String(format: "%4d    %8.3f%8.3f%8.3f  1.00  0.00          ", residue, x, y, z)
            + element.padding(toLength: 2, withPad: " ", startingAt: 0)
    }

    @Test func pdbAlphaCarbonsAndAlternateLocations() throws {
        let lines = [
            "TITLE     TWO ALANINES",
            Self.pdbLine("ATOM", 1, "N", " ", 1, 0, 0, 0, " N"),
            Self.pdbLine("ATOM", 2, "CA", " ", 1, 1.458, 0, 0, " C"),
            Self.pdbLine("ATOM", 3, "CB", "A", 1, 1.9, 1.4, 0, " C"),
            Self.pdbLine("ATOM", 4, "CB", "B", 1, 1.9, -1.4, 0, " C"),
            Self.pdbLine("ATOM", 5, "N", " ", 2, 2.5, 0.5, 1, " N"),
            Self.pdbLine("ATOM", 6, "CA", " ", 2, 3.8, 0.6, 1.2, " C"),
            Self.pdbLine("HETATM", 7, "O", " ", 3, 9, 9, 9, " O"),
            "END",
        ]
        let data = Data(lines.joined(separator: "\n").utf8)
        let all = try MolecularFile.decode(data, format: .pdb)
        #expect(all.symbols == ["N", "C", "C", "N", "C", "O"])  // altLoc B skipped
        #expect(all.frames.row(0)[6...8] == [1.9, 1.4, 0])
        let ca = try MolecularFile.decode(data, format: .pdb, selection: .alphaCarbons)
        #expect(ca.symbols == ["C", "C"] && ca.frames.row(0) == [1.458, 0, 0, 3.8, 0.6, 1.2])
        #expect(ca.titles == ["TWO ALANINES"])
    }

    @Test(arguments: [
        ("xyz", "two\ncomment\nO 0 0 0\n", "line 1: expected the atom count of a frame, got 'two'"),
        ("xyz", "3\ncomment\nO 0 0 0\nH 1 0 0\n", "line 1: a frame of 3 atoms, but the file ends"),
        ("xyz", "1\nc\nO 0 nan 0\n", "line 3: y: expected a finite number, got 'nan'"),
        ("xyz", "1\nc\nO 0 0\n", "line 3: expected 4 columns 'symbol x y z', got 3"),
        ("xyz", "1\nc\nO 0 0 0\n2\nc\nO 0 0 0\nH 1 0 0\n", "line 4: frame 1 has 2 atoms, frame 0 has 1"),
        ("xyz", "1\nc\nO 0 0 0\n1\nc\nN 0 0 0\n", "line 4: frame 1: atom 0 is N, in frame 0 it is O"),
        ("xyz", "1\nc\n1.5 0 0 0\n", "line 3: expected an element symbol, got '1.5'"),
        ("xyz", "1\nProperties=pos:R:3\n0 0 0\n", "line 2: Properties= names no species:S:1 and pos:R:3"),
        ("xyz", "1\nProperties=species:S:1:pos:R:x\nO 0 0 0\n", "line 2: Properties=: the count of 'pos'"),
        ("sdf", "t\n\n\n  1  0  0  0  0  0  0  0  0  0999 V3000\n", "line 4: V3000 molfiles are not read"),
        ("sdf", "t\n\n\n  x  0\n", "line 4: expected a V2000 counts line"),
        ("sdf", "t\n\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0000    0.0000\n",
         "line 5: an atom line of 20 columns"),
        ("sdf", "t\n\n", "a record ends before its counts line"),
        ("pdb", "ATOM      1  CA  ALA A   1       1.000   2.000\n", "line 1: an ATOM record of 46 columns"),
        ("pdb", "REMARK nothing\n", "holds no atoms"),
        ("xyz", "\u{FF}\u{FE}", "is not UTF-8 text"),
    ])
    func badFilesSayWhereAndWhy(format: String, text: String, message: String) throws {
        let data = text == "\u{FF}\u{FE}" ? Data([0xFF, 0xFE, 0x00]) : Data(text.utf8)
        do {
            _ = try MolecularFile.decode(data, format: MolecularFile.Format(rawValue: format)!)
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    /// A rotation from an axis and an angle (Rodrigues), for the test.
    static func rotation(axis: [Double], angle: Double) -> Matrix {
        let n = (axis.reduce(0) { $0 + $1 * $1 }).squareRoot()
        let (x, y, z) = (axis[0] / n, axis[1] / n, axis[2] / n), c = cos(angle), s = sin(angle), t = 1 - c
        return Matrix(rows: 3, columns: 3, elements: [t * x * x + c, t * x * y - s * z, t * x * z + s * y,
                                                      t * x * y + s * z, t * y * y + c, t * y * z - s * x,
                                                      t * x * z - s * y, t * y * z + s * x, t * z * z + c])
    }

    @Test func superpositionRecoversAKnownRotation() throws {
        var random = TestRandom(seed: 4)
        let p = random.matrix(12, 3, scale: 2)
        let r = Self.rotation(axis: [0.3, -1, 2], angle: 2.2)
        var q = BLAS.product(p, .none, r, .transpose)
        for i in 0..<12 { q[i, 0] += 5; q[i, 1] -= 7; q[i, 2] += 0.5 }
        let fit = try Superposition(moving: p, onto: q)
        #expect(fit.rmsd < 1e-13)
        for e in 0..<9 { #expect(abs(fit.rotation.elements[e] - r.elements[e]) < 1e-13) }
        for e in q.elements.indices { #expect(abs(fit.aligned.elements[e] - q.elements[e]) < 1e-12) }
    }

    @Test func superpositionIsAProperRotationAndNoRandomOneDoesBetter() throws {
        var random = TestRandom(seed: 8)
        let p = random.matrix(9, 3)
        var mirrored = p
        for i in 0..<9 { mirrored[i, 2] = -mirrored[i, 2] }  // a mirror image: no rotation maps it back
        let fit = try Superposition(moving: p, onto: mirrored)
        let m = fit.rotation
        let det = m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]) - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
            + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0])
        #expect(abs(det - 1) < 1e-12)
        #expect(fit.rmsd > 0.05)
        func centred(_ x: Matrix) -> Matrix {
            var out = x
            for a in 0..<3 {
                let mean = (0..<x.rows).reduce(0.0) { $0 + x[$1, a] } / Double(x.rows)
                for i in 0..<x.rows { out[i, a] -= mean }
            }
            return out
        }
        let pc = centred(p), qc = centred(mirrored)
        for trial in 0..<2000 {
            var g = TestRandom(seed: UInt64(100 + trial))
            let r = Self.rotation(axis: g.normals(3), angle: 2 * .pi * g.uniform())
            let rotated = BLAS.product(pc, .none, r, .transpose)
            var squared = 0.0
            for e in qc.elements.indices {
                let d = rotated.elements[e] - qc.elements[e]
                squared += d * d
            }
            #expect((squared / 9).squareRoot() >= fit.rmsd - 1e-12)
        }
    }
}
