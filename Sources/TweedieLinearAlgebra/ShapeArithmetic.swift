/// Element counts and byte sizes of shapes that come from input, computed without trapping.
///
/// Every reader and every allocation whose size a file, a request or a caller declares goes
/// through these: a product that overflows `Int` is `nil`, never a trap, and a shape with a zero
/// dimension holds zero elements however large its other dimensions are — `(0, 2³², 2³²)` is an
/// empty array, as in NumPy, not an overflow.
public enum ShapeArithmetic {
    /// The number of elements of an array of shape `dimensions`: their product, `0` when any is
    /// zero, `nil` when a dimension is negative or the product overflows `Int`.
    public static func elementCount(_ dimensions: some Sequence<Int>) -> Int? {
        var product = 1
        var overflowed = false, empty = false
        for n in dimensions {
            guard n >= 0 else { return nil }
            if n == 0 { empty = true }
            if empty || overflowed { continue }
            let (next, overflow) = product.multipliedReportingOverflow(by: n)
            if overflow { overflowed = true } else { product = next }
        }
        return empty ? 0 : overflowed ? nil : product
    }

    /// The bytes of `dimensions` elements of `bytesEach` bytes each, or `nil` on overflow or a
    /// negative size.
    public static func byteCount(_ dimensions: some Sequence<Int>, bytesEach: Int) -> Int? {
        guard bytesEach >= 0, let count = elementCount(dimensions) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: bytesEach)
        return overflow ? nil : bytes
    }

    /// `a + b`, or `nil` on overflow.
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        let (total, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : total
    }
}
