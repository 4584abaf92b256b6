import Foundation
import InterlockModel

/// The live state of a site reached through its agent, as the agent last reported it: what the server plans against
/// instead of observing the target itself (it never opens a connection into the plant).
public struct AgentObservation: Sendable, Hashable {
    public var site: String
    public var live: LiveState
    /// ``desiredVersion(of:)`` of the resources the agent observed against (which paths it looked at).
    public var desiredVersion: String
    /// When the server received the report.
    public var reportedAt: Date
    /// The agent certificate's serial that reported it.
    public var agent: String

    public init(site: String, live: LiveState, desiredVersion: String, reportedAt: Date, agent: String) {
        self.site = site
        self.live = live
        self.desiredVersion = desiredVersion
        self.reportedAt = reportedAt
        self.agent = agent
    }

    /// A hash over the desired resources' paths and content hashes: an agent's report counts only for the desired
    /// state it was made against (a new path must have been looked at before the server plans it).
    public static func desiredVersion(of resources: [Resource]) -> String {
        var text = ""
        for resource in resources.sorted(by: { $0.path < $1.path }) { text += "\(resource.path)\u{0}\(resource.contentHash)\n" }
        return Resource.hash(Data(text.utf8))
    }
}

/// Where the agents' reports are kept (the state database).
public protocol AgentObservationSource: Sendable {
    func observation(site: String) throws -> AgentObservation?
}

/// The driver of a site reached through its agent, on the server: it refuses everything, so that no code path of the
/// server can observe or write the plant's target by mistake.
struct AgentReachedDriver: SiteDriver {
    let site: String

    func refusal() -> DriverError {
        DriverError(.refused, site: site, "\(site) is reached through its agent: the server never reads or writes its target",
                    hint: "the plant's agent observes and applies it (docs/agent.md)")
    }

    func observe(desired: [Resource]) throws -> LiveState { throw refusal() }
    func apply(_ plan: Plan) throws -> ApplyReceipt { throw refusal() }
    func rollback(_ receipt: ApplyReceipt) throws { throw refusal() }
    func recoverInterruptedApply() throws -> String? { throw refusal() }
    func finishApply(planID: String) throws { throw refusal() }
    func rollBackInterruptedApply(planID: String) throws -> Bool { throw refusal() }
}

/// A site's live state as an agent sends it and the state database keeps it (JSON): hashes for every resource, content
/// only where the server needs it for a readable diff (where it differs from the desired content), and the drift the
/// agent's driver found. With `resources` left out it says "unchanged since my last report with this fingerprint".
public struct LiveReport: Codable, Sendable, Hashable {
    public struct Item: Codable, Sendable, Hashable {
        public var path: String
        public var hash: String
        public var mode: UInt32?
        public var managed: Bool
        /// Base64 of the content, when sent.
        public var content: String?
    }

    public struct DriftItem: Codable, Sendable, Hashable {
        public var path: String
        public var kind: String
        public var expectedHash: String
        public var actualHash: String?
        public var appliedByPlan: String?
        public var appliedCommit: String?
    }

    public var desiredVersion: String
    /// ``LiveState/fingerprint`` of what was observed.
    public var fingerprint: String
    public var resources: [Item]?
    public var drift: [DriftItem]?

    /// The largest content sent for one resource; larger ones are reported by hash only.
    public static let maximumContent = 1 << 20

    public init(desiredVersion: String, fingerprint: String, resources: [Item]?, drift: [DriftItem]?) {
        self.desiredVersion = desiredVersion
        self.fingerprint = fingerprint
        self.resources = resources
        self.drift = drift
    }

    /// The report of `live`, with content for the resources `desiredHashes` names with another hash (or not at all).
    public init(live: LiveState, desiredVersion: String, desiredHashes: [String: String], complete: Bool = true) {
        self.desiredVersion = desiredVersion
        fingerprint = live.fingerprint
        guard complete else { return }
        resources = live.resources.keys.sorted().map { path in
            let resource = live.resources[path]!
            let sendContent = desiredHashes[path] != resource.contentHash && (resource.content?.count ?? Int.max) <= Self.maximumContent
            return Item(path: path, hash: resource.contentHash, mode: resource.mode, managed: resource.managed,
                        content: sendContent ? resource.content?.base64EncodedString() : nil)
        }
        drift = live.drift.map {
            DriftItem(path: $0.path, kind: $0.kind.rawValue, expectedHash: $0.expectedHash, actualHash: $0.actualHash,
                      appliedByPlan: $0.appliedByPlan, appliedCommit: $0.appliedCommit)
        }
    }

    /// What went wrong with a report, for the agent's log.
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    /// The live state it describes; refused when it is incomplete, malformed, or does not add up to its fingerprint.
    public func liveState() throws -> LiveState {
        guard let resources else { throw Invalid(message: "the report lists no resources") }
        guard resources.count <= 100_000 else { throw Invalid(message: "the report lists more than 100,000 resources") }
        var live: [String: LiveResource] = [:]
        for item in resources {
            guard !item.path.isEmpty, item.path.utf8.count <= 4096, live[item.path] == nil else {
                throw Invalid(message: "the report names the resource '\(item.path.prefix(100))' twice, or with an empty or overlong path")
            }
            guard item.hash.hasPrefix("sha256:"), item.hash.utf8.count == 71 else { throw Invalid(message: "\(item.path): '\(item.hash.prefix(80))' is not a sha256: hash") }
            var content: Data?
            if let text = item.content {
                guard let data = Data(base64Encoded: text), Resource.hash(data) == item.hash else {
                    throw Invalid(message: "\(item.path): the content sent is not base64 of bytes with the hash reported")
                }
                content = data
            }
            live[item.path] = LiveResource(path: item.path, content: content, contentHash: item.hash, mode: item.mode, managed: item.managed)
        }
        var drifts: [Drift] = []
        for item in drift ?? [] {
            guard let kind = Drift.Kind(rawValue: item.kind) else { throw Invalid(message: "\(item.path): '\(item.kind.prefix(40))' is not a kind of drift") }
            drifts.append(Drift(path: item.path, kind: kind, expectedHash: item.expectedHash, actualHash: item.actualHash,
                                appliedByPlan: item.appliedByPlan, appliedCommit: item.appliedCommit))
        }
        let state = LiveState(resources: live, drift: drifts)
        guard state.fingerprint == fingerprint else { throw Invalid(message: "the resources reported do not add up to the fingerprint reported") }
        return state
    }
}
