import Crypto
import Foundation
import _CryptoExtras

/// A salted, slow password hash as kept in the instance configuration:
/// `pbkdf2-sha256$<iterations>$<salt, base64>$<derived key, base64>` (PBKDF2-HMAC-SHA256, 32-byte key).
public struct PasswordHash: Sendable, Hashable, CustomStringConvertible {
    /// What `interlock hash-password` uses: OWASP's 2023 floor for PBKDF2-HMAC-SHA256 is 600,000.
    public static let defaultIterations = 600_000
    /// Hashes with fewer iterations are refused when read (tests may use this floor to stay fast).
    public static let minimumIterations = 1_000
    public static let scheme = "pbkdf2-sha256"

    public var iterations: Int
    public var salt: [UInt8]
    public var key: [UInt8]

    /// A problem with a stored hash's text.
    public struct FormatError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses the stored form; throws when it is not `pbkdf2-sha256$<iterations>$<salt>$<hash>`.
    public init(parsing text: String) throws(FormatError) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Self.scheme else {
            throw FormatError(message: "a password hash reads '\(Self.scheme)$<iterations>$<salt>$<hash>' (see 'interlock hash-password')")
        }
        guard let iterations = Int(parts[1]), iterations >= Self.minimumIterations else {
            throw FormatError(message: "the password hash's iteration count '\(parts[1])' is not a number of at least \(Self.minimumIterations)")
        }
        guard let salt = Data(base64Encoded: String(parts[2])), salt.count >= 8,
              let key = Data(base64Encoded: String(parts[3])), key.count >= 16
        else { throw FormatError(message: "the password hash's salt or key is not base64 of at least 8 and 16 bytes") }
        self.iterations = iterations
        self.salt = Array(salt)
        self.key = Array(key)
    }

    /// Hashes `password` with a fresh random 16-byte salt.
    public init(password: String, iterations: Int = PasswordHash.defaultIterations) {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = generator.next() }
        self.init(password: password, salt: salt, iterations: iterations)
    }

    public init(password: String, salt: [UInt8], iterations: Int) {
        self.iterations = iterations
        self.salt = salt
        self.key = Self.derive(password: password, salt: salt, iterations: iterations, length: 32)
    }

    public var description: String {
        "\(Self.scheme)$\(iterations)$\(Data(salt).base64EncodedString())$\(Data(key).base64EncodedString())"
    }

    /// Whether `password` hashes to this key (compared in constant time).
    public func matches(_ password: String) -> Bool {
        Self.constantTimeEqual(Self.derive(password: password, salt: salt, iterations: iterations, length: key.count), key)
    }

    /// PBKDF2-HMAC-SHA256 (RFC 8018) through BoringSSL.
    public static func derive(password: String, salt: [UInt8], iterations: Int, length: Int) -> [UInt8] {
        // Only fails for a zero length or zero rounds, which callers never pass.
        let key = try! KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: length, unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// A hash to check against when the user is unknown, so that a wrong name costs as long as a wrong password.
    static let decoy = PasswordHash(password: "decoy", salt: Array("interlock-decoy!".utf8), iterations: 100_000)
}
