import CLibGit2

/// A git object id: the 20-byte SHA-1 of a commit, tree, blob or tag.
///
/// Stored inline (no heap allocation), ordered by its bytes, printed as 40 lowercase hex digits.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible, Comparable {
    // The 20 bytes, big-endian, so that comparing the words compares the bytes.
    private let high: UInt64
    private let middle: UInt64
    private let low: UInt32

    /// The number of bytes in an object id.
    public static let byteCount = 20

    /// Makes an id from exactly 20 raw bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        let array = Array(bytes)
        self = array.withUnsafeBytes { ObjectID(raw: $0) }
    }

    /// Parses 40 hexadecimal digits (either case); nil for anything else, including abbreviated ids.
    public init?(hex: String) {
        let utf8 = hex.utf8
        guard utf8.count == 2 * Self.byteCount else { return nil }
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        var index = 0
        var pending: UInt8? = nil
        for character in utf8 {
            guard let nibble = Self.nibble(character) else { return nil }
            if let high = pending {
                bytes[index] = high << 4 | nibble
                index += 1
                pending = nil
            } else {
                pending = nibble
            }
        }
        self.init(bytes: bytes)
    }

    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= Self.byteCount)
        high = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        middle = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        low = UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    }

    /// Copies a libgit2 oid.
    init(_ oid: git_oid) {
        self = withUnsafeBytes(of: oid.id) { ObjectID(raw: $0) }
    }

    /// Copies the oid behind a pointer libgit2 handed out.
    init(_ oid: UnsafePointer<git_oid>) {
        self.init(oid.pointee)
    }

    /// The id as a libgit2 oid, for passing back into libgit2.
    var oid: git_oid {
        var result = git_oid()
        withUnsafeMutableBytes(of: &result.id) { buffer in
            buffer.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            buffer.storeBytes(of: middle.bigEndian, toByteOffset: 8, as: UInt64.self)
            buffer.storeBytes(of: low.bigEndian, toByteOffset: 16, as: UInt32.self)
        }
        return result
    }

    /// The 20 raw bytes.
    public var bytes: [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(Self.byteCount)
        withUnsafeBytes(of: high.bigEndian) { result.append(contentsOf: $0) }
        withUnsafeBytes(of: middle.bigEndian) { result.append(contentsOf: $0) }
        withUnsafeBytes(of: low.bigEndian) { result.append(contentsOf: $0) }
        return result
    }

    /// The id as 40 lowercase hexadecimal digits.
    public var hex: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        let raw = bytes
        return String(unsafeUninitializedCapacity: 2 * Self.byteCount) { buffer in
            for (index, byte) in raw.enumerated() {
                buffer[2 * index] = digits[Int(byte >> 4)]
                buffer[2 * index + 1] = digits[Int(byte & 0x0F)]
            }
            return 2 * Self.byteCount
        }
    }

    /// The first `length` hex digits, as `git log --oneline` shows them.
    public func abbreviated(_ length: Int = 7) -> String { String(hex.prefix(length)) }

    public var description: String { hex }

    public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool {
        (lhs.high, lhs.middle, lhs.low) < (rhs.high, rhs.middle, rhs.low)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
