import Foundation
import InterlockGit

/// One YAML file as `YAMLDocument.parse` read it: the tree (nil when it could not be parsed) and the
/// problems parsing reported. Reusable for the same path and blob id.
struct ParsedDocument: Sendable {
    var node: YAMLNode?
    var diagnostics: [Diagnostic]

    init(_ data: Data, file: String) {
        var diagnostics = Diagnostics()
        node = YAMLDocument.parse(data, file: file, diagnostics: &diagnostics)
        self.diagnostics = diagnostics.all
    }

    /// Whether `RepositoryReader` may parse the file at `path` (so it is worth parsing ahead).
    static func isRead(_ path: String) -> Bool {
        guard path.hasSuffix(".yaml") else { return false }
        if path == RepositoryConfig.fileName { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        switch parts[0] {
        case "components", "flows": return parts.count == 2
        case "sites":
            return (parts.count == 3 && parts[2] == "site.yaml")
                || (parts.count == 5 && parts[2] == "overrides" && (parts[3] == "components" || parts[3] == "flows"))
        default: return false
        }
    }

    /// Parses files on all cores; the result has one document per input, in order.
    static func parseAll(_ files: [(path: String, file: Snapshot.File)]) -> [ParsedDocument] {
        guard !files.isEmpty else { return [] }
        let results = ResultSlots(count: files.count)
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, files.count)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: files.count, by: workers) {
                results.store(ParsedDocument(files[index].file.content, file: files[index].path), at: index)
            }
        }
        return results.values
    }
}

/// Slots written by concurrent workers, each slot by exactly one worker, read after all have finished.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [ParsedDocument?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func store(_ document: ParsedDocument, at index: Int) {
        lock.lock()
        slots[index] = document
        lock.unlock()
    }

    var values: [ParsedDocument] { slots.map { $0! } }
}
