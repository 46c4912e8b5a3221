import TweedieLinearAlgebra

/// The check every entry point makes of a batch of points (B×D, one point a row): `dimension`
/// coordinates each (when given) and all of them finite. The error names `argument`, then the
/// point and coordinate at fault, e.g. `x: point 3, coordinate 1 is nan`.
public func requirePoints(_ x: Matrix, dimension: Int? = nil, _ argument: String) throws(ArgumentError) {
    if let dimension, x.columns != dimension {
        throw ArgumentError(argument, "points have \(x.columns) coordinates, the model has \(dimension)")
    }
    if let i = x.elements.firstIndex(where: { !$0.isFinite }) {
        let columns = max(x.columns, 1)
        throw ArgumentError(argument, "point \(i / columns), coordinate \(i % columns) is \(x.elements[i])")
    }
}
