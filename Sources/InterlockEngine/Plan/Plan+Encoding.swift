import Foundation
import InterlockModel

extension Plan {
    /// The whole plan as JSON, content included (base64), for storing it in the queue.
    public var stored: Value {
        .object([
            "site": .string(site), "commit": commit.map(Value.string) ?? .null, "id": .string(id),
            "liveFingerprint": .string(liveFingerprint), "desiredFingerprint": .string(desiredFingerprint),
            "operations": .array(operations.map(\.stored)), "drift": .array(drift.map(\.stored)),
        ])
    }

    /// Reads a plan written by `stored`; checks that the recomputed id equals the stored one.
    public init(stored value: Value) throws {
        guard let o = value.objectValue, let site = o["site"]?.stringValue, let live = o["liveFingerprint"]?.stringValue,
              let desired = o["desiredFingerprint"]?.stringValue, let ops = o["operations"]?.arrayValue, let id = o["id"]?.stringValue
        else { throw PlanDecodingError(message: "the stored plan is incomplete") }
        self.init(
            site: site, commit: o["commit"]?.stringValue, liveFingerprint: live, desiredFingerprint: desired,
            operations: try ops.map(Operation.init(stored:)), drift: try (o["drift"]?.arrayValue ?? []).map(Drift.init(stored:)))
        guard self.id == id else { throw PlanDecodingError(message: "the stored plan's id \(id) does not match its content (\(self.id))") }
    }
}

struct PlanDecodingError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension Plan {
    /// The plan as an agent needs it: what the people reviewing it read (`about`, `sources`, `introducedBy`) left out.
    public var storedForAgent: Value {
        var plan = self
        for index in plan.operations.indices {
            plan.operations[index].about = nil
            plan.operations[index].sources = []
            plan.operations[index].introducedBy = nil
        }
        return plan.stored
    }
}

extension Operation {
    var stored: Value {
        .object([
            "action": .string(action.rawValue), "kind": .string(kind.rawValue), "path": .string(path), "policyPath": .string(policyPath),
            "before": beforeHash.map(Value.string) ?? .null, "after": afterHash.map(Value.string) ?? .null,
            "beforeMode": beforeMode.map { .int(Int($0)) } ?? .null, "afterMode": afterMode.map { .int(Int($0)) } ?? .null,
            "content": content.map { .string($0.base64EncodedString()) } ?? .null,
            "changes": .array(changes.map(Value.string)), "adoptsUnmanaged": .bool(adoptsUnmanaged), "revertsDrift": .bool(revertsDrift),
            "previousContent": previousContent.map { .string($0.base64EncodedString()) } ?? .null,
            "sources": .array(sources.map(Value.string)), "about": about.map(\.stored) ?? .null,
            "introducedBy": introducedBy.map(Value.string) ?? .null, "describesOnly": .bool(describesOnly),
        ])
    }

    init(stored value: Value) throws {
        guard let o = value.objectValue, let action = o["action"]?.stringValue.flatMap(Action.init(rawValue:)),
              let kind = o["kind"]?.stringValue.flatMap(Resource.Kind.init(rawValue:)), let path = o["path"]?.stringValue
        else { throw PlanDecodingError(message: "a stored operation is incomplete") }
        func mode(_ key: String) -> UInt32? { if case .int(let m)? = o[key] { UInt32(m) } else { nil } }
        self.init(
            action: action, kind: kind, path: path, policyPath: o["policyPath"]?.stringValue ?? path,
            beforeHash: o["before"]?.stringValue, afterHash: o["after"]?.stringValue, beforeMode: mode("beforeMode"), afterMode: mode("afterMode"),
            content: o["content"]?.stringValue.flatMap { Data(base64Encoded: $0) },
            changes: (o["changes"]?.arrayValue ?? []).compactMap(\.stringValue),
            adoptsUnmanaged: o["adoptsUnmanaged"] == .bool(true), revertsDrift: o["revertsDrift"] == .bool(true),
            previousContent: o["previousContent"]?.stringValue.flatMap { Data(base64Encoded: $0) })
        sources = (o["sources"]?.arrayValue ?? []).compactMap(\.stringValue)
        about = o["about"].flatMap { $0 == .null ? nil : OperationAbout(stored: $0) }
        introducedBy = o["introducedBy"]?.stringValue
        describesOnly = o["describesOnly"] == .bool(true)
    }
}

extension Drift {
    var stored: Value {
        .object([
            "path": .string(path), "kind": .string(kind.rawValue), "expected": .string(expectedHash),
            "actual": actualHash.map(Value.string) ?? .null, "plan": appliedByPlan.map(Value.string) ?? .null,
            "commit": appliedCommit.map(Value.string) ?? .null,
        ])
    }

    init(stored value: Value) throws {
        guard let o = value.objectValue, let path = o["path"]?.stringValue, let kind = o["kind"]?.stringValue.flatMap(Kind.init(rawValue:)),
              let expected = o["expected"]?.stringValue
        else { throw PlanDecodingError(message: "a stored drift entry is incomplete") }
        self.init(path: path, kind: kind, expectedHash: expected, actualHash: o["actual"]?.stringValue,
                  appliedByPlan: o["plan"]?.stringValue, appliedCommit: o["commit"]?.stringValue)
    }
}
