import Crypto
import Foundation

/// Builds the canonical JSON bytes of audit records and checkpoints by hand (no `JSONEncoder` in the hash path).
///
/// The canonical form — what `docs/audit.md` documents and Python's
/// `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()` reproduces:
/// - one JSON object, keys sorted by code point (= UTF-8 byte order), no whitespace anywhere;
/// - absent optional fields are `null`; integers in plain decimal; the timestamp as ``AuditTimestamp`` text;
/// - strings as UTF-8, escaping only `"` `\` (as `\"` `\\`), `\b \f \n \r \t`, and other
///   characters below U+0020 as `\u00xx` (lowercase hex); everything else is written as is.
struct CanonicalJSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func key(_ s: StaticString) {
        // keys are ASCII names without characters to escape; caller writes the separators
        bytes.append(34)
        raw(s)
        bytes.append(34)
        bytes.append(58)
    }

    mutating func string(_ s: String) {
        bytes.append(34)
        if s.utf8.withContiguousStorageIfAvailable({ escaped($0) }) == nil {
            var s = s
            s.withUTF8 { escaped($0) }
        }
        bytes.append(34)
    }

    /// Appends UTF-8 text with the canonical escapes (see the type's documentation).
    private mutating func escaped(_ buffer: UnsafeBufferPointer<UInt8>) {
        // Fast path: most text has nothing to escape and is copied in one go.
        var clean = true
        for c in buffer where c < 0x20 || c == 34 || c == 92 { clean = false; break }
        if clean {
            bytes.append(contentsOf: buffer)
            return
        }
        for c in buffer {
            switch c {
            case 34: bytes.append(92); bytes.append(34)
            case 92: bytes.append(92); bytes.append(92)
            case 0x08: bytes.append(92); bytes.append(98)
            case 0x0C: bytes.append(92); bytes.append(102)
            case 0x0A: bytes.append(92); bytes.append(110)
            case 0x0D: bytes.append(92); bytes.append(114)
            case 0x09: bytes.append(92); bytes.append(116)
            case 0..<0x20:
                raw("\\u00")
                bytes.append(hexDigits[Int(c >> 4)])
                bytes.append(hexDigits[Int(c & 0xF)])
            default: bytes.append(c)
            }
        }
    }

    mutating func optional(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }

    mutating func integer(_ value: Int64) {
        if value == 0 { bytes.append(48); return }
        if value < 0 { bytes.append(45) }
        let start = bytes.count
        var v = value.magnitude
        while v > 0 { bytes.append(UInt8(48 + v % 10)); v /= 10 }
        bytes[start...].reverse()
    }

    mutating func timestamp(_ date: Date) {
        bytes.append(34)
        AuditTimestamp.append(date, to: &bytes)
        bytes.append(34)
    }

    mutating func details(_ details: [String: String]) {
        bytes.append(123)
        if details.count == 1, let (key, value) = details.first {
            string(key)
            bytes.append(58)
            string(value)
        } else if !details.isEmpty {
            let keys = details.keys.sorted(by: CanonicalJSONWriter.keyOrder)
            for (index, key) in keys.enumerated() {
                if index > 0 { bytes.append(44) }
                string(key)
                bytes.append(58)
                string(details[key]!)
            }
        }
        bytes.append(125)
    }

    /// Keys order by their UTF-8 bytes, independent of locale and Unicode normalisation.
    static func keyOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// Writes a record: all fields but `hash` for hashing; with `hash` and `"type":"record"` for JSON Lines export.
    ///
    /// Each separator and key is written as one literal: this runs once per record in the verifier's hot loop.
    mutating func writeRecord(_ r: AuditRecord, includeHashAndType: Bool) {
        raw("{\"action\":"); string(r.action)
        raw(",\"actor\":{\"authentication\":"); string(r.actor.authentication)
        raw(",\"id\":"); string(r.actor.id)
        raw(",\"name\":"); string(r.actor.name)
        raw(",\"role\":"); string(r.actor.role)
        raw("},\"after\":"); optional(r.after)
        raw(",\"before\":"); optional(r.before)
        raw(",\"category\":"); string(r.category.rawValue)
        raw(",\"changeID\":"); optional(r.changeID)
        raw(",\"commit\":"); optional(r.commit)
        raw(",\"details\":"); details(r.details)
        raw(",\"error\":"); optional(r.error)
        if includeHashAndType { raw(",\"hash\":"); string(r.hash) }
        raw(",\"id\":"); string(r.id)
        raw(",\"planID\":"); optional(r.planID)
        raw(",\"previousHash\":"); string(r.previousHash)
        raw(",\"reason\":"); optional(r.reason)
        raw(",\"resource\":"); optional(r.resource)
        raw(",\"result\":"); string(r.result.rawValue)
        raw(",\"sequence\":"); integer(r.sequence)
        raw(",\"site\":"); optional(r.site)
        raw(",\"source\":{\"host\":"); string(r.source.host)
        raw(",\"pid\":"); integer(r.source.pid)
        raw(",\"process\":"); string(r.source.process)
        raw("},\"timestamp\":"); timestamp(r.timestamp)
        if includeHashAndType { raw(",\"type\":\"record\"") }
        raw("}")
    }

    /// Writes a checkpoint line for JSON Lines export.
    mutating func writeCheckpoint(_ c: AuditCheckpoint) {
        raw("{"); key("headHash"); string(c.headHash)
        raw(","); key("keyID"); string(c.keyID)
        raw(","); key("sequence"); integer(c.sequence)
        raw(","); key("signature"); string(c.signature)
        raw(","); key("timestamp"); timestamp(c.timestamp)
        raw(","); key("type"); raw("\"checkpoint\"")
        raw("}")
    }
}

let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Lowercase hex of `bytes`.
func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    var out = [UInt8]()
    out.reserveCapacity(64)
    for b in bytes {
        out.append(hexDigits[Int(b >> 4)])
        out.append(hexDigits[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Recomputes record hashes, reusing one buffer: cheap enough for the verifier's hot loop.
struct AuditHasher {
    private var writer = CanonicalJSONWriter(capacity: 2048)

    mutating func hash(of record: AuditRecord) -> String {
        hexString(digest(of: record))
    }

    /// Whether `record.hash` is the hash of its fields; compares hex digits without building a string.
    mutating func isIntact(_ record: AuditRecord) -> Bool {
        let digest = digest(of: record)
        var stored = record.hash
        return stored.withUTF8 { hex in
            guard hex.count == 64 else { return false }
            var index = 0
            var equal = true
            digest.withUnsafeBytes { raw in
                for byte in raw {
                    if hex[index] != hexDigits[Int(byte >> 4)] || hex[index + 1] != hexDigits[Int(byte & 0xF)] { equal = false }
                    index += 2
                }
            }
            return equal
        }
    }

    private mutating func digest(of record: AuditRecord) -> SHA256.Digest {
        writer.reset()
        writer.writeRecord(record, includeHashAndType: false)
        return writer.bytes.withUnsafeBytes { SHA256.hash(data: $0) }
    }
}
