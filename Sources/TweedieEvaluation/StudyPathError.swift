import TweedieLinearAlgebra

/// The typical path error of a deterministic sampler.
public enum StudyPathError {
    /// The measurement's name.
    public static let medianName = "path_error_median"

    /// The median over samples of ‖x_r − y_r‖, the distance of each sample to its reference
    /// point (rows of `samples` and `reference` from the same starting noise).
    ///
    /// Unlike the RMS ``SampleEvaluation/pathError(samples:reference:)``, it is not dominated by
    /// the few samples that start near a boundary between modes and end in the other mode: their
    /// share shrinks like h^p, but each moves a whole mode spacing, so the RMS falls only like
    /// h^{p/2} until h resolves them. The median measures the integration error of the bulk of
    /// samples, whose order is the solver's (while fewer than half the samples flip).
    public static func median(samples: Matrix, reference: Matrix) -> Measurement {
        precondition(samples.rows == reference.rows && samples.columns == reference.columns,
                     "samples and reference differ in shape")
        let d = samples.columns
        var distances = (0..<samples.rows).map { r in
            var sum = 0.0
            for j in 0..<d {
                let e = samples.elements[r * d + j] - reference.elements[r * d + j]
                sum += e * e
            }
            return sum.squareRoot()
        }
        distances.sort()
        let n = distances.count
        let median = n == 0 ? .nan : n % 2 == 1 ? distances[n / 2] : (distances[n / 2 - 1] + distances[n / 2]) / 2
        return Measurement(name: medianName,
                           label: "median distance to the tightly solved ODE endpoint from the same starting noise",
                           value: median, noiseFloor: nil)
    }
}
