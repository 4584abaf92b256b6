import Foundation

/// One plant: its time zone, how its live state is reached, when and by whom changes may be applied,
/// its values, and the components and flows it runs. Read from `sites/<name>/site.yaml`.
public struct Site: Sendable, Hashable {
    public var name: String
    public var displayName: String
    public var description: String?
    /// IANA time-zone identifier; windows and freezes are in this zone.
    public var timezone: String
    public var target: Target
    /// Who reaches the target: the server itself, or the plant's agent (`via: agent`), in which case the server never
    /// touches it and plans from the live state the agent reports.
    public var reach: Reach = .server
    public var windows: [MaintenanceWindow]
    /// The executor does not start a change with less than this left in the window (default 15m).
    public var minimumWindowRemaining: TimeSpan
    public var freezes: [Freeze]
    public var approval: ApprovalPolicy
    /// Gate rules, first match wins; `GateRule.fallback` applies when none matches.
    public var policy: [GateRule]
    /// Site values for interpolation (`${values.…}`); always an object.
    public var values: Value
    public var components: [String]
    public var flows: [String]
    /// `sites/<name>/site.yaml`.
    public var file: String

    public var timeZone: TimeZone? { TimeZone(identifier: timezone) }

    /// Where a flow is deployed in a `files` target, relative to its root.
    public static func flowFile(_ flow: String) -> String { "flows/\(flow).json" }

    /// The gate for a resource path under this site's policy.
    public func gate(forResourcePath path: String) -> Gate {
        policy.first { $0.glob.matches(path) }?.gate ?? GateRule.fallback
    }
}

/// Who reaches a site's target.
public enum Reach: String, Sendable, Hashable {
    /// `interlock serve` (or the command) reads and writes the target itself.
    case server
    /// The plant's agent does, inside the plant; the server never opens a connection into the plant.
    case agent
}

/// How Interlock reaches a site's live state.
public enum Target: Sendable, Hashable {
    /// A directory tree the site's software reads its configuration from. A relative root is resolved
    /// against the target base directory at run time.
    case files(root: String)
    /// An external program speaking JSON over stdin/stdout.
    case command(CommandSpec)

    public var driverName: String {
        switch self {
        case .files: "files"
        case .command: "command"
        }
    }
}

/// A command line with an optional timeout and environment.
public struct CommandSpec: Sendable, Hashable {
    public var arguments: [String]
    public var timeout: TimeSpan?
    public var environment: [String: String]

    public init(arguments: [String], timeout: TimeSpan? = nil, environment: [String: String] = [:]) {
        self.arguments = arguments
        self.timeout = timeout
        self.environment = environment
    }

    var value: Value {
        var object: [String: Value] = ["command": .array(arguments.map(Value.string))]
        if let timeout { object["timeout"] = .string(timeout.description) }
        if !environment.isEmpty { object["env"] = .object(environment.mapValues(Value.string)) }
        return .object(object)
    }
}

extension Site {
    public static let defaultMinimumWindowRemaining = TimeSpan(seconds: 15 * 60)

    /// What the policy rules matching any of `paths` require together (each path gets its first matching rule): an
    /// approval when any asks for one, a window when any asks for one.
    public func gate(forResourcePaths paths: [String]) -> Gate {
        guard let first = paths.first else { return GateRule.fallback }
        return paths.dropFirst().reduce(gate(forResourcePath: first)) { $0.combined(with: gate(forResourcePath: $1)) }
    }
}

/// A recurring period in plant-local time when changes may be applied.
public struct MaintenanceWindow: Sendable, Hashable {
    public var name: String
    public var start: CronExpression
    public var duration: TimeSpan
}

/// A period in plant-local time in which no change starts, even an approved one.
public struct Freeze: Sendable, Hashable {
    public var name: String
    public var from: LocalDateTime
    /// A date-only `to` includes that whole day.
    public var to: LocalDateTime
    public var reason: String?
}

/// Who must approve a change for this site.
public struct ApprovalPolicy: Sendable, Hashable {
    /// Number of distinct approvers required.
    public var required: Int
    /// User ids and `group:<name>` entries.
    public var approvers: [String]
    /// Whether the commit's author may approve their own change.
    public var allowAuthor: Bool

    public init(required: Int = 1, approvers: [String] = [], allowAuthor: Bool = false) {
        self.required = required
        self.approvers = approvers
        self.allowAuthor = allowAuthor
    }
}

/// What must hold before a change is applied.
public enum Gate: String, Sendable, Hashable, CaseIterable, Comparable {
    case auto
    case window
    case approval
    case approvalAndWindow = "approval+window"

    /// Stricter gates sort later. `window` and `approval` ask for different things: combine gates with
    /// ``combined(with:)``, not `max`.
    public static func < (lhs: Gate, rhs: Gate) -> Bool { lhs.strictness < rhs.strictness }

    public var needsApproval: Bool { self == .approval || self == .approvalAndWindow }
    public var needsWindow: Bool { self == .window || self == .approvalAndWindow }

    /// The gate that requires everything either gate requires (`window` and `approval` give `approval+window`).
    public func combined(with other: Gate) -> Gate {
        switch (needsApproval || other.needsApproval, needsWindow || other.needsWindow) {
        case (true, true): .approvalAndWindow
        case (true, false): .approval
        case (false, true): .window
        case (false, false): .auto
        }
    }
    private var strictness: Int {
        switch self {
        case .auto: 0
        case .window: 1
        case .approval: 2
        case .approvalAndWindow: 3
        }
    }
}

/// `match` a resource path, apply `gate`.
public struct GateRule: Sendable, Hashable {
    public static let fallback = Gate.approvalAndWindow
    public var match: String
    public var gate: Gate
    public var glob: Glob { Glob(match) }
}
