import Foundation
import Tweedie

/// Any text as a schedule name (`edm:sigma_max=160,rho=5`); a schedule that parses is evaluated
/// across its range and asked for a sampling grid, all without a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSchedule(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    guard let schedule = try? Schedule.named(text) else { return 0 }
    let range = schedule.timeRange
    for i in 0...8 {
        let t = range.lowerBound + Double(i) / 8 * (range.upperBound - range.lowerBound)
        if let c = try? schedule.coefficients(at: t) {
            _ = try? schedule.time(logSNR: log(c.alpha / c.sigma))
        }
    }
    _ = try? SamplingPath.make(.karras, schedule: schedule, steps: 10)
    _ = try? SamplingPath.make(.logSNR, schedule: schedule, steps: 10)
    return 0
}
