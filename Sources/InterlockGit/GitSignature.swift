import CLibGit2
import Foundation

/// Who made a commit and when: a commit's author or committer line.
public struct GitSignature: Sendable, Hashable, CustomStringConvertible {
    /// The name as written in the commit (lossily decoded if it is not UTF-8).
    public var name: String
    /// The e-mail address as written in the commit.
    public var email: String
    /// The moment, independent of time zone.
    public var time: Date
    /// The writer's offset from UTC in minutes (`+0100` is 60, `-0500` is -300).
    public var offsetMinutes: Int

    public init(name: String, email: String, time: Date, offsetMinutes: Int) {
        self.name = name
        self.email = email
        self.time = time
        self.offsetMinutes = offsetMinutes
    }

    /// Copies a libgit2 signature.
    init(_ signature: UnsafePointer<git_signature>) {
        let value = signature.pointee
        name = decodeLossily(value.name)
        email = decodeLossily(value.email)
        time = Date(timeIntervalSince1970: TimeInterval(value.when.time))
        offsetMinutes = Int(value.when.offset)
    }

    /// The offset as git writes it: `+0100`, `-0500`.
    public var offsetText: String {
        let magnitude = abs(offsetMinutes)
        return (offsetMinutes < 0 ? "-" : "+") + twoDigits(magnitude / 60) + twoDigits(magnitude % 60)
    }

    /// `Jane Doe <jane@x> 2026-11-20 14:03:11 +0100`: the wall-clock time in the writer's own zone.
    public var description: String {
        var seconds = time_t(time.timeIntervalSince1970.rounded(.down)) + time_t(offsetMinutes * 60)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let date = "\(parts.tm_year + 1900)-\(twoDigits(Int(parts.tm_mon) + 1))-\(twoDigits(Int(parts.tm_mday)))"
        let clock = "\(twoDigits(Int(parts.tm_hour))):\(twoDigits(Int(parts.tm_min))):\(twoDigits(Int(parts.tm_sec)))"
        return "\(name) <\(email)> \(date) \(clock) \(offsetText)"
    }
}

private func twoDigits(_ value: Int) -> String {
    value < 10 ? "0\(value)" : "\(value)"
}

/// Decodes a C string from libgit2 as UTF-8, replacing invalid sequences with U+FFFD; nil becomes "".
func decodeLossily(_ text: UnsafePointer<CChar>?) -> String {
    guard let text else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: text, count: strlen(text)), as: UTF8.self)
}

/// Copies the bytes of a C string from libgit2; nil becomes empty.
func copyBytes(_ text: UnsafePointer<CChar>?) -> [UInt8] {
    guard let text else { return [] }
    return Array(UnsafeRawBufferPointer(start: text, count: strlen(text)))
}
