import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore
import InterlockTestSupport

/// The Examples repository, temporary site roots, a real SQLite state database and a test clock.
final class QueueFixture {
    let engine: EngineFixture
    let store: any StateStore
    /// Where the store is: the state directory's SQLite file, or a new database on the test PostgreSQL cluster.
    let storeURL: DatabaseURL
    let leaseDuration: TimeInterval
    let clock: TestClock
    let users: [InstanceConfiguration.User] = [
        .init(id: "mgr-plant-a", name: "Anna Berger", email: "anna.berger@example.com", title: "plant manager", roles: [.approver], sites: ["plant-a"], groups: ["plant-a-managers"]),
        .init(id: "deputy-plant-a", name: "Jonas Keller", email: "jonas.keller@example.com", title: "deputy plant manager", roles: [.approver], sites: ["plant-a"], groups: ["plant-a-managers"]),
        .init(id: "mgr-plant-b", name: "Maria Lopez", email: "maria.lopez@example.com", title: "plant manager", roles: [.approver], sites: ["plant-b"], groups: ["plant-b-managers"]),
        .init(id: "ot-lead-plant-b", name: "Darnell Hayes", title: "OT lead", roles: [.approver], sites: ["plant-b"]),
        .init(id: "flow-engineer", name: "Flow Manager", email: "flows@example.com", title: "integration engineer", roles: [.approver], sites: ["*"], groups: ["plant-a-managers"]),
    ]
    static let author = Person(id: "flows@example.com", name: "Flow Manager", email: "flows@example.com")

    /// Plant A's windows: Sat 22:00 (6h) and Mon–Fri 05:30 (45m), Europe/Berlin.
    static let insideWeekendWindow = "2026-11-28T23:00:00+01:00"
    static let outsideWindows = "2026-11-25T12:00:00+01:00"

    init(at instant: String = QueueFixture.outsideWindows, store kind: StoreKind = .sqlite, leaseDuration: TimeInterval = SQLiteStore.defaultLeaseDuration) throws {
        engine = try EngineFixture()
        clock = try TestClock(iso8601: instant)
        switch kind {
        case .sqlite:
            try FileManager.default.createDirectory(atPath: engine.base + "/state", withIntermediateDirectories: true)
            storeURL = .sqlite(path: engine.base + "/state/" + SQLiteStore.fileName)
        case .postgres:
            storeURL = try DatabaseURL.parse(try PostgresCluster.shared.freshDatabaseURL())
        }
        self.leaseDuration = leaseDuration
        store = try AuditStores.open(storeURL, clock: SameClock(clock: clock), leaseDuration: leaseDuration)
        // Hooks that exist on any machine; tests that need a failing one change them.
        try engine.edit("components/mqtt-broker.yaml", replacing: "command: [systemctl, reload, mosquitto]", with: "command: [\"true\"]")
        try engine.edit("components/mqtt-broker.yaml", replacing: "    - mosquitto_sub\n    - -L\n    - \"mqtt://localhost:${config.port}/$SYS/broker/uptime\"\n    - -C\n    - \"1\"\n    - -W\n    - \"5\"", with: "    - sh\n    - -c\n    - \"test -s \\\"$INTERLOCK_TARGET_ROOT/mosquitto/mosquitto.conf\\\"\"")
    }

    /// Another store on the same database (another process, or another replica).
    func anotherStore() throws -> any StateStore { try AuditStores.open(storeURL, clock: SameClock(clock: clock), leaseDuration: leaseDuration) }

    var reconciler: Reconciler { Reconciler(planning: engine.planning, store: store, clock: clock) }
    var executor: Executor { Executor(planning: engine.planning, store: store, clock: clock) }

    @discardableResult
    func reconcile() throws -> [Reconciler.SiteReport] {
        try reconciler.reconcile(engine.state, commit: .init(author: QueueFixture.author, summary: "test commit"))
    }

    func active(_ site: String) throws -> ChangeRequest? {
        try store.changes(sites: [site], statuses: ChangeStatus.active, limit: nil).first
    }

    func approve(_ change: ChangeRequest, as userID: String, reason: String = "reviewed") throws -> ChangeRequest {
        let site = engine.site(change.site)
        let user = try ApprovalRules.authorize(userID: userID, users: users, rules: try GateRules.resolve(site, store: store), change: change, approving: true)
        let approval = Approval(approver: Person(id: user.id, name: user.name, email: user.email), role: user.title,
                                meaning: ApprovalRules.meaning(of: user, site: site, approving: true), reason: reason, planID: change.plan.id, at: clock.now())
        let event = AuditEvent(actor: approval.approver, role: user.title, authentication: "test", category: .approval, action: "change.approved",
                               site: site.name, changeID: change.id, planID: change.plan.id, reason: reason)
        return try store.approve(changeID: change.id, approval: approval, events: [event])
    }

    func actions() throws -> [String] { try store.records(matching: .all).map(\.action) }

    /// Deploys plant-a directly (every vendor's hooks would need the vendor software), then changes only
    /// the broker, whose hooks work on any machine, and reconciles: plant-a then has one broker change.
    func prepareBrokerChange() throws {
        try engine.deploy("plant-a")
        try engine.edit("components/mqtt-broker.yaml", replacing: "max_connections: 1000", with: "max_connections: 1200")
        try reconcile()
    }
}

/// The store stamps records with the same test clock the gates read, as both read the system clock in service.
struct SameClock: AuditClock {
    let clock: TestClock
    func now() -> Date { clock.now() }
}
