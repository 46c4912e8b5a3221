import Foundation
import Tweedie

/// Any bytes as a molecular file — the first byte chooses XYZ, SDF, PDB or PDB's Cα atoms, the rest
/// is the file — either an error or conformers, never a trap. Conformers that read are written as
/// XYZ and must read back to the same atoms and, to XYZ's 8 decimals, the same coordinates.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMolecules(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    guard count >= 1 else { return 0 }
    let choice = Int(bytes[0]) % 4
    let format: MolecularFile.Format = [.xyz, .sdf, .pdb, .pdb][choice]
    let selection: MolecularFile.Selection = choice == 3 ? .alphaCarbons : .all
    let data = Data(bytes: bytes + 1, count: count - 1)
    guard let c = try? MolecularFile.decode(data, format: format, selection: selection) else { return 0 }
    guard c.frames.elements.allSatisfy({ abs($0) < 1e6 }), c.frames.elements.count <= 1 << 16,
          let text = try? MolecularFile.encode(c, format: .xyz) else { return 0 }
    guard let back = try? MolecularFile.decode(text, format: .xyz), back.symbols == c.symbols,
          zip(back.frames.elements, c.frames.elements).allSatisfy({ abs($0 - $1) <= 1e-8 }) else {
        fatalError("conformers of \(c.atomCount) atoms × \(c.frameCount) frames do not round-trip through XYZ")
    }
    return 0
}
