import Foundation

/// The one text form of audit timestamps: ISO 8601, UTC, milliseconds, `Z` — `2026-03-01T12:00:00.123Z`.
///
/// Fixed width, so text order is time order (the database filters with plain string comparison).
/// Formatting and parsing are done by hand: they sit in the hash path of ``AuditVerifier``.
public enum AuditTimestamp {
    /// Milliseconds since 1970 of `date`, rounded to the nearest millisecond.
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// `date` rounded to whole milliseconds, as stored.
    public static func truncated(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds(date)) / 1000)
    }

    /// The length of the formatted text.
    static let textLength = 24

    /// Formats `date` (rounded to milliseconds) as `yyyy-MM-ddTHH:mm:ss.SSSZ`.
    public static func format(_ date: Date) -> String {
        String(unsafeUninitializedCapacity: textLength) { buffer in
            write(date, to: buffer.baseAddress!)
            return textLength
        }
    }

    /// Writes the formatted timestamp's UTF-8 bytes, ``textLength`` of them, at `out`.
    static func write(_ date: Date, to out: UnsafeMutablePointer<UInt8>) {
        let ms = milliseconds(date)
        var days = ms / 86_400_000
        var rest = ms % 86_400_000
        if rest < 0 { rest += 86_400_000; days -= 1 }
        let (year, month, day) = civil(fromDays: days)
        var index = 0
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            var v = value
            while divisor > 0 {
                out[index] = UInt8(truncatingIfNeeded: 48 + v / divisor)
                index += 1
                v %= divisor
                divisor /= 10
            }
        }
        func separator(_ c: UInt8) {
            out[index] = c
            index += 1
        }
        digits(year, 4); separator(45)
        digits(month, 2); separator(45)
        digits(day, 2); separator(84)
        digits(rest / 3_600_000, 2); separator(58)
        digits(rest / 60_000 % 60, 2); separator(58)
        digits(rest / 1000 % 60, 2); separator(46)
        digits(rest % 1000, 3); separator(90)
    }

    /// Parses the exact form written by ``format(_:)``; also accepts no fraction or 1–9 fraction digits
    /// (rounded to milliseconds) and `+00:00` for `Z`. Returns nil for anything else.
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8(parse(utf8:))
    }

    /// ``parse(_:)`` of UTF-8 text, such as a column's stored bytes.
    static func parse(utf8 b: UnsafeBufferPointer<UInt8>) -> Date? {
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || b[10] == 32, b[13] == 58, b[16] == 58 else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<(from + count) {
                let c = b[i]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            return v
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var fraction = 0.0
        if index < b.count, b[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < b.count, b[index] >= 48, b[index] <= 57 {
                fraction += Double(b[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start, index - start <= 9 else { return nil }
        }
        let suffix = b[index...]
        guard suffix.elementsEqual("Z".utf8) || suffix.elementsEqual("+00:00".utf8) else { return nil }
        let days = daysFromCivil(year, month, day)
        let ms = ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + Int64((fraction * 1000).rounded())
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
