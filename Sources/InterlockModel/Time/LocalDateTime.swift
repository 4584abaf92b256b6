/// A wall-clock date and time without a time zone, as written for freezes (`2026-12-20` or
/// `2026-12-20T18:00`). The site's time zone turns it into an instant.
public struct LocalDateTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    /// True when only a date was written.
    public var isDateOnly: Bool

    public struct ParseError: Error, Sendable {}

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, isDateOnly: Bool = false) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.isDateOnly = isDateOnly
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM` or `YYYY-MM-DD HH:MM`, checking the calendar.
    public init(parsing text: String) throws {
        let datePart = text.prefix(10)
        let dateFields = datePart.split(separator: "-")
        guard datePart.count == 10, dateFields.count == 3,
              let y = Int(dateFields[0]), let m = Int(dateFields[1]), let d = Int(dateFields[2]),
              dateFields[0].count == 4, (1...12).contains(m), d >= 1, d <= Self.daysIn(month: m, year: y)
        else { throw ParseError() }
        year = y
        month = m
        day = d
        let rest = text.dropFirst(10)
        if rest.isEmpty {
            hour = 0
            minute = 0
            isDateOnly = true
            return
        }
        guard rest.first == "T" || rest.first == " " else { throw ParseError() }
        let timeFields = rest.dropFirst().split(separator: ":")
        guard timeFields.count == 2, timeFields.allSatisfy({ $0.count == 2 }),
              let h = Int(timeFields[0]), let mi = Int(timeFields[1]), (0...23).contains(h), (0...59).contains(mi)
        else { throw ParseError() }
        hour = h
        minute = mi
        isDateOnly = false
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public var description: String {
        let date = "\(year)-\(Self.pad(month))-\(Self.pad(day))"
        return isDateOnly ? date : "\(date)T\(Self.pad(hour)):\(Self.pad(minute))"
    }

    private static func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    private var key: [Int] { [year, month, day, hour, minute] }
    public static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool { lhs.key.lexicographicallyPrecedes(rhs.key) }
}
