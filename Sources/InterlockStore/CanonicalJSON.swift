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
        var s = s
        s.withUTF8 { buffer in
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
        bytes.append(34)
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
    mutating func writeRecord(_ r: AuditRecord, includeHashAndType: Bool) {
        raw("{"); key("action"); string(r.action)
        raw(",\"actor\":{"); key("authentication"); string(r.actor.authentication)
        raw(","); key("id"); string(r.actor.id)
        raw(","); key("name"); string(r.actor.name)
        raw(","); key("role"); string(r.actor.role)
        raw("},"); key("after"); optional(r.after)
        raw(","); key("before"); optional(r.before)
        raw(","); key("category"); string(r.category.rawValue)
        raw(","); key("changeID"); optional(r.changeID)
        raw(","); key("commit"); optional(r.commit)
        raw(","); key("details"); details(r.details)
        raw(","); key("error"); optional(r.error)
        if includeHashAndType { raw(","); key("hash"); string(r.hash) }
        raw(","); key("id"); string(r.id)
        raw(","); key("planID"); optional(r.planID)
        raw(","); key("previousHash"); string(r.previousHash)
        raw(","); key("reason"); optional(r.reason)
        raw(","); key("resource"); optional(r.resource)
        raw(","); key("result"); string(r.result.rawValue)
        raw(","); key("sequence"); integer(r.sequence)
        raw(","); key("site"); optional(r.site)
        raw(",\"source\":{"); key("host"); string(r.source.host)
        raw(","); key("pid"); integer(r.source.pid)
        raw(","); key("process"); string(r.source.process)
        raw("},"); key("timestamp"); timestamp(r.timestamp)
        if includeHashAndType { raw(","); key("type"); raw("\"record\"") }
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
        writer.reset()
        writer.writeRecord(record, includeHashAndType: false)
        return hexString(SHA256.hash(data: writer.bytes))
    }

    /// Whether `record.hash` is the hash of its fields; compares hex digits without building a string.
    mutating func isIntact(_ record: AuditRecord) -> Bool {
        writer.reset()
        writer.writeRecord(record, includeHashAndType: false)
        let digest = SHA256.hash(data: writer.bytes)
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
}
