import Foundation
import Tweedie

/// Any bytes as a `.npz` model archive: either an error or a model, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPZ(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let data = Data(bytes: bytes, count: count)
    _ = try? NPZArchive.decode(data)
    if let model = try? ModelFile.decode(data, as: .npz), model.dimension <= 64, model.componentCount <= 64 {
        _ = try? Oracle(model)
    }
    return 0
}
