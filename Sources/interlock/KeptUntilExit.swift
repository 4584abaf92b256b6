import Foundation

/// Values a one-shot command keeps until the process exits instead of freeing them when it returns.
///
/// A loaded desired state with its compiled sites and observed live state is hundreds of megabytes of small
/// objects: releasing them one by one took a third of a second at the end of `plan --all` over 100 sites, for memory
/// the operating system takes back at exit anyway (compilers skip the same work, e.g. clang's `-disable-free`).
/// Only for commands that end the process; `serve` and `run` replace their state every pass and free the old one.
enum KeptUntilExit {
    private static let values = Values()

    static func keep(_ value: Any) { values.append(value) }
}

private final class Values: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [Any] = []

    func append(_ value: Any) { lock.withLock { kept.append(value) } }
}
