import Foundation

/// Scratch memory an oracle keeps from one call to the next.
///
/// A call's tiles, running sums and kernel buffers come to megabytes. Taken from `malloc` and
/// freed on every call, that memory goes back to the system and is faulted in again, zeroed page
/// by page, which at D = 64 cost as much as the arithmetic. Blocks given back here are kept (up
/// to ``retainedBytes``) and handed out again. A block's contents on ``take(_:)`` are unspecified.
final class Workspace: @unchecked Sendable {
    /// At most this much memory is kept between calls; blocks beyond it are freed.
    static let retainedBytes = 128 << 20

    private var kept: [(pointer: UnsafeMutablePointer<Double>, capacity: Int)] = []
    private var lent: [UnsafeMutablePointer<Double>: Int] = [:]
    private var keptBytes = 0
    private let lock = NSLock()

    init() {}

    /// A block of at least `count` doubles: the smallest kept block that fits, or a new one.
    func take(_ count: Int) -> UnsafeMutablePointer<Double> {
        let count = max(count, 1)
        lock.lock()
        defer { lock.unlock() }
        var best: Int?
        for (i, block) in kept.enumerated() where block.capacity >= count {
            if best == nil || block.capacity < kept[best!].capacity { best = i }
        }
        let pointer: UnsafeMutablePointer<Double>, capacity: Int
        if let best {
            (pointer, capacity) = kept.remove(at: best)
            keptBytes -= capacity * MemoryLayout<Double>.stride
        } else {
            (pointer, capacity) = (UnsafeMutablePointer<Double>.allocate(capacity: count), count)
        }
        lent[pointer] = capacity
        return pointer
    }

    /// Gives back a block from ``take(_:)``.
    func give(_ pointer: UnsafeMutablePointer<Double>) {
        lock.lock()
        defer { lock.unlock() }
        guard let capacity = lent.removeValue(forKey: pointer) else { return }
        let bytes = capacity * MemoryLayout<Double>.stride
        if keptBytes + bytes <= Self.retainedBytes {
            kept.append((pointer, capacity))
            keptBytes += bytes
        } else {
            pointer.deallocate()
        }
    }

    deinit {
        for block in kept { block.pointer.deallocate() }
        for pointer in lent.keys { pointer.deallocate() }
    }
}
