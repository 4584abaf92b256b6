import Foundation

/// Reads the `details` object (`{"key":"value",…}`, string values only) as stored in the database and CSV exports.
/// Small and strict: anything else yields nil, which the caller reports as a malformed record.
enum FlatJSONObject {
    static func parse(_ text: String) -> [String: String]? {
        if text == "{}" { return [:] }
        var bytes = Array(text.utf8)[...]
        func skipSpace() { while let c = bytes.first, c == 32 || c == 9 || c == 10 || c == 13 { bytes.removeFirst() } }
        func expect(_ c: UInt8) -> Bool {
            skipSpace()
            guard bytes.first == c else { return false }
            bytes.removeFirst()
            return true
        }
        func string() -> String? {
            guard expect(34) else { return nil }
            // Fast path: no escapes before the closing quote.
            if let end = bytes.firstIndex(where: { $0 == 34 || $0 == 92 }), bytes[end] == 34 {
                defer { bytes = bytes[(end + 1)...] }
                return String(decoding: bytes[..<end], as: UTF8.self)
            }
            var out: [UInt8] = []
            while let c = bytes.popFirst() {
                switch c {
                case 34: return String(decoding: out, as: UTF8.self)
                case 92:
                    guard let e = bytes.popFirst() else { return nil }
                    switch e {
                    case 34, 92, 47: out.append(e)
                    case 98: out.append(8)
                    case 102: out.append(12)
                    case 110: out.append(10)
                    case 114: out.append(13)
                    case 116: out.append(9)
                    case 117:
                        guard let unit = hex4() else { return nil }
                        var scalarValue = UInt32(unit)
                        if (0xD800..<0xDC00).contains(unit) {
                            guard bytes.popFirst() == 92, bytes.popFirst() == 117, let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                            scalarValue = 0x10000 + (UInt32(unit) - 0xD800) << 10 + (UInt32(low) - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: return nil
                    }
                default: out.append(c)
                }
            }
            return nil
        }
        func hex4() -> UInt16? {
            guard bytes.count >= 4 else { return nil }
            let digits = bytes.prefix(4)
            bytes.removeFirst(4)
            return UInt16(String(decoding: digits, as: UTF8.self), radix: 16)
        }
        guard expect(123) else { return nil }
        var result: [String: String] = [:]
        skipSpace()
        if bytes.first == 125 {
            bytes.removeFirst()
        } else {
            while true {
                guard let key = string(), expect(58), let value = string() else { return nil }
                result[key] = value
                skipSpace()
                guard let c = bytes.popFirst() else { return nil }
                if c == 125 { break }
                guard c == 44 else { return nil }
            }
        }
        skipSpace()
        return bytes.isEmpty ? result : nil
    }

    /// Whether `text` is already the canonical text of the object ``parse(_:)`` reads from it, in the plainest
    /// form: `{}`, or `{"key":"value",…}` without whitespace, with keys in strictly ascending byte order (so none
    /// repeats), and strings of printable ASCII with nothing to escape. Details are stored canonical, so this holds
    /// for nearly every stored record, whose details then hash exactly as stored.
    static func isCanonicalPlainASCII(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard text.count >= 2, text[0] == 123, text[text.count - 1] == 125 else { return false }
        if text.count == 2 { return true }
        var index = 1
        /// The bytes between the quotes of the string at `index`, moving past it; nil if it is not a plain string.
        func string() -> Slice<UnsafeBufferPointer<UInt8>>? {
            guard index < text.count, text[index] == 34 else { return nil }
            index += 1
            let start = index
            while index < text.count {
                let c = text[index]
                if c == 34 {
                    index += 1
                    return text[start..<(index - 1)]
                }
                guard c >= 0x20, c < 0x80, c != 92 else { return nil }
                index += 1
            }
            return nil
        }
        var previousKey: Slice<UnsafeBufferPointer<UInt8>>?
        while true {
            guard let key = string() else { return false }
            if let previousKey, !previousKey.lexicographicallyPrecedes(key) { return false }
            previousKey = key
            guard index < text.count, text[index] == 58 else { return false }
            index += 1
            guard string() != nil, index < text.count else { return false }
            let separator = text[index]
            index += 1
            if separator == 125 { return index == text.count }
            guard separator == 44 else { return false }
        }
    }

    /// Canonical text of a details dictionary (as hashed).
    static func canonical(_ details: [String: String]) -> String {
        let writer = CanonicalJSONWriter(capacity: 64)
        writer.details(details)
        return writer.withBytes { String(decoding: $0, as: UTF8.self) }
    }
}
