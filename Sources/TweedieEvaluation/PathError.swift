import TweedieDistributions
import TweedieLinearAlgebra

/// How far a deterministic sampler's outputs lie from the probability-flow ODE solved tightly
/// from the same starting noise (row r of `samples` and of `reference` from the same x_T): its
/// discretization error along the path, not sampling noise, so neither has a noise floor
/// (docs/math.md §7).
public enum PathError {
    public static let rmsName = "path_error"
    public static let medianName = "path_error_median"

    /// √((1/C) Σ_r ‖x_r − y_r‖²) over the C rows.
    public static func rms(samples: Matrix, reference: Matrix) throws(ArgumentError) -> Measurement {
        try requireComparable(samples, reference)
        var sum = 0.0
        for i in 0..<samples.elements.count {
            let e = samples.elements[i] - reference.elements[i]
            sum += e * e
        }
        return Measurement(name: rmsName,
                           label: "RMS distance to the tightly solved ODE endpoint from the same starting noise",
                           value: (sum / Double(samples.rows)).squareRoot(), noiseFloor: nil)
    }

    /// The median over rows of ‖x_r − y_r‖.
    ///
    /// Unlike the RMS, it is not dominated by the few samples that start near a boundary between
    /// modes and end in the other mode: their share shrinks like h^p, but each moves a whole mode
    /// spacing, so the RMS falls only like h^{p/2} until h resolves them. The median measures the
    /// integration error of the bulk of samples, whose order is the solver's (while fewer than
    /// half the samples flip).
    public static func median(samples: Matrix, reference: Matrix) throws(ArgumentError) -> Measurement {
        try requireComparable(samples, reference)
        let d = samples.columns
        var distances = (0..<samples.rows).map { r in
            var sum = 0.0
            for j in 0..<d {
                let e = samples.elements[r * d + j] - reference.elements[r * d + j]
                sum += e * e
            }
            return sum.squareRoot()
        }
        return Measurement(name: medianName,
                           label: "median distance to the tightly solved ODE endpoint from the same starting noise",
                           value: PairwiseSums.median(&distances), noiseFloor: nil)
    }

    private static func requireComparable(_ samples: Matrix, _ reference: Matrix) throws(ArgumentError) {
        guard samples.rows == reference.rows, samples.columns == reference.columns else {
            throw ArgumentError("reference", "is \(reference.rows)×\(reference.columns), "
                                + "the samples \(samples.rows)×\(samples.columns)")
        }
        guard samples.rows > 0 else { throw ArgumentError("samples", "none to compare") }
    }
}
