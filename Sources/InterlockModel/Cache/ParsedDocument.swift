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
        ParallelMap.map(files.map { ($0.path, $0.file.content) }) { ParsedDocument($0.1, file: $0.0) }
    }
}
