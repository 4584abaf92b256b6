import Foundation
import Hummingbird
import NIOCore

/// `application/x-www-form-urlencoded` fields (form bodies and query strings): `+` is a space, `%XX` a byte.
struct FormFields: Sendable {
    var values: [String: String] = [:]

    init(_ text: String) {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            if values[key] == nil { values[key] = value }
        }
    }

    subscript(_ key: String) -> String? { values[key] }

    /// A trimmed value, nil when missing or blank.
    func text(_ key: String) -> String? {
        guard let value = values[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// The request's query string.
    static func query(_ request: Request) -> FormFields { FormFields(request.uri.query ?? "") }

    /// The request's body, at most `limit` bytes: a larger one is refused with 413 (from its Content-Length before it is
    /// read, or as soon as it grows past the limit).
    static func collectBody(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw ServerError(.contentTooLarge, "the request body has \(length) bytes; at most \(limit) are accepted here")
        }
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ServerError(.contentTooLarge, "the request body is larger than the \(limit) bytes accepted here")
        }
    }

    /// The request's form body (at most 64 KiB).
    static func body(_ request: Request) async throws -> FormFields {
        var request = request
        let buffer = try await collectBody(request, limit: 64 * 1024)
        return FormFields(String(buffer: buffer))
    }
}
