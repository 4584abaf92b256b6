import Foundation
import Testing
@testable import InterlockEngine
import InterlockModel

/// The risk summary at the top of a change: what failed before comes back loudly, hooks and security-relevant
/// settings are named, and words that only look alike are not.
@Suite struct ChangeRiskTests {
    static func op(_ path: String, _ action: InterlockEngine.Operation.Action = .update, kind: Resource.Kind = .component, after: String? = "sha256:new",
                   changes: [String] = [], revertsDrift: Bool = false) -> InterlockEngine.Operation {
        InterlockEngine.Operation(action: action, kind: kind, path: path, policyPath: path, beforeHash: action == .create ? nil : "sha256:old",
                                  afterHash: action == .delete ? nil : after, content: nil, changes: changes, revertsDrift: revertsDrift)
    }

    static func change(_ id: String, site: String = "plant-a", status: ChangeStatus = .waiting, reason: String? = nil, _ ops: [InterlockEngine.Operation]) -> ChangeRequest {
        let plan = Plan(site: site, commit: "c0ffee", liveFingerprint: "sha256:live", desiredFingerprint: "sha256:desired", operations: ops, drift: [])
        return ChangeRequest(id: id, site: site, plan: plan, gate: .approvalAndWindow, status: status, statusReason: reason, author: nil,
                             commitSummary: nil, createdAt: Date(), updatedAt: Date())
    }

    @Test func contentThatWasRolledBackBeforeComesBackLoudlyWithALink() {
        let failed = Self.change("plant-a-3", status: .rolledBack, reason: "health check failed: broker does not answer",
                                 [Self.op("components/mqtt-broker", after: "sha256:broker-v2"), Self.op("files/mosquitto/mosquitto.conf", kind: .file, after: "sha256:conf-v2")])
        let elsewhere = Self.change("plant-b-7", site: "plant-b", status: .failed, [Self.op("components/mqtt-broker", after: "sha256:other")])
        let now = Self.change("plant-a-5", [Self.op("components/mqtt-broker", after: "sha256:broker-v2", changes: ["config.max_connections 1000 → 1200"]),
                                            Self.op("flows/energy-monitoring", kind: .flow, after: "sha256:flow")])
        let risk = ChangeRisk.assess(now, firstDeployment: false, earlier: [failed, elsewhere])
        let high = risk.items.filter { $0.level == .high }
        #expect(high.count == 1 && high[0].change == "plant-a-3" && high[0].text.contains("rolled back") && high[0].text.contains("health check failed"),
                "\(risk.items)")
        #expect(!risk.items.contains { $0.change == "plant-b-7" }, "different content is not the same failure")
        #expect(risk.headline.hasPrefix("1 high"))
        // Unrelated to any failure and quiet: nothing notable.
        let quiet = ChangeRisk.assess(Self.change("plant-a-6", [Self.op("files/readme.txt", kind: .file, changes: ["-a", "+b"])]), firstDeployment: false, earlier: [failed])
        #expect(quiet.headline == "nothing notable beyond the plan below", "\(quiet.items)")
    }

    @Test func hooksSecurityDriftRemovalsVersionsAndFirstDeploymentsAreNamed() {
        let change = Self.change("plant-a-9", [
            Self.op("components/mqtt-broker", changes: ["reload.command [systemctl, reload, mosquitto] → [systemctl, restart, mosquitto]", "version 2.0.18 → 2.0.20",
                                                       "config.listener_port 1883 → 1884"]),
            Self.op("files/mosquitto/acl", kind: .file, changes: ["@@ -1,3 +1,3 @@", "-user ignition", "+user ignition-gw"], revertsDrift: true),
            Self.op("files/old.conf", .delete, kind: .file),
            Self.op("files/meters.csv", kind: .file, changes: ["-E_import_T1;line-1", "+E_import_T1;line-2", " report;support"]),
        ])
        let risk = ChangeRisk.assess(change, firstDeployment: true, earlier: [])
        let texts = risk.items.map(\.text).joined(separator: "\n")
        #expect(texts.contains("reload or health commands change") && texts.contains("restart"))
        #expect(texts.contains("security-relevant settings change") && texts.contains("listener_port") && texts.contains("user ignition-gw"))
        #expect(!texts.contains("E_import_T1") && !texts.contains("report;support"), "words that only contain a security word are not security-relevant: \(texts)")
        #expect(texts.contains("overwrites changes made at the plant outside Interlock") && texts.contains("files/mosquitto/acl"))
        #expect(texts.contains("removes 1 resource(s): files/old.conf"))
        #expect(texts.contains("vendor software changes: mqtt-broker version 2.0.18 → 2.0.20"))
        #expect(texts.contains("first deployment of plant-a"))
    }

    @Test func theSecurityWordsAreWholeWords() {
        #expect(ChangeRisk.isSecurityRelevant("config.opcua_port 4840 → 4841"))
        #expect(ChangeRisk.isSecurityRelevant("+password_file /etc/mosquitto/passwd"))
        #expect(ChangeRisk.isSecurityRelevant("+cafile /etc/ssl/certs/ca.pem"))
        #expect(!ChangeRisk.isSecurityRelevant("+points: [P_total, E_import_T1]"))
        #expect(!ChangeRisk.isSecurityRelevant("config.max_connections 1000 → 1200"))
        #expect(!ChangeRisk.isSecurityRelevant("brick aggregate config.window 15m → 30m"))
    }
}
