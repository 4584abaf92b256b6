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
