import Foundation
import InterlockModel

/// The messages of the command-driver protocol, `interlock-driver/v1`: one JSON request on the program's
/// stdin, one JSON response on its stdout. See docs/drivers.md for the full description.
public enum DriverProtocol {
    public static let version = "interlock-driver/v1"

    // MARK: Requests

    static func observeRequest(site: String, desired: [Resource]) -> Value {
        .object([
            "protocol": .string(version), "action": .string("observe"), "site": .string(site),
            "resources": .array(desired.map { resource in
                var object: [String: Value] = [
                    "path": .string(resource.path), "kind": .string(resource.kind.rawValue),
                    "name": .string(resource.name), "hash": .string(resource.contentHash),
                ]
                if let mode = resource.mode { object["mode"] = .string(Resource.octal(mode)) }
                return .object(object)
            }),
        ])
    }

    static func applyRequest(site: String, plan: Plan) -> Value {
        .object([
            "protocol": .string(version), "action": .string("apply"), "site": .string(site),
            "plan": .object(["id": .string(plan.id), "commit": plan.commit.map(Value.string) ?? .null]),
            "operations": .array(plan.operations.map { operation in
                var object = summary(of: operation)
                object["mode"] = operation.afterMode.map { .string(Resource.octal($0)) } ?? .null
                if let content = operation.content {
                    if let text = String(data: content, encoding: .utf8) {
                        object["content"] = .string(text)
                    } else {
                        object["contentBase64"] = .string(content.base64EncodedString())
                    }
                }
                return .object(object)
            }),
        ])
    }

    /// An operation without its content: what the rollback request repeats.
    static func summary(of operation: Operation) -> [String: Value] {
        [
            "action": .string(operation.action.rawValue), "path": .string(operation.path),
            "kind": .string(operation.kind.rawValue),
            "before": operation.beforeHash.map(Value.string) ?? .null,
            "after": operation.afterHash.map(Value.string) ?? .null,
        ]
    }

    static func rollbackRequest(site: String, receipt: ApplyReceipt, token: Value, operations: Value) -> Value {
        .object([
            "protocol": .string(version), "action": .string("rollback"), "site": .string(site),
            "plan": .object(["id": .string(receipt.planID)]),
            "applied": .array(receipt.applied.map(Value.string)),
            "operations": operations,
            "token": token,
        ])
    }

    // MARK: Responses

    static func liveState(from response: Value) throws(ResponseProblem) -> LiveState {
        let root = DriverResponse(response)
        var resources: [String: LiveResource] = [:]
        for entry in try root.required("resources").array() {
            let path = try validPath(entry.required("path"))
            guard resources[path] == nil else { throw entry.fail("path \"\(path)\" is listed twice") }
            var content: Data?
            if let text = try entry.optional("content") {
                content = Data(try text.string().utf8)
            } else if let encoded = try entry.optional("contentBase64") {
                guard let bytes = Data(base64Encoded: try encoded.string()) else { throw encoded.fail("not valid base64") }
                content = bytes
            }
            let hash = try entry.optional("hash")?.hash()
            if let hash, let content, hash != Resource.hash(content) {
                throw ResponseProblem(field: "\(entry.path).hash", problem: "\(hash) is not the hash of the content given (\(Resource.hash(content)))")
            }
            guard hash != nil || content != nil else {
                throw entry.fail("resource \"\(path)\" has neither \"hash\" nor \"content\"/\"contentBase64\"")
            }
            let mode = try entry.optional("mode")?.mode()
            let managed = try entry.optional("managed")?.bool() ?? true
            resources[path] = LiveResource(path: path, content: content, contentHash: hash, mode: mode, managed: managed)
        }
        var drift: [Drift] = []
        for entry in try root.optional("drift")?.array() ?? [] {
            let kindField = try entry.required("kind")
            guard let kind = Drift.Kind(rawValue: try kindField.string()) else {
                throw kindField.fail("expected modified, vanished or mode-changed, found \"\(try kindField.string())\"")
            }
            drift.append(Drift(
                path: try validPath(entry.required("path")), kind: kind,
                expectedHash: try entry.required("expected").hash(), actualHash: try entry.optional("actual")?.hash(),
                appliedByPlan: try entry.optional("plan")?.string(), appliedCommit: try entry.optional("commit")?.string()
            ))
        }
        return LiveState(resources: resources, drift: drift)
    }

    /// A resource path the driver reports, held to the rules of paths in the repository: relative, no `..`, no
    /// empty or `.` segments, no backslash or NUL, not in `.interlock/` — a driver cannot make a plan propose to
    /// delete `../../etc/passwd`.
    static func validPath(_ field: DriverResponse) throws(ResponseProblem) -> String {
        let path = try field.string()
        if let problem = TargetPath.problem(with: path) { throw field.fail("the path \"\(path.prefix(200))\" \(problem)") }
        return path
    }

    /// The paths the driver applied and its rollback token (`.null` when it gave none).
    static func applied(from response: Value, plan: Plan) throws(ResponseProblem) -> (applied: [String], token: Value) {
        let root = DriverResponse(response)
        let planned = Set(plan.operations.map(\.path))
        var applied: [String] = []
        for entry in try root.required("applied").array() {
            let path = try entry.string()
            guard planned.contains(path) else { throw entry.fail("\"\(path)\" is not a path in the plan") }
            applied.append(path)
        }
        return (applied, try root.optional("rollback")?.value ?? .null)
    }

    static func rolledBack(from response: Value) throws(ResponseProblem) -> [String] {
        var paths: [String] = []
        for entry in try DriverResponse(response).required("rolledBack").array() {
            paths.append(try validPath(entry))
        }
        return paths
    }

    /// The optional error object a failing driver may print on stdout: `{"error": {"code", "message", "hint"}}`.
    static func reportedError(from response: Value) -> (code: DriverError.Code, message: String, hint: String?)? {
        guard let error = response.objectValue?["error"]?.objectValue, let message = error["message"]?.stringValue else { return nil }
        let code = error["code"]?.stringValue.flatMap { DriverError.Code(rawValue: $0) } ?? .failed
        return (code, message, error["hint"]?.stringValue)
    }
}
