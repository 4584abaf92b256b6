import Foundation

/// Bytes read from one pipe on a background thread, bounded: keeps the first or the last `limit` bytes.
final class OutputCollector: @unchecked Sendable {
    enum Keep { case head, tail }

    private let lock = NSLock()
    private let limit: Int
    private let keep: Keep
    private var data = Data()
    private var dropped = false

    init(limit: Int, keep: Keep) {
        self.limit = limit
        self.keep = keep
    }

    func append(_ bytes: ArraySlice<UInt8>) {
        lock.lock()
        defer { lock.unlock() }
        switch keep {
        case .head:
            let room = max(0, limit - data.count)
            if bytes.count > room { dropped = true }
            data.append(contentsOf: bytes.prefix(room))
        case .tail:
            data.append(contentsOf: bytes)
            if data.count > limit {
                data = Data(data.suffix(limit))
                dropped = true
            }
        }
    }

    /// What was kept, and whether anything was dropped.
    var contents: (data: Data, truncated: Bool) {
        lock.lock()
        defer { lock.unlock() }
        return (data, dropped)
    }
}
