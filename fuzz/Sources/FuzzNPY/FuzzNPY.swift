import Foundation
import Tweedie

/// Any bytes as a `.npy` file, then as a batch of points: either an error or a value, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let data = Data(bytes: bytes, count: count)
    if case .numbers(let array)? = try? NPY.decode(data), array.dimensionCount == 2 {
        _ = try? array.matrix()
    }
    return 0
}
