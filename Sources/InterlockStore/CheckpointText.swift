import Foundation

/// A checkpoint as text an auditor keeps, modelled on the C2SP tlog-checkpoint note: an origin line, the log size,
/// the head hash (hex: the log is a hash chain, not a Merkle tree), the time it was signed, a blank line, and a
/// signature line `— <name> <base64 signature>`.
///
///     interlock audit log
///     1234
///     9f2c…(64 hex digits)
///     2026-12-04T16:33:36.123Z
///
///     — interlock-86e8c99eb27dc618 Zm9vYmFy…
///
/// Whoever holds a copy proves with `interlock audit verify --checkpoint FILE --public-key KEY` that the log still
/// holds record 1234 with that hash, i.e. still extends their copy: a truncated or rewritten log fails.
extension AuditCheckpoint {
    public static let origin = "interlock audit log"

    /// The text form.
    public var text: String {
        "\(Self.origin)\n\(sequence)\n\(headHash)\n\(AuditTimestamp.format(timestamp))\n\n— interlock-\(keyID) \(signature)\n"
    }

    /// A checkpoint read from its text form, or why it is not one.
    public init(text: String) throws(CheckpointTextError) {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 6, lines[0] == Self.origin else {
            throw CheckpointTextError(message: "not an Interlock checkpoint: the first line must be '\(Self.origin)'")
        }
        guard let sequence = Int64(lines[1]), sequence >= 0 else { throw CheckpointTextError(message: "line 2: '\(lines[1].prefix(40))' is not a log size") }
        let hash = lines[2]
        guard hash.count == 64, hash.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw CheckpointTextError(message: "line 3: the head hash must be 64 lowercase hex digits")
        }
        guard let timestamp = AuditTimestamp.parse(lines[3]) else { throw CheckpointTextError(message: "line 4: '\(lines[3].prefix(40))' is not a UTC timestamp") }
        guard lines[4].isEmpty else { throw CheckpointTextError(message: "line 5 must be empty") }
        let signature = lines[5].split(separator: " ", omittingEmptySubsequences: true)
        guard signature.count == 3, signature[0] == "—", signature[1].hasPrefix("interlock-") else {
            throw CheckpointTextError(message: "line 6: expected '— interlock-<key id> <base64 signature>'")
        }
        self.init(sequence: sequence, headHash: hash, timestamp: timestamp, signature: String(signature[2]),
                  keyID: String(signature[1].dropFirst("interlock-".count)))
    }
}

public struct CheckpointTextError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Publishes every checkpoint, as it is made, into a directory the auditors hold (a mount of their file server, a
/// directory only they can change but the service may add to): `checkpoint-<size>.txt`, and `latest.txt`. The
/// directory is recorded in the state database by `interlock init --checkpoint-dir DIR`.
public enum CheckpointPublication {
    public static let settingKey = "audit.checkpointDirectory"

    /// Writes `checkpoint` into `directory` (an existing file of the same size is left as it is).
    public static func publish(_ checkpoint: AuditCheckpoint, to directory: String) throws {
        let data = Data(checkpoint.text.utf8)
        let path = "\(directory)/checkpoint-\(checkpoint.sequence).txt"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        if fd >= 0 {
            defer { close(fd) }
            let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == data.count, fsync(fd) == 0 else { throw AuditStoreError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
        } else if errno != EEXIST {
            throw AuditStoreError(.io, "cannot publish the checkpoint to \(path): \(String(cString: strerror(errno)))")
        } else if let existing = FileManager.default.contents(atPath: path), existing != data,
                  let earlier = try? AuditCheckpoint(text: String(decoding: existing, as: UTF8.self)), earlier.headHash != checkpoint.headHash {
            // Two signed heads for one size: the log was cut back and grew again. Never paper over it.
            throw AuditStoreError(.io, "\(path) already holds a checkpoint of size \(checkpoint.sequence) with head \(earlier.headHash.prefix(16))…, but the log's record \(checkpoint.sequence) now has hash \(checkpoint.headHash.prefix(16))…: the log was truncated and rewritten since; latest.txt was left as it was")
        }
        let latest = "\(directory)/latest.txt"
        if let current = FileManager.default.contents(atPath: latest),
           let published = try? AuditCheckpoint(text: String(decoding: current, as: UTF8.self)), published.sequence > checkpoint.sequence {
            // The published head never goes back: a shorter log was cut back after the auditors saw it.
            throw AuditStoreError(.io, "the log holds \(checkpoint.sequence) records, fewer than the \(published.sequence) of the checkpoint already published in \(latest): it was truncated; latest.txt was left as it was")
        }
        let temporary = "\(directory)/.latest-\(getpid()).tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, latest) == 0 else {
            let error = errno
            unlink(temporary)
            // An append-only directory (chattr +a) keeps every checkpoint file but refuses replacing latest.txt.
            if error == EPERM || error == EACCES { return }
            throw AuditStoreError(.io, "cannot replace \(latest): \(String(cString: strerror(error)))")
        }
    }

    /// Publishes `checkpoint` where `store` says checkpoints go, if anywhere.
    public static func publishIfConfigured(_ checkpoint: AuditCheckpoint?, store: any AuditStore) throws {
        guard let checkpoint, let directory = try store.setting(settingKey) else { return }
        try publish(checkpoint, to: directory)
    }
}
