import Foundation
import InterlockModel

/// A problem with what a command driver printed, named by its place in the response (`resources[2].hash`).
struct ResponseProblem: Error, Sendable {
    var field: String
    var problem: String

    var message: String { field.isEmpty ? problem : "\(field): \(problem)" }
}

/// Reads fields out of a driver's JSON response, naming the field path in every complaint.
struct DriverResponse {
    let value: Value
    let path: String

    init(_ value: Value, path: String = "") {
        self.value = value
        self.path = path
    }

    private func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func fail(_ problem: String) -> ResponseProblem { ResponseProblem(field: path, problem: problem) }

    func object() throws(ResponseProblem) -> [String: Value] {
        guard case .object(let object) = value else { throw fail("expected an object, found \(value.typeName)") }
        return object
    }

    /// The field, or nil when it is absent or null.
    func optional(_ key: String) throws(ResponseProblem) -> DriverResponse? {
        guard let field = try object()[key], field != .null else { return nil }
        return DriverResponse(field, path: child(key))
    }

    func required(_ key: String) throws(ResponseProblem) -> DriverResponse {
        guard let field = try optional(key) else {
            throw ResponseProblem(field: child(key), problem: "required field is missing")
        }
        return field
    }

    func string() throws(ResponseProblem) -> String {
        guard case .string(let text) = value else { throw fail("expected a string, found \(value.typeName)") }
        return text
    }

    func bool() throws(ResponseProblem) -> Bool {
        guard case .bool(let flag) = value else { throw fail("expected true or false, found \(value.typeName)") }
        return flag
    }

    func array() throws(ResponseProblem) -> [DriverResponse] {
        guard case .array(let elements) = value else { throw fail("expected a list, found \(value.typeName)") }
        return elements.enumerated().map { DriverResponse($1, path: "\(path)[\($0)]") }
    }

    /// `sha256:` followed by 64 lowercase hex digits.
    func hash() throws(ResponseProblem) -> String {
        let text = try string()
        let hex = text.dropFirst("sha256:".count)
        guard text.hasPrefix("sha256:"), hex.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw fail("expected \"sha256:<64 lowercase hex digits>\", found \"\(text.prefix(80))\"")
        }
        return text
    }

    /// Unix permission bits: an octal string (`"0644"`, `"755"`) or a number (the bits themselves).
    func mode() throws(ResponseProblem) -> UInt32 {
        switch value {
        case .string(let text):
            guard let bits = UInt32(text, radix: 8), bits <= 0o7777 else { throw fail("expected octal permission bits like \"0644\", found \"\(text)\"") }
            return bits
        case .int(let bits) where (0...0o7777).contains(bits):
            return UInt32(bits)
        default:
            throw fail("expected octal permission bits like \"0644\", found \(value.typeName) \(value.canonicalJSON)")
        }
    }
}
