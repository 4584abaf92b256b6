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
///
/// A class writing into a buffer it owns, not a struct around a byte array: a record is a hundred small appends,
/// and an array in a struct checks uniqueness and capacity through generic code on each, which was half the cost
/// of hashing a stored row. Not `Sendable`: a writer (and the ``AuditHasher`` holding one) belongs to one thread.
final class CanonicalJSONWriter {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes written since the last ``reset()``.
    private(set) var count = 0

    init(capacity: Int = 1024) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The bytes written since the last ``reset()``.
    var bytes: [UInt8] { withBytes { Array($0) } }

    /// Calls `body` with the bytes written since the last ``reset()``; they must not escape it.
    func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    func reset() { count = 0 }

    // The small appends are inlined: they run about a hundred times per record.

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private func reserve(_ extra: Int) {
        if capacity - count < extra { grow(extra) }
    }

    @inline(never)
    private func grow(_ extra: Int) {
        capacity = max(count + extra, capacity * 2)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.initialize(from: base, count: count)
        base.deallocate()
        base = grown
    }

    @inline(__always)
    private func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    private func append(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard let source = buffer.baseAddress else { return }
        reserve(buffer.count)
        (base + count).initialize(from: source, count: buffer.count)
        count += buffer.count
    }

    @inline(__always)
    func raw(_ s: StaticString) {
        s.withUTF8Buffer { append($0) }
    }

    func key(_ s: StaticString) {
        // keys are ASCII names without characters to escape; caller writes the separators
        append(34)
        raw(s)
        append(34)
        append(58)
    }

    func string(_ s: String) {
        append(34)
        if s.utf8.withContiguousStorageIfAvailable({ escaped($0) }) == nil {
            var s = s
            s.withUTF8 { escaped($0) }
        }
        append(34)
    }

    /// Appends stored text as ``string(_:)`` appends the `String` GRDB reads from it (see `String(storedText:)`).
    /// Plain ASCII with nothing to escape, the usual case, is copied straight from the stored bytes.
    func storedText(_ text: UnsafeBufferPointer<UInt8>) {
        if !containsEscapedOrNonASCII(text, nonASCII: true) {
            reserve(text.count + 2)
            append(34)
            append(text)
            append(34)
        } else if text.contains(where: { $0 == 0 || $0 >= 0x80 }) {
            string(String(storedText: text))
        } else {
            append(34)
            escaped(text)
            append(34)
        }
    }

    /// Appends bytes that are already canonical JSON (a value checked to be in canonical form).
    func canonical(_ json: UnsafeBufferPointer<UInt8>) {
        append(json)
    }

    /// Appends UTF-8 text with the canonical escapes (see the type's documentation).
    private func escaped(_ buffer: UnsafeBufferPointer<UInt8>) {
        // Fast path: most text has nothing to escape and is copied in one go.
        if !containsEscapedOrNonASCII(buffer, nonASCII: false) {
            append(buffer)
            return
        }
        for c in buffer {
            switch c {
            case 34: append(92); append(34)
            case 92: append(92); append(92)
            case 0x08: append(92); append(98)
            case 0x0C: append(92); append(102)
            case 0x0A: append(92); append(110)
            case 0x0D: append(92); append(114)
            case 0x09: append(92); append(116)
            case 0..<0x20:
                raw("\\u00")
                append(hexDigits[Int(c >> 4)])
                append(hexDigits[Int(c & 0xF)])
            default: append(c)
            }
        }
    }

    func optional(_ s: String?) {
        if let s { string(s) } else { raw("null") }
    }

    func integer(_ value: Int64) {
        reserve(20)  // a sign and 19 digits
        if value < 0 { append(45) }
        var v = value.magnitude
        var digits = 1
        while v >= 10 { v /= 10; digits += 1 }
        v = value.magnitude
        count += digits
        var index = count
        repeat {
            index -= 1
            base[index] = UInt8(48 + v % 10)
            v /= 10
        } while v > 0
    }

    func timestamp(_ date: Date) {
        reserve(AuditTimestamp.textLength + 2)
        append(34)
        AuditTimestamp.write(date, to: base + count)
        count += AuditTimestamp.textLength
        append(34)
    }

    func details(_ details: [String: String]) {
        append(123)
        if details.count == 1, let (key, value) = details.first {
            string(key)
            append(58)
            string(value)
        } else if !details.isEmpty {
            let keys = details.keys.sorted(by: CanonicalJSONWriter.keyOrder)
            for (index, key) in keys.enumerated() {
                if index > 0 { append(44) }
                string(key)
                append(58)
                string(details[key]!)
            }
        }
        append(125)
    }

    /// Keys order by their UTF-8 bytes, independent of locale and Unicode normalisation.
    static func keyOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// Writes a record: all fields but `hash` for hashing; with `hash` and `"type":"record"` for JSON Lines export.
    ///
    /// Each separator and key is written as one literal: this runs once per record in the verifier's hot loop.
    /// Generic so that the verifier can write a stored row's canonical bytes without decoding it into an
    /// ``AuditRecord``; this is the one place that lays out the canonical form.
    func writeRecord(_ r: some CanonicalRecordFields, includeHashAndType: Bool) {
        raw("{\"action\":"); r.write(.action, to: self)
        raw(",\"actor\":{\"authentication\":"); r.write(.actorAuthentication, to: self)
        raw(",\"id\":"); r.write(.actorID, to: self)
        raw(",\"name\":"); r.write(.actorName, to: self)
        raw(",\"role\":"); r.write(.actorRole, to: self)
        raw("},\"after\":"); r.write(.after, to: self)
        raw(",\"before\":"); r.write(.before, to: self)
        raw(",\"category\":"); r.write(.category, to: self)
        raw(",\"changeID\":"); r.write(.changeID, to: self)
        raw(",\"commit\":"); r.write(.commit, to: self)
        raw(",\"details\":"); r.write(.details, to: self)
        raw(",\"error\":"); r.write(.error, to: self)
        if includeHashAndType { raw(",\"hash\":"); r.write(.hash, to: self) }
        raw(",\"id\":"); r.write(.id, to: self)
        raw(",\"planID\":"); r.write(.planID, to: self)
        raw(",\"previousHash\":"); r.write(.previousHash, to: self)
        raw(",\"reason\":"); r.write(.reason, to: self)
        raw(",\"resource\":"); r.write(.resource, to: self)
        raw(",\"result\":"); r.write(.result, to: self)
        raw(",\"sequence\":"); r.write(.sequence, to: self)
        raw(",\"site\":"); r.write(.site, to: self)
        raw(",\"source\":{\"host\":"); r.write(.sourceHost, to: self)
        raw(",\"pid\":"); r.write(.sourcePID, to: self)
        raw(",\"process\":"); r.write(.sourceProcess, to: self)
        raw("},\"timestamp\":"); r.write(.timestamp, to: self)
        if includeHashAndType { raw(",\"type\":\"record\"") }
        raw("}")
    }

    /// Writes a checkpoint line for JSON Lines export.
    func writeCheckpoint(_ c: AuditCheckpoint) {
        raw("{"); key("headHash"); string(c.headHash)
        raw(","); key("keyID"); string(c.keyID)
        raw(","); key("sequence"); integer(c.sequence)
        raw(","); key("signature"); string(c.signature)
        raw(","); key("timestamp"); timestamp(c.timestamp)
        raw(","); key("type"); raw("\"checkpoint\"")
        raw("}")
    }
}

/// Something whose fields ``CanonicalJSONWriter/writeRecord(_:includeHashAndType:)`` can write: an
/// ``AuditRecord``, or a stored row already checked to read as one.
protocol CanonicalRecordFields {
    /// Writes the field's JSON value (a string, an integer, the details object, or `null` for an absent optional).
    func write(_ field: AuditField, to writer: CanonicalJSONWriter)
}

extension AuditRecord: CanonicalRecordFields {
    func write(_ field: AuditField, to writer: CanonicalJSONWriter) {
        switch field {
        case .sequence: writer.integer(sequence)
        case .id: writer.string(id)
        case .timestamp: writer.timestamp(timestamp)
        case .actorID: writer.string(actor.id)
        case .actorName: writer.string(actor.name)
        case .actorRole: writer.string(actor.role)
        case .actorAuthentication: writer.string(actor.authentication)
        case .sourceHost: writer.string(source.host)
        case .sourceProcess: writer.string(source.process)
        case .sourcePID: writer.integer(source.pid)
        case .category: writer.string(category.rawValue)
        case .action: writer.string(action)
        case .site: writer.optional(site)
        case .resource: writer.optional(resource)
        case .changeID: writer.optional(changeID)
        case .planID: writer.optional(planID)
        case .commit: writer.optional(commit)
        case .before: writer.optional(before)
        case .after: writer.optional(after)
        case .reason: writer.optional(reason)
        case .result: writer.string(result.rawValue)
        case .error: writer.optional(error)
        case .details: writer.details(details)
        case .previousHash: writer.string(previousHash)
        case .hash: writer.string(hash)
        }
    }
}

extension String {
    /// The string GRDB reads from stored text (`String(cString:)`): the bytes up to the first NUL, if any, as
    /// UTF-8 with invalid sequences replaced.
    init(storedText text: UnsafeBufferPointer<UInt8>) {
        let end = text.firstIndex(of: 0) ?? text.endIndex
        self.init(decoding: UnsafeBufferPointer(rebasing: text[..<end]), as: UTF8.self)
    }
}

/// Whether `text` holds a byte that the canonical form escapes (below 0x20, `"`, `\`) or, with `nonASCII`, one
/// from 0x80 up. Eight bytes at a time: this looks at every stored byte of every record the verifier reads.
func containsEscapedOrNonASCII(_ text: UnsafeBufferPointer<UInt8>, nonASCII: Bool) -> Bool {
    guard let start = text.baseAddress else { return false }
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highBits: UInt64 = 0x8080_8080_8080_8080
    /// A word whose bytes have their high bit set where `word`'s byte is zero (exact as to whether any is).
    func zeroBytes(_ word: UInt64) -> UInt64 { (word &- ones) & ~word }
    func found(at index: Int) -> Bool {
        let word = UnsafeRawPointer(start + index).loadUnaligned(as: UInt64.self)
        var found = ((word &- ones &* 0x20) & ~word) | zeroBytes(word ^ (ones &* 34)) | zeroBytes(word ^ (ones &* 92))
        if nonASCII { found |= word }
        return found & highBits != 0
    }
    guard text.count >= 8 else {
        return text.contains { $0 < 0x20 || $0 == 34 || $0 == 92 || (nonASCII && $0 >= 0x80) }
    }
    var index = 0
    while index + 8 < text.count {
        if found(at: index) { return true }
        index += 8
    }
    return found(at: text.count - 8)  // the last eight bytes, which may overlap those already seen
}

let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Each byte value's two hex digits, as a 16-bit word loaded from where they lie in text.
private let hexPairs: [UInt16] = (0...255).map { byte in
    [hexDigits[byte >> 4], hexDigits[byte & 0xF]].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
}

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

/// Recomputes record hashes, reusing one buffer: cheap enough for the verifier's hot loop. Copies share the
/// buffer, so a hasher belongs to one thread (it is not `Sendable`).
struct AuditHasher {
    private let writer = CanonicalJSONWriter(capacity: 2048)

    mutating func hash(of record: AuditRecord) -> String {
        hexString(digest(of: record))
    }

    /// Whether `record.hash` is the hash of its fields.
    mutating func isIntact(_ record: AuditRecord) -> Bool {
        Self.digest(digest(of: record), isHex: record.hash)
    }

    /// Whether `hex` is `digest` in lowercase hex.
    static func digest(_ digest: SHA256.Digest, isHex hex: String) -> Bool {
        var stored = hex
        return stored.withUTF8 { Self.digest(digest, isHex: $0) }
    }

    /// Whether the UTF-8 text `hex` is `digest` in lowercase hex; compares hex digits without building a string.
    static func digest(_ digest: SHA256.Digest, isHex hex: UnsafeBufferPointer<UInt8>) -> Bool {
        guard hex.count == 64, let stored = UnsafeRawPointer(hex.baseAddress) else { return false }
        return digest.withUnsafeBytes { bytes in
            hexPairs.withUnsafeBufferPointer { pairs in
                for (index, byte) in bytes.enumerated() where stored.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self) != pairs[Int(byte)] {
                    return false
                }
                return true
            }
        }
    }

    /// The SHA-256 of the record's canonical bytes.
    mutating func digest(of record: some CanonicalRecordFields) -> SHA256.Digest {
        writer.reset()
        writer.writeRecord(record, includeHashAndType: false)
        return writer.withBytes { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
    }
}
