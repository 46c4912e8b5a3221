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

    ///
    /// With `parallel` false the pieces run in order on the calling thread: for work too small to
    /// pay for a thread hand-off. The results are the same either way.
    public static func forEach(_ count: Int, parallel: Bool = true, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        BLAS.pinSingleThreaded()
        let threads = parallel ? Swift.min(maximumThreads, count) : 1
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

extension Parallel {
    /// Runs `body` on consecutive ranges of `0..<count`, each `size` long (the last shorter), on
    /// all cores. A range's work does not depend on how the ranges are scheduled.
    public static func forEachChunk(of count: Int, size: Int, _ body: (Range<Int>) -> Void) {
        precondition(size >= 1, "chunks need a positive size")
        forEach(count / size + (count % size == 0 ? 0 : 1)) { c in
            body((c * size)..<min(count, c * size + size))
        }
    }

    /// An array of `count` values made chunk by chunk on all cores: `body` returns the values of
    /// the indices in its range, in order.
    public static func array<T>(count: Int, chunk size: Int, _ body: (Range<Int>) -> [T]) -> [T] {
        var chunks = [[T]](repeating: [], count: count / size + (count % size == 0 ? 0 : 1))
        chunks.withUnsafeMutableBufferPointer { buffer in
            let out = UncheckedSendable(buffer.baseAddress!)
            forEachChunk(of: count, size: size) { range in out.value[range.lowerBound / size] = body(range) }
        }
        return chunks.flatMap { $0 }
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
