import TweedieEvaluation
import TweedieLinearAlgebra
import TweedieDistributions
import TweedieDiffusion
import TweedieOracle
import TweedieSamplers
import TweedieInverse
import TweedieRandom
/// Merging the parts of a sharded sampler study into one.
public enum StudyMerge {
    /// One directory's part: its name (for errors), configuration and rows.
    public struct Part: Sendable {
        public var name: String
        public var configuration: StudyConfiguration
        public var rows: [StudyRow]

        public init(name: String, configuration: StudyConfiguration, rows: [StudyRow]) {
            self.name = name
            self.configuration = configuration
            self.rows = rows
        }
    }

    /// The configuration (without a shard) and the rows of all parts in grid order, as one
    /// unsharded run would have written them. Throws when the parts come from different studies,
    /// hold a row outside the grid, or hold the same row twice.
    public static func merge(
        _ parts: [Part]
    ) throws(StudyError) -> (configuration: StudyConfiguration, rows: [StudyRow]) {
        guard var configuration = parts.first?.configuration else { throw StudyError("nothing to merge") }
        configuration.shard = nil
        var indexed: [Int: (row: StudyRow, part: String)] = [:]
        for part in parts {
            if let difference = configuration.firstDifference(from: part.configuration) {
                throw StudyError("\(part.name) is from a different study than \(parts[0].name) (\(difference))")
            }
            for row in part.rows {
                guard let index = configuration.index(sampler: row.sampler, steps: row.steps) else {
                    throw StudyError("\(part.name): row \(row.sampler) at \(row.steps) steps "
                                     + "is not in the study's grid")
                }
                if let earlier = indexed[index] {
                    throw StudyError("row \(row.sampler) at \(row.steps) steps "
                                     + "is in both \(earlier.part) and \(part.name)")
                }
                indexed[index] = (row, part.name)
            }
        }
        return (configuration, indexed.keys.sorted().map { indexed[$0]!.row })
    }
}
