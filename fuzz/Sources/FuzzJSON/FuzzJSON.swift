import Foundation
import Tweedie

/// Any bytes as a JSON model file; a model that loads is also evaluated once by the oracle.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let data = Data(bytes: bytes, count: count)
    guard let model = try? ModelFile.decode(data, as: .json),
          model.dimension <= 64, model.componentCount <= 64,
          let oracle = try? Oracle(model) else { return 0 }
    let x = Matrix(rows: 2, columns: model.dimension,
                   elements: (0..<(2 * model.dimension)).map { Double($0 % 5) - 2 })
    _ = try? oracle.evaluate(x, alpha: 0.8, sigma: 0.6)
    return 0
}
