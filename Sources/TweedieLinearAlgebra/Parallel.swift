import Dispatch
import Foundation

/// Runs independent pieces of work on all cores (OpenBLAS itself runs on one thread per call;
/// see ``BLAS/threadCount``).
///
/// Each piece must write only its own output; which thread runs a piece never changes its
/// result, so work partitioned here gives the same bits whatever the thread count.
public enum Parallel {
    /// Threads used by ``forEach(_:_:)``; defaults to the number of active processors.
    nonisolated(unsafe) public static var maximumThreads = ProcessInfo.processInfo.activeProcessorCount

    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        BLAS.pinSingleThreaded()
        let threads = Swift.min(maximumThreads, count)
        if threads <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let work = UncheckedSendable(body)
            let next = AtomicCounter()
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while true {
                    let i = next.increment()
                    if i >= count { break }
                    work.value(i)
                }
            }
        }
    }
}

/// Wraps a value (a raw pointer, a closure) that is safe to share because the code using it
/// partitions the memory it touches.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func increment() -> Int {
        lock.lock(); defer { lock.unlock() }
        let v = value
        value += 1
        return v
    }
}
