import Foundation
import InterlockModel

/// The ordered operations that take one site from its live state to the desired state at one commit.
///
/// Its `id` is a hash of (site, commit, live fingerprint, operations), so an approval of a plan always
/// refers to exactly these changes against exactly this live state.
public struct Plan: Sendable, Hashable {
    public var site: String
    public var commit: String?
    /// Fingerprint of the live state the plan was computed against.
    public var liveFingerprint: String
    /// Fingerprint of the desired state (the compiled site).
    public var desiredFingerprint: String
    /// Dependencies first (components, their files, then flows); deletes last, in reverse order.
    public var operations: [Operation]
    /// Drift observed while planning, reported separately from desired changes.
    public var drift: [Drift]
    public let id: String

    public init(site: String, commit: String?, liveFingerprint: String, desiredFingerprint: String, operations: [Operation], drift: [Drift]) {
        self.site = site
        self.commit = commit
        self.liveFingerprint = liveFingerprint
        self.desiredFingerprint = desiredFingerprint
        self.operations = operations
        self.drift = drift
        self.id = Plan.id(site: site, commit: commit, liveFingerprint: liveFingerprint, operations: operations)
    }

    public var isEmpty: Bool { operations.isEmpty }

    public func count(_ action: Operation.Action) -> Int { operations.filter { $0.action == action }.count }

    /// `+2 ~3 -1`.
    public var summary: String { "+\(count(.create)) ~\(count(.update)) -\(count(.delete))" }

    /// `sha256:<hex>` over the canonical JSON of site, commit, live fingerprint and operation identities.
    public static func id(site: String, commit: String?, liveFingerprint: String, operations: [Operation]) -> String {
        let value = Value.object([
            "site": .string(site), "commit": commit.map(Value.string) ?? .null,
            "live": .string(liveFingerprint), "operations": .array(operations.map(\.identity)),
        ])
        return Resource.hash(Data(value.canonicalJSONBytes))
    }

    /// The short form shown to people: the first 12 hex digits.
    public var shortID: String { String(id.dropFirst("sha256:".count).prefix(12)) }
}
