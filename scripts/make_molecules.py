#!/usr/bin/env python3
"""The conformer set of examples/molecules/: 1-butanol, 15 atoms, 40 conformers.

Made once with RDKit (PyPI `rdkit`; not needed by the build or the tests): ETKDG v3 embedding
(Riniker & Landrum) from the SMILES OCCCC with explicit hydrogens, each conformer then relaxed with
the MMFF94 force field, in the atom order RDKit gives. Written as multi-frame XYZ (8 decimals), SDF
V2000 (RDKit's own writer, 4 decimals) and PDB (RDKit's writer, 3 decimals), so that the three
readers can be checked against one another on the same molecules.

    python -m venv /tmp/rdkit && /tmp/rdkit/bin/pip install rdkit
    /tmp/rdkit/bin/python scripts/make_molecules.py
"""
import pathlib

from rdkit import Chem
from rdkit.Chem import AllChem

OUT = pathlib.Path(__file__).resolve().parent.parent / "examples/molecules"
COUNT, SEED = 40, 20261205


def main():
    mol = Chem.AddHs(Chem.MolFromSmiles("OCCCC"))
    mol.SetProp("_Name", "1-butanol")
    params = AllChem.ETKDGv3()
    params.randomSeed = SEED
    ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=COUNT, params=params))
    results = AllChem.MMFFOptimizeMoleculeConfs(mol, maxIters=2000)
    assert len(ids) == COUNT and all(converged == 0 for converged, _ in results)
    symbols = [atom.GetSymbol() for atom in mol.GetAtoms()]
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "butanol.xyz", "w") as xyz:
        for i, cid in enumerate(ids):
            pos = mol.GetConformer(cid).GetPositions()
            xyz.write(f"{len(symbols)}\n1-butanol conformer {i}, MMFF94 energy {results[i][1]:.6f} kcal/mol\n")
            for s, (x, y, z) in zip(symbols, pos):
                xyz.write(f"{s} {x:.8f} {y:.8f} {z:.8f}\n")
    writer = Chem.SDWriter(str(OUT / "butanol.sdf"))
    for cid in ids:
        writer.write(mol, confId=cid)
    writer.close()
    with open(OUT / "butanol.pdb", "w") as pdb:
        pdb.write(Chem.MolToPDBBlock(mol, confId=ids[0]).replace("END\n", ""))  # header and first model
    # All conformers as MODEL blocks.
    blocks = []
    for i, cid in enumerate(ids):
        block = Chem.MolToPDBBlock(mol, confId=cid)
        atoms = [line for line in block.splitlines() if line.startswith(("ATOM", "HETATM"))]
        blocks.append(f"MODEL     {i + 1:4d}\n" + "\n".join(atoms) + "\nENDMDL\n")
    (OUT / "butanol.pdb").write_text("".join(blocks) + "END\n")
    print(f"wrote {COUNT} conformers of {len(symbols)} atoms to {OUT}")


if __name__ == "__main__":
    main()
