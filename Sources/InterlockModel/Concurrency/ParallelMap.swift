import Foundation

/// Maps a collection on all cores. Workers take the next unclaimed element, so uneven items (a big site next
/// to small ones) still keep every core busy; results come back in the input's order. Work that waits (on files,
/// processes or the network) can run more workers than cores (`workersPerCore`).
public enum ParallelMap {
    public static func map<Element: Sendable, Result: Sendable>(
        _ elements: [Element], workersPerCore: Int = 1, _ transform: @Sendable (Element) -> Result
    ) -> [Result] {
        let workers = min(ProcessInfo.processInfo.activeProcessorCount * max(1, workersPerCore), elements.count)
        guard workers > 1 else { return elements.map(transform) }
        let slots = Slots<Result>(count: elements.count)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let index = slots.claim() {
                slots.store(transform(elements[index]), at: index)
            }
        }
        return slots.values
    }

    /// Transforms a collection on all cores like `map`, handing each result to `deliver` in the input's order as
    /// soon as it and every result before it are ready, so results need not all be held at once (a fleet's plans
    /// are printed as they come). `deliver` runs on one thread at a time, on whichever worker finished the result
    /// that was awaited.
    public static func forEach<Element: Sendable, Result: Sendable>(
        _ elements: [Element], workersPerCore: Int = 1, _ transform: @Sendable (Element) -> Result, deliver: (Result) -> Void
    ) {
        let workers = min(ProcessInfo.processInfo.activeProcessorCount * max(1, workersPerCore), elements.count)
        guard workers > 1 else {
            for element in elements { deliver(transform(element)) }
            return
        }
        let queue = InOrder<Result>(count: elements.count, window: 2 * workers)
        withoutActuallyEscaping(deliver) { deliver in
            let box = UncheckedBox(deliver)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while let index = queue.claim() {
                    queue.finish(transform(elements[index]), at: index, deliver: box.value)
                }
            }
        }
    }
}

/// A value handed to worker threads whose use the owner serialises itself.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Results finished out of order, handed on in order: the worker that finishes the awaited result delivers it and
/// every later one already waiting, while the others go on working. At most `window` results are claimed ahead of
/// the next one to deliver, so when delivering is slower than working (a store that syncs every write) the workers
/// wait instead of piling up results.
private final class InOrder<Result>: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private let window: Int
    private var next = 0
    private var waiting: [Int: Result] = [:]
    private var nextToDeliver = 0
    private var delivering = false

    init(count: Int, window: Int) {
        self.count = count
        self.window = max(1, window)
    }

    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        // The result awaited next is always being worked on by a worker that is not waiting here, so this ends.
        while next < count, next - nextToDeliver >= window { condition.wait() }
        guard next < count else { return nil }
        defer { next += 1 }
        return next
    }

    func finish(_ result: Result, at index: Int, deliver: (Result) -> Void) {
        condition.lock()
        waiting[index] = result
        guard !delivering else {
            condition.unlock()
            return
        }
        delivering = true
        while let ready = waiting.removeValue(forKey: nextToDeliver) {
            condition.unlock()
            deliver(ready)
            condition.lock()
            nextToDeliver += 1
            condition.broadcast()
        }
        delivering = false
        condition.unlock()
    }
}

/// Result slots shared by the workers: each index is claimed by exactly one worker and read after all finished.
private final class Slots<Result>: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var results: [Result?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func claim() -> Int? {
        lock.withLock {
            guard next < results.count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func store(_ result: Result, at index: Int) {
        lock.withLock { results[index] = result }
    }

    var values: [Result] { results.map { $0! } }
}
