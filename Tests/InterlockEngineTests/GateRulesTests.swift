import Foundation
import InterlockEngine
import InterlockModel
import Testing

/// The rules a change waits for are the stricter of the site's trusted rules (as last applied) and its commit's,
/// field by field; the commit's changes to them are listed with old and new values.
@Suite struct GateRulesTests {
    static let trustedSite = """
        name: plant-a
        timezone: Europe/Berlin
        target: { driver: files, root: plant-a }
        windows:
          - { name: weekend, start: "0 22 * * SAT", duration: 6h }
        minimumWindowRemaining: 15m
        freezes:
          - { name: year-end, from: 2026-12-19, to: 2027-01-06 }
        approval:
          required: 2
          approvers: [mgr-plant-a, deputy-plant-a]
          allowAuthor: false
        policy:
          - { match: "components/*-dashboard", gate: window }
          - { match: "*", gate: approval+window }
        components: []
        flows: []
        """

    static let trustedConfig = """
        apiVersion: interlock/v1
        rollout:
          waves:
            - { name: pilot, sites: [plant-b], bake: 24h }
            - { name: fleet, sites: [plant-a] }
        """

    func site(_ text: String) throws -> Site {
        try #require(RulesFiles(siteFile: Data(text.utf8), configFile: nil).read(site: "plant-a").site)
    }

    func rules(_ proposedText: String, config: String? = nil) throws -> GateRules {
        let baseline = SiteBaseline(
            site: "plant-a", changeID: "plant-a-1", commit: String(repeating: "a", count: 40),
            files: RulesFiles(siteFile: Data(Self.trustedSite.utf8), configFile: Data(Self.trustedConfig.utf8)), appliedAt: Date())
        let proposedConfig = config.flatMap { RulesFiles(siteFile: Data(proposedText.utf8), configFile: Data($0.utf8)).read(site: "plant-a").config }
        return GateRules.combine(proposed: try site(proposedText), proposedConfig: proposedConfig, baseline: baseline)
    }

    func edited(_ old: String, _ new: String) -> String {
        precondition(Self.trustedSite.contains(old), old)
        return Self.trustedSite.replacingOccurrences(of: old, with: new)
    }

    @Test func aPolicyOfAutoDoesNotLowerTheTrustedGate() throws {
        let r = try rules(edited("gate: approval+window", "gate: auto").replacingOccurrences(of: "gate: window", with: "gate: auto"))
        #expect(r.gate(forResourcePaths: ["components/mqtt-broker"]) == .approvalAndWindow)
        #expect(r.gate(forResourcePaths: ["components/energy-dashboard"]) == .window)
        #expect(r.changes.map(\.field) == ["policy"])
    }

    @Test func aStricterPolicyIsTakenAtOnce() throws {
        let r = try rules(edited("{ match: \"components/*-dashboard\", gate: window }", "{ match: \"components/*-dashboard\", gate: approval }"))
        #expect(r.gate(forResourcePaths: ["components/energy-dashboard"]) == .approvalAndWindow, "the trusted window stays, the approval is added")
    }

    @Test func fewerRequiredApprovalsKeepTheTrustedNumberAndMoreAreTaken() throws {
        #expect(try rules(edited("required: 2", "required: 1")).site.approval.required == 2)
        #expect(try rules(edited("required: 2", "required: 3")).site.approval.required == 3)
    }

    @Test func aNewApproverCannotSignTheChangeThatListsThem() throws {
        let added = try rules(edited("approvers: [mgr-plant-a, deputy-plant-a]", "approvers: [mgr-plant-a, deputy-plant-a, mallory, group:everyone]"))
        #expect(added.site.approval.approvers == ["mgr-plant-a", "deputy-plant-a"])
        let replaced = try rules(edited("approvers: [mgr-plant-a, deputy-plant-a]", "approvers: [mallory]"))
        #expect(replaced.site.approval.approvers == ["mgr-plant-a", "deputy-plant-a"], "the trusted approvers sign the handover")
        let removed = try rules(edited("approvers: [mgr-plant-a, deputy-plant-a]", "approvers: [mgr-plant-a]"))
        #expect(removed.site.approval.approvers == ["mgr-plant-a"], "a removed approver no longer signs")
    }

    @Test func allowingAuthorsTakesEffectOnlyAfterTheChangeThatAllowsIt() throws {
        #expect(try rules(edited("allowAuthor: false", "allowAuthor: true")).site.approval.allowAuthor == false)
    }

    @Test func widerWindowsAndAnotherTimeZoneWaitForTheTrustedWindows() throws {
        let r = try rules(edited("start: \"0 22 * * SAT\", duration: 6h", "start: \"0 0 * * *\", duration: 24h").replacingOccurrences(of: "Europe/Berlin", with: "Pacific/Kiritimati"))
        #expect(r.site.windows.map(\.start.source) == ["0 22 * * SAT"])
        #expect(r.site.windows.map(\.duration.seconds) == [6 * 3600])
        #expect(r.site.timezone == "Europe/Berlin")
        #expect(Set(r.changes.map(\.field)) == ["windows", "timezone"])
        #expect(try rules(edited("minimumWindowRemaining: 15m", "minimumWindowRemaining: 0m")).site.minimumWindowRemaining.seconds == 15 * 60)
    }

    @Test func aRemovedFreezeStillHoldsAndANewOneHoldsToo() throws {
        let removed = try rules(edited("freezes:\n  - { name: year-end, from: 2026-12-19, to: 2027-01-06 }\n", "freezes: []\n"))
        #expect(removed.site.freezes.map(\.name) == ["year-end"])
        let added = try rules(edited("  - { name: year-end, from: 2026-12-19, to: 2027-01-06 }", "  - { name: year-end, from: 2026-12-19, to: 2027-01-06 }\n  - { name: audit, from: 2026-10-12, to: 2026-10-14 }"))
        #expect(added.site.freezes.map(\.name) == ["year-end", "audit"])
    }

    @Test func aRetargetIsListedAndNeedsAnApprovalEvenUnderAnAutoPolicy() throws {
        let autoTrusted = Self.trustedSite.replacingOccurrences(of: "gate: approval+window", with: "gate: auto").replacingOccurrences(of: "gate: window", with: "gate: auto")
        let baseline = SiteBaseline(site: "plant-a", changeID: "plant-a-1", commit: nil, files: RulesFiles(siteFile: Data(autoTrusted.utf8), configFile: nil), appliedAt: Date())
        let moved = try site(autoTrusted.replacingOccurrences(of: "root: plant-a", with: "root: /srv/elsewhere"))
        let r = GateRules.combine(proposed: moved, baseline: baseline)
        #expect(r.changes.contains { $0.kind == .target && $0.old == "files plant-a" && $0.new == "files /srv/elsewhere" })
        #expect(r.gate(forResourcePaths: ["components/mqtt-broker"]) == .approval)
        #expect(RuleChange.headline(r.changes)?.contains("target") == true)
    }

    @Test func movingTheSiteToAnEarlierWaveIsListed() throws {
        let r = try rules(Self.trustedSite, config: """
            apiVersion: interlock/v1
            rollout:
              waves:
                - { name: pilot, sites: [plant-a, plant-b] }
            """)
        #expect(r.changes.contains { $0.kind == .rollout && $0.old.hasPrefix("fleet") && $0.new.hasPrefix("pilot") })
    }

    @Test func withoutABaselineTheCommitsRulesApplyAndWithAnUnrecordedHistoryTheStrictestGate() throws {
        let proposed = try site(edited("gate: approval+window", "gate: auto").replacingOccurrences(of: "gate: window", with: "gate: auto"))
        let first = GateRules.combine(proposed: proposed, baseline: nil)
        #expect(first.firstDeployment)
        #expect(first.gate(forResourcePaths: ["components/mqtt-broker"]) == .auto)
        let unrecorded = GateRules.combine(proposed: proposed, baseline: nil, unrecordedHistory: true)
        #expect(!unrecorded.firstDeployment)
        #expect(unrecorded.gate(forResourcePaths: ["components/mqtt-broker"]) == .approvalAndWindow)
    }

    @Test func aTimeZoneChangeDoesNotLiftATrustedFreeze() throws {
        // No trusted windows; an approval-only policy. Moving the site to UTC+14 would end the year-end freeze
        // (date-only, to 2027-01-06 inclusive) eleven hours early.
        let trusted = Self.trustedSite.replacingOccurrences(of: "windows:\n  - { name: weekend, start: \"0 22 * * SAT\", duration: 6h }\n", with: "")
            .replacingOccurrences(of: "gate: approval+window", with: "gate: approval").replacingOccurrences(of: "gate: window", with: "gate: approval")
        let baseline = SiteBaseline(site: "plant-a", changeID: "plant-a-1", commit: nil, files: RulesFiles(siteFile: Data(trusted.utf8), configFile: nil), appliedAt: Date())
        let moved = try site(trusted.replacingOccurrences(of: "Europe/Berlin", with: "Pacific/Kiritimati"))
        let rules = GateRules.combine(proposed: moved, baseline: baseline)
        let plan = Plan(site: "plant-a", commit: nil, liveFingerprint: "sha256:0", desiredFingerprint: "sha256:1", operations: [], drift: [])
        let change = ChangeRequest(id: "plant-a-2", site: "plant-a", plan: plan, gate: .approval, status: .waiting, author: nil, commitSummary: nil,
                                   createdAt: Date(), updatedAt: Date())
        let berlinStillFrozen = try #require(ISO8601DateFormatter().date(from: "2027-01-06T12:00:00Z"))
        let status = GateEvaluator.evaluate(change, rules: rules, at: berlinStillFrozen)
        #expect(status.freeze.isFrozen, "the trusted freeze holds in the trusted zone")
        #expect(status.waitingFor.contains { $0.hasPrefix("freeze") })
        let without = GateEvaluator.evaluate(change, rules: GateRules.combine(proposed: moved, baseline: nil), at: berlinStillFrozen)
        #expect(!without.freeze.isFrozen, "the commit alone would have lifted it")
    }

    @Test func waveStatesCombineToTheStricter() {
        let passed = WaveState.passed(["ok"]), waiting = WaveState.waiting(["plant-b bakes"]), halted = WaveState.halted("failed")
        #expect(WaveState.stricter(passed, waiting) == waiting)
        #expect(WaveState.stricter(waiting, halted) == halted)
        #expect(WaveState.stricter(.notApplicable("first wave"), passed) == passed)
    }
}

/// The four-eyes comparison is not fooled by case, `+tag` or a missing e-mail.
@Suite struct FourEyesTests {
    let anna = InstanceConfiguration.User(id: "mgr-plant-a", name: "Anna Berger", email: "anna.berger@example.com", roles: [.approver], sites: ["plant-a"])

    func change(commits: [CommitIdentity]) -> ChangeRequest {
        let plan = Plan(site: "plant-a", commit: commits.first?.id, liveFingerprint: "sha256:0", desiredFingerprint: "sha256:1", operations: [], drift: [])
        return ChangeRequest(id: "plant-a-2", site: "plant-a", plan: plan, gate: .approval, status: .waiting, author: nil, commitSummary: nil,
                             createdAt: Date(), updatedAt: Date(), commits: commits)
    }

    func commit(_ id: String, author: (String, String), committer: (String, String)? = nil) -> CommitIdentity {
        let committer = committer ?? author
        return CommitIdentity(id: id, summary: "", author: Person(id: author.1, name: author.0, email: author.1),
                              committer: Person(id: committer.1, name: committer.0, email: committer.1))
    }

    @Test func anyCommitOfTheChangeCountsNotOnlyTheNewest() {
        let c = change(commits: [commit("bbbb", author: ("Flow Manager", "flows@example.com")), commit("aaaa", author: ("Anna", "anna.berger@example.com"))])
        #expect(ApprovalRules.authored(by: anna, change: c)?.commit == "aaaa")
    }

    @Test func caseAndPlusTagsDoNotHideTheAuthor() {
        #expect(ApprovalRules.authored(by: anna, change: change(commits: [commit("a", author: ("A", "Anna.Berger+hotfix@EXAMPLE.com"))])) != nil)
        #expect(ApprovalRules.normalizedEmail("Anna.Berger+x+y@Example.COM") == "anna.berger@example.com")
    }

    @Test func theCommitterCountsAsMuchAsTheAuthor() {
        let c = change(commits: [commit("c", author: ("Flow Manager", "flows@example.com"), committer: ("Anna B.", "anna.berger@example.com"))])
        #expect(ApprovalRules.authored(by: anna, change: c)?.how == "committed")
    }

    @Test func theSamePrintedNameCountsWhenTheAddressDiffers() {
        #expect(ApprovalRules.authored(by: anna, change: change(commits: [commit("d", author: ("anna  berger", "anna@home.example"))])) != nil)
        #expect(ApprovalRules.authored(by: anna, change: change(commits: [commit("e", author: ("Flow Manager", "flows@example.com"))])) == nil)
    }
}

/// Targets lie inside the allowed roots, never overlap the state directory, and command drivers are listed.
@Suite struct TargetPolicyTests {
    let base: String
    let policy: TargetPolicy

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("interlock-targets-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: base + "/state/targets", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
        policy = TargetPolicy(roots: [base + "/state/targets"], stateDirectory: base + "/state", commands: [["python3", "drivers/mqtt.py"]], source: "test.yaml")
    }

    func site(_ target: Target) -> Site {
        var site = GateRulesTestsSupport.site
        site.target = target
        return site
    }

    @Test func rootsInsideTheTargetBaseAreAllowed() {
        #expect(policy.check(site(.files(root: "plant-a")), targetBase: base + "/state/targets") == nil)
        #expect(policy.check(site(.files(root: "lines/plant-a")), targetBase: base + "/state/targets") == nil)
    }

    @Test func escapesAndTheStateDirectoryAreRefused() {
        for root in ["..", "../..", "../keys", "/etc", base + "/outside", base + "/state", base, "plant-a/../../x", "plant-a/../plant-b"] {
            let refusal = policy.check(site(.files(root: root)), targetBase: base + "/state/targets")
            #expect(refusal?.code == "target-not-allowed", "root \(root)")
            #expect(refusal?.field == "target.root")
        }
    }

    @Test func aSymbolicLinkOutOfTheTargetBaseIsRefused() throws {
        try FileManager.default.createDirectory(atPath: base + "/outside/deep", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: base + "/state/targets/lnk", withDestinationPath: base + "/outside/deep")
        #expect(policy.check(site(.files(root: "lnk/../escaped")), targetBase: base + "/state/targets")?.code == "target-not-allowed")
        try FileManager.default.createSymbolicLink(atPath: base + "/state/targets/sneaky", withDestinationPath: base + "/outside")
        #expect(policy.check(site(.files(root: "sneaky")), targetBase: base + "/state/targets")?.code == "target-not-allowed")
        #expect(policy.check(site(.files(root: "sneaky/deeper")), targetBase: base + "/state/targets")?.code == "target-not-allowed")
    }

    @Test func onlyListedCommandsRunAndTheirEnvironmentCannotRedirectThem() {
        #expect(policy.check(site(.command(CommandSpec(arguments: ["python3", "drivers/mqtt.py", "--site", "a"]))), targetBase: base) == nil)
        #expect(policy.check(site(.command(CommandSpec(arguments: ["sh", "-c", "rm -rf /"]))), targetBase: base)?.field == "target.command")
        #expect(policy.check(site(.command(CommandSpec(arguments: ["python3"]))), targetBase: base) != nil)
        let redirected = CommandSpec(arguments: ["python3", "drivers/mqtt.py"], environment: ["PATH": "/tmp/evil"])
        #expect(policy.check(site(.command(redirected)), targetBase: base)?.field == "target.env.PATH")
        let preloaded = CommandSpec(arguments: ["python3", "drivers/mqtt.py"], environment: ["LD_PRELOAD": "/tmp/evil.so"])
        #expect(policy.check(site(.command(preloaded)), targetBase: base) != nil)
        let pythonPath = CommandSpec(arguments: ["python3", "drivers/mqtt.py"], environment: ["PYTHONPATH": "pylib"])
        #expect(policy.check(site(.command(pythonPath)), targetBase: base)?.field == "target.env.PYTHONPATH", "only listed variables")
        var listing = policy
        listing.environment = ["MQTT_TOPIC"]
        #expect(listing.check(site(.command(CommandSpec(arguments: ["python3", "drivers/mqtt.py"], environment: ["MQTT_TOPIC": "plant/a"]))), targetBase: base) == nil)
    }
}

enum GateRulesTestsSupport {
    static let site: Site = RulesFiles(siteFile: Data(GateRulesTests.trustedSite.utf8), configFile: nil).read(site: "plant-a").site!
}
