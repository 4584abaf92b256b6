import Foundation

/// A failure of the audit store: what failed, in words a user can act on, with the underlying error.
public struct AuditStoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case database, io, missingKey, invalidKey, invalidEntry, malformedExport, corruptRecord
    }

    public var code: Code
    public var message: String
    /// The underlying error's description, if any.
    public var cause: String?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause.map { String(describing: $0) }
    }

    public var description: String {
        cause.map { "\(message)\n  └─ \($0)" } ?? message
    }
}
