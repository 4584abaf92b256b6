import Foundation
import InterlockModel

/// One step of a plan: create, update or delete one resource, with what is there before and what will be after.
public struct Operation: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
        case create
        case update
        case delete

        /// `+`, `~`, `-`.
        public var symbol: String {
            switch self {
            case .create: "+"
            case .update: "~"
            case .delete: "-"
            }
        }
    }

    public var action: Action
    public var kind: Resource.Kind
    /// The resource path (`files/<p>`, `flows/<name>`, `components/<name>`).
    public var path: String
    /// What the policy matches this operation against (a file follows its component).
    public var policyPath: String
    /// Live content hash before (nil for create).
    public var beforeHash: String?
    /// Desired content hash after (nil for delete).
    public var afterHash: String?
    public var beforeMode: UInt32?
    public var afterMode: UInt32?
    /// Desired bytes to write (nil for delete).
    public var content: Data?
    /// For flows: the live content the operation replaces or removes, so the flow can be drawn before and after.
    public var previousContent: Data?
    /// Human-readable detail: semantic changes for structured resources, a unified diff for text files.
    public var changes: [String]
    /// The operation overwrites a resource Interlock did not write (an existing file at that path).
    public var adoptsUnmanaged: Bool
    /// The operation undoes drift (a change made outside Interlock).
    public var revertsDrift: Bool
    /// The repository files the desired resource is compiled from (empty for a delete).
    public var sources: [String] = []
    /// Component, owner, description and what it affects, from the desired state when planned (nil when unknown).
    public var about: OperationAbout?
    /// A component update that changes only what describes it (`description`, `owner`, `affects`): nothing that
    /// runs at the plant changes, so its reload and health commands are not run for it.
    public var describesOnly: Bool = false
    /// The newest commit the change carries that touched one of `sources` (for a delete: the resource's own
    /// definition or the site), when the history is readable.
    public var introducedBy: String?

    public init(
        action: Action, kind: Resource.Kind, path: String, policyPath: String, beforeHash: String?, afterHash: String?,
        beforeMode: UInt32? = nil, afterMode: UInt32? = nil, content: Data?, changes: [String] = [],
        adoptsUnmanaged: Bool = false, revertsDrift: Bool = false, previousContent: Data? = nil
    ) {
        self.previousContent = previousContent
        self.action = action
        self.kind = kind
        self.path = path
        self.policyPath = policyPath
        self.beforeHash = beforeHash
        self.afterHash = afterHash
        self.beforeMode = beforeMode
        self.afterMode = afterMode
        self.content = content
        self.changes = changes
        self.adoptsUnmanaged = adoptsUnmanaged
        self.revertsDrift = revertsDrift
    }

    /// The part of the operation that identifies it (what the plan id covers).
    var identity: Value {
        .object([
            "action": .string(action.rawValue), "path": .string(path),
            "before": beforeHash.map(Value.string) ?? .null, "after": afterHash.map(Value.string) ?? .null,
            "beforeMode": beforeMode.map { .int(Int($0)) } ?? .null, "afterMode": afterMode.map { .int(Int($0)) } ?? .null,
        ])
    }
}
