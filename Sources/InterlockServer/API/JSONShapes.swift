import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore

/// The JSON shapes of the HTTP API. They are the shapes `interlock … --json` prints (queue, plan,
/// status, audit log, audit verify), so a script can move from the command line to the API unchanged.
/// Described in `docs/openapi.yaml`.
public enum JSONShapes {
    static func time(_ date: Date) -> Value { .string(ISO8601DateFormatter().string(from: date)) }
    static func optional(_ text: String?) -> Value { text.map(Value.string) ?? .null }

    /// A change request, as `interlock queue --json` prints it.
    public static func change(_ change: ChangeRequest) -> [String: Value] {
        [
            "id": .string(change.id), "site": .string(change.site), "status": .string(change.status.rawValue),
            "statusReason": optional(change.statusReason), "gate": .string(change.gate.rawValue),
            "plan": .object(["id": .string(change.plan.id), "shortId": .string(change.plan.shortID), "summary": .string(change.plan.summary),
                             "operations": .array(change.plan.operations.map(operation))]),
            "commit": optional(change.plan.commit), "commitSummary": optional(change.commitSummary),
            "author": change.author.map { .object(["name": .string($0.name), "email": optional($0.email)]) } ?? .null,
            "createdAt": time(change.createdAt), "updatedAt": time(change.updatedAt), "emergency": .bool(change.emergency),
            "approvals": .array(change.approvals.map { a in
                .object(["approver": .string(a.approver.id), "name": .string(a.approver.name), "role": .string(a.role), "meaning": .string(a.meaning),
                         "reason": .string(a.reason), "planId": .string(a.planID), "at": time(a.at),
                         "carriedFrom": a.carriedFromChange.map { .object(["change": .string($0), "planId": optional(a.carriedFromPlan)]) } ?? .null])
            }),
            "ruleChanges": .array(change.ruleChanges.map { .object(["kind": .string($0.kind.rawValue), "field": .string($0.field), "old": .string($0.old), "new": .string($0.new)]) }),
            "commits": .array(change.commits.map { c in
                .object(["id": .string(c.id), "summary": .string(c.summary),
                         "author": .object(["name": .string(c.author.name), "email": optional(c.author.email)]),
                         "committer": .object(["name": .string(c.committer.name), "email": optional(c.committer.email)])])
            }),
        ]
    }

    public static func gates(_ gates: GateStatus) -> Value {
        .object([
            "mode": .string(gates.mode.rawValue), "open": .bool(gates.isOpen), "approvers": .array(gates.approvers.map(Value.string)),
            "requiredApprovals": .int(gates.requiredApprovals), "window": gates.window.map { .string("\($0)") } ?? .null,
            "freeze": gates.freeze.isFrozen ? .string("\(gates.freeze)") : .null, "wave": gates.wave.map { .string("\($0)") } ?? .null, "waitingFor": .array(gates.waitingFor.map(Value.string)),
        ])
    }

    public static func plan(_ plan: Plan) -> Value {
        .object([
            "id": .string(plan.id), "shortId": .string(plan.shortID), "site": .string(plan.site),
            "commit": optional(plan.commit), "liveFingerprint": .string(plan.liveFingerprint),
            "summary": .object(["create": .int(plan.count(.create)), "update": .int(plan.count(.update)), "delete": .int(plan.count(.delete))]),
            "operations": .array(plan.operations.map(operation)),
        ])
    }

    public static func operation(_ op: InterlockEngine.Operation) -> Value {
        .object([
            "action": .string(op.action.rawValue), "kind": .string(op.kind.rawValue), "path": .string(op.path), "policyPath": .string(op.policyPath),
            "before": optional(op.beforeHash), "after": optional(op.afterHash),
            "beforeMode": op.beforeMode.map { .string(String(format: "%04o", $0)) } ?? .null,
            "afterMode": op.afterMode.map { .string(String(format: "%04o", $0)) } ?? .null,
            "changes": .array(op.changes.map(Value.string)), "adoptsUnmanaged": .bool(op.adoptsUnmanaged), "revertsDrift": .bool(op.revertsDrift),
            "sources": .array(op.sources.map(Value.string)), "introducedBy": optional(op.introducedBy), "describesOnly": .bool(op.describesOnly),
            "about": op.about.map(about) ?? .null,
        ])
    }

    public static func about(_ about: OperationAbout) -> Value {
        .object([
            "component": optional(about.component), "product": optional(about.product), "description": optional(about.description),
            "owner": about.owner.map { o in
                .object(["name": .string(o.name), "kind": .string(o.kind.rawValue), "contact": optional(o.contact), "contract": optional(o.contract)])
            } ?? .null,
            "affects": .object(["lines": .array(about.affects.lines.map(Value.string)), "assets": .array(about.affects.assets.map(Value.string)),
                                "areas": .array(about.affects.areas.map(Value.string))]),
        ])
    }

    public static func drift(_ drift: Drift) -> Value {
        .object([
            "path": .string(drift.path), "kind": .string(drift.kind.rawValue), "expected": .string(drift.expectedHash),
            "actual": optional(drift.actualHash), "appliedByPlan": optional(drift.appliedByPlan),
            "appliedCommit": optional(drift.appliedCommit), "summary": .string(drift.summary),
        ])
    }

    /// An audit record, as `interlock audit log --json` prints it.
    public static func record(_ r: AuditRecord) -> Value {
        .object([
            "sequence": .int(Int(r.sequence)), "id": .string(r.id), "timestamp": .string(r.timestampText),
            "actor": .object(["id": .string(r.actor.id), "name": .string(r.actor.name), "role": .string(r.actor.role), "authentication": .string(r.actor.authentication)]),
            "source": .object(["host": .string(r.source.host), "process": .string(r.source.process), "pid": .int(Int(r.source.pid))]),
            "category": .string(r.category.rawValue), "action": .string(r.action), "site": optional(r.site), "resource": optional(r.resource),
            "changeID": optional(r.changeID), "planID": optional(r.planID), "commit": optional(r.commit), "before": optional(r.before),
            "after": optional(r.after), "reason": optional(r.reason), "result": .string(r.result.rawValue), "error": optional(r.error),
            "details": .object(r.details.mapValues(Value.string)), "previousHash": .string(r.previousHash), "hash": .string(r.hash),
        ])
    }

    public static func checkpoint(_ c: AuditCheckpoint) -> Value {
        .object(["sequence": .int(Int(c.sequence)), "headHash": .string(c.headHash), "timestamp": .string(AuditTimestamp.format(c.timestamp)),
                 "keyID": .string(c.keyID), "signature": .string(c.signature)])
    }

    /// An audit verification, as `interlock audit verify --json` prints it.
    public static func verification(_ result: AuditVerification, subject: String) -> Value {
        .object([
            "ok": .bool(result.ok), "subject": .string(subject), "records": .int(result.recordCount),
            "lastSequence": .int(Int(result.lastSequence)), "headHash": .string(result.headHash),
            "checkpoints": .int(result.checkpointCount), "anchored": .bool(result.anchored), "complete": .bool(result.complete),
            "uncheckpointedRecords": .int(Int(result.uncheckpointedRecords)), "problemCount": .int(result.problemCount),
            "problems": .array(result.problems.prefix(100).map { .object(["sequence": .int(Int($0.sequence)), "kind": .string($0.kind.rawValue), "message": .string($0.message)]) }),
            "notes": .array(result.notes.map(Value.string)),
            "lastCheckpoint": result.lastCheckpoint.map(checkpoint) ?? .null,
        ])
    }

    public static func user(_ user: InstanceConfiguration.User, authentication: String) -> Value {
        .object([
            "id": .string(user.id), "name": .string(user.name), "title": .string(user.title),
            "roles": .array(user.roles.map(\.rawValue).sorted().map(Value.string)), "sites": .array(user.sites.map(Value.string)),
            "authentication": .string(authentication),
        ])
    }
}
