import Crypto
import Foundation

/// API tokens for machines (a Prometheus scraper, a ticket system): random, shown once, kept in the
/// instance configuration only as `sha256:<hex>` under a user's `apiTokens`. A token authenticates as
/// that user (`Authorization: Bearer <token>`); it never signs approvals (those need the password).
public enum APIToken {
    /// A new token: `ilk_` and 43 base64url characters (32 random bytes).
    public static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        return "ilk_" + Base64URL.encode(bytes)
    }

    /// What the configuration stores for `token`.
    public static func hash(_ token: String) -> String {
        "sha256:" + SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// `count` random bytes as base64url: session ids and CSRF tokens.
    static func random(_ count: Int) -> String {
        var bytes = [UInt8](repeating: 0, count: count)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        return encode(bytes)
    }
}
