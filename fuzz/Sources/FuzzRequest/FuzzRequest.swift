import Foundation
import Tweedie

/// Any bytes as a sampling request's JSON (the C ABI's `tweedie_sample` and Python read it). A
/// request that decodes must decode again from its own JSON form to the same JSON (NaN ≠ NaN rules
/// out ==); when it is valid and small, it is prepared and run on ring8 for a few samples.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    guard let request = try? SampleRequest(json: Data(bytes: bytes, count: count)) else { return 0 }
    guard let again = try? SampleRequest(json: request.json()), again.json() == request.json() else {
        fatalError("a request did not survive its own JSON form: \(String(decoding: request.json(), as: UTF8.self))")
    }
    guard (try? request.validate()) != nil, request.count <= 8, (request.steps ?? 2) <= 8,
          request.network == nil else { return 0 }
    var small = request
    if small.sampler.kind.isAdaptive { return 0 }  // adaptive steps: no bound on the work
    small.batchSize = small.batchSize.map { min($0, 8) }
    _ = try? small.prepare(model: BuiltinModels.ring8()).run()
    return 0
}
