import Crypto
import Foundation
import Testing
@testable import InterlockStore

/// The pieces that let verification hash a row straight from its stored bytes must agree, byte for byte, with the
/// `String`-based ones they stand in for.
@Suite("Hashing stored bytes")
struct StoredBytesTests {
    /// Byte strings of every length up to 40 with each interesting byte at each position, plus random ones.
    static let samples: [[UInt8]] = {
        var samples: [[UInt8]] = [[]]
        for length in 1...40 {
            let plain = Array(repeating: UInt8(ascii: "a"), count: length)
            samples.append(plain)
            for position in 0..<length {
                for special: UInt8 in [0, 0x01, 0x09, 0x0A, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xC3, 0xE6, 0xFF] {
                    var bytes = plain
                    bytes[position] = special
                    samples.append(bytes)
                }
            }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            samples.append((0..<Int.random(in: 0...70, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        samples.append(Array("é/日本 \"quoted\" \\ tab\t".utf8))
        return samples
    }()

    @Test func theWordAtATimeScanFindsExactlyTheBytesAByteAtATimeScanFinds() {
        for bytes in Self.samples {
            bytes.withUnsafeBufferPointer { buffer in
                let escaped = buffer.contains { (byte: UInt8) -> Bool in byte < 0x20 || byte == 34 || byte == 92 }
                let nonASCII = buffer.contains { (byte: UInt8) -> Bool in byte >= 0x80 }
                #expect(containsEscapedOrNonASCII(buffer, nonASCII: false) == escaped, "\(bytes)")
                #expect(containsEscapedOrNonASCII(buffer, nonASCII: true) == (escaped || nonASCII), "\(bytes)")
            }
        }
    }

    @Test func storedTextIsWrittenAsTheStringGRDBReadsFromIt() {
        let fromBytes = CanonicalJSONWriter()
        let fromString = CanonicalJSONWriter()
        for bytes in Self.samples {
            fromBytes.reset()
            fromString.reset()
            bytes.withUnsafeBufferPointer { buffer in
                fromBytes.storedText(buffer)
                // GRDB's reading: String(cString:) of the NUL-terminated text.
                fromString.string(String(cString: buffer.map { $0 } + [0]))
            }
            #expect(fromBytes.bytes == fromString.bytes, "\(bytes)")
        }
    }

    @Test func integersAreWrittenInPlainDecimal() {
        let writer = CanonicalJSONWriter(capacity: 1)
        for value: Int64 in [0, 1, 9, 10, 99, 100, -1, -10, 4242, 1_772_366_400_123, .max, .min, .max - 1, .min + 1] {
            writer.reset()
            writer.integer(value)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == String(value))
        }
    }

    @Test func chainHashesCompareAsTheirStringsDo() {
        let hash = String(repeating: "ab", count: 32)
        let other = String(repeating: "ab", count: 31) + "ac"
        #expect(ChainHash(hash) == ChainHash(hash))
        #expect(ChainHash(hash) != ChainHash(other))
        #expect(ChainHash(hash).text == hash)
        hash.utf8.withContiguousStorageIfAvailable { buffer in
            #expect(ChainHash(utf8: buffer) == ChainHash(hash))
        }
        // Not 64 ASCII characters: kept as strings, compared as strings (canonical equivalence included).
        for text in ["unreadable", "", String(repeating: "é", count: 32), hash + "0", String(repeating: "\"", count: 64)] {
            #expect(ChainHash(text) == ChainHash(text))
            #expect(ChainHash(text) != ChainHash(hash))
            #expect(ChainHash(text).text == text)
            text.utf8.withContiguousStorageIfAvailable { buffer in #expect(ChainHash(utf8: buffer) == nil) }
        }
        let kelvin = String(repeating: "\u{212A}", count: 64)  // KELVIN SIGN, canonically equivalent to K
        let ascii = String(repeating: "K", count: 64)
        #expect(kelvin == ascii)
        #expect(ChainHash(kelvin) == ChainHash(ascii))
    }

    @Test func chainHashesRecogniseTheirDigest() {
        let digest = SHA256.hash(data: Data("record".utf8))
        let hex = digest.map { String(format: "%02x", $0) }.joined()
        #expect(ChainHash(hex).isHex(of: digest))
        #expect(!ChainHash(hex.uppercased()).isHex(of: digest))
        #expect(!ChainHash(String(hex.dropLast()) + "0").isHex(of: SHA256.hash(data: Data("other".utf8))))
        #expect(!ChainHash("unreadable").isHex(of: digest))
    }
}
