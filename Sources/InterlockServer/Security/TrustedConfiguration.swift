import Crypto
import Foundation
import InterlockModel
import InterlockStore

/// Which instance configuration a state directory trusts for its users and their rights. `interlock init` records the
/// file (its absolute path and digest) in the audit log's database; from then on signatures, overrides and the
/// service take users only from that file: a `--config` naming another file cannot create signers. Edits of the
/// trusted file are allowed (users come and go) and each is recorded with the old and new digest.
public enum TrustedConfiguration {
    public static let pathKey = "configuration.path"
    public static let digestKey = "configuration.sha256"

    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The file's absolute path with links resolved, and the SHA-256 of its bytes.
    static func identify(_ configuration: InstanceConfiguration) throws(Refusal) -> (path: String, digest: String) {
        guard let file = configuration.file else {
            throw Refusal(message: "no instance configuration was given, so there are no users: pass --config FILE or set INTERLOCK_CONFIG")
        }
        if let origin = configuration.origin {
            // Identified when the file was opened and read: exactly the bytes the users were parsed from.
            if origin.writableByOthers {
                throw Refusal(message: "the instance configuration \(origin.path) is writable by other users or owned by another account, so its users cannot be trusted; make it owned by root (or the account running Interlock) and run 'chmod go-w \(origin.path)'")
            }
            return (origin.path, origin.sha256)
        }
        let path = URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath().path
        guard let data = FileManager.default.contents(atPath: path) else { throw Refusal(message: "cannot read the instance configuration \(path)") }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o022 != 0 {
            throw Refusal(message: "the instance configuration \(path) is writable by other users, so its users cannot be trusted; run 'chmod go-w \(path)'")
        }
        return (path, SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined())
    }

    /// Records `configuration`'s file as the one the state directory trusts (`interlock init`). Returns a note for
    /// the operator when this binds it for the first time or moves it to another file.
    @discardableResult
    public static func bind(_ configuration: InstanceConfiguration, store: any StateStore, actor: AuditActor) throws -> String? {
        let (path, digest) = try identify(configuration)
        let oldPath = try store.setting(pathKey), oldDigest = try store.setting(digestKey)
        if oldPath == path, oldDigest == digest { return nil }
        let action = oldPath == nil ? "configuration.trusted" : oldPath == path ? "configuration.changed" : "configuration.rebound"
        try store.setSettings([pathKey: path, digestKey: digest], entries: [AuditEntry(
            actor: actor, category: .configuration, action: action, before: oldPath.map { "\($0) sha256:\(oldDigest ?? "")" },
            after: "\(path) sha256:\(digest)", details: ["users": configuration.users.map(\.id).joined(separator: ",")])])
        switch action {
        case "configuration.trusted": return "users and their rights now come only from \(path)"
        case "configuration.rebound": return "users and their rights now come only from \(path) (was \(oldPath!)); recorded in the audit log"
        default: return "the trusted configuration \(path) changed; recorded in the audit log"
        }
    }

    /// Checks that `configuration` is the trusted file; a changed digest is recorded (the file was edited) and accepted.
    public static func check(_ configuration: InstanceConfiguration, store: any StateStore, actor: AuditActor) throws(Refusal) {
        let (path, digest) = try identify(configuration)
        let trustedPath: String?, trustedDigest: String?
        do {
            trustedPath = try store.setting(pathKey)
            trustedDigest = try store.setting(digestKey)
        } catch {
            throw Refusal(message: "cannot read which configuration this instance trusts: \(error)")
        }
        guard let trustedPath else {
            throw Refusal(message: "this state directory trusts no instance configuration yet; an operator runs 'interlock init --config \(path)' once to name the file users come from")
        }
        guard trustedPath == path else {
            throw Refusal(message: "users come only from \(trustedPath), the configuration this instance trusts, not from \(path); an operator who means to move it runs 'interlock init --config \(path)' (recorded)")
        }
        if trustedDigest != digest {
            do {
                try store.setSettings([digestKey: digest], entries: [AuditEntry(
                    actor: actor, category: .configuration, action: "configuration.changed", before: "\(path) sha256:\(trustedDigest ?? "")",
                    after: "\(path) sha256:\(digest)", details: ["users": configuration.users.map(\.id).joined(separator: ",")])])
            } catch {
                throw Refusal(message: "the trusted configuration \(path) changed and the change cannot be recorded: \(error)")
            }
        }
    }
}
