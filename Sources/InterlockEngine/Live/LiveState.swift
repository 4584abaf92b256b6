import Foundation
import InterlockModel

/// One resource as a driver observed it at the site.
public struct LiveResource: Sendable, Hashable {
    /// The resource path (`files/<p>`, `flows/<name>`, `components/<name>`), as in `Resource.path`.
    public var path: String
    /// The observed bytes, when the driver can read them (needed for semantic diffs).
    public var content: Data?
    /// `sha256:<hex>` of the observed bytes.
    public var contentHash: String
    /// Unix permission bits, when the target has them.
    public var mode: UInt32?
    /// Whether Interlock put it there (false: an existing file at a path Interlock wants to write).
    public var managed: Bool

    public init(path: String, content: Data?, contentHash: String? = nil, mode: UInt32? = nil, managed: Bool = true) {
        self.path = path
        self.content = content
        self.contentHash = contentHash ?? content.map(Resource.hash) ?? "sha256:unknown"
        self.mode = mode
        self.managed = managed
    }
}

/// A managed resource that changed outside Interlock since Interlock last applied it.
public struct Drift: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The content differs from what Interlock wrote.
        case modified
        /// The resource is gone.
        case vanished
        /// The permissions differ from what Interlock set.
        case modeChanged = "mode-changed"
    }

    public var path: String
    public var kind: Kind
    /// What Interlock last applied (content hash).
    public var expectedHash: String
    /// What is there now (nil when vanished).
    public var actualHash: String?
    /// The plan and commit that last applied it.
    public var appliedByPlan: String?
    public var appliedCommit: String?

    public init(path: String, kind: Kind, expectedHash: String, actualHash: String?, appliedByPlan: String?, appliedCommit: String?) {
        self.path = path
        self.kind = kind
        self.expectedHash = expectedHash
        self.actualHash = actualHash
        self.appliedByPlan = appliedByPlan
        self.appliedCommit = appliedCommit
    }

    /// "files/x changed outside Interlock since plan 1a2b3c4d was applied".
    public var summary: String {
        let verb = switch kind {
        case .modified: "changed"
        case .vanished: "was removed"
        case .modeChanged: "had its permissions changed"
        }
        let since = appliedByPlan.map { " since plan \($0.replacingOccurrences(of: "sha256:", with: "").prefix(12)) was applied" } ?? ""
        return "\(path) \(verb) outside Interlock\(since)"
    }
}

/// Everything a driver observed at one site: the live resources and the drift among them.
public struct LiveState: Sendable, Hashable {
    /// Keyed by resource path.
    public var resources: [String: LiveResource]
    public var drift: [Drift]

    public init(resources: [String: LiveResource], drift: [Drift] = []) {
        self.resources = resources
        self.drift = drift.sorted { $0.path < $1.path }
    }

    public static let empty = LiveState(resources: [:])

    /// A hash over every observed resource (path, managed flag, mode, content hash): any change at the
    /// site changes it, so a plan computed against it is recognisably stale.
    public var fingerprint: String {
        var text = ""
        for path in resources.keys.sorted() {
            let r = resources[path]!
            text += "\(path)\u{0}\(r.managed ? "m" : "u")\u{0}\(r.mode.map { String($0, radix: 8) } ?? "-")\u{0}\(r.contentHash)\n"
        }
        return Resource.hash(Data(text.utf8))
    }
}
