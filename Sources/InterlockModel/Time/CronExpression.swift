/// A five-field cron expression (`minute hour day-of-month month day-of-week`) as used for the start of
/// maintenance windows. Supports `*`, lists, ranges, steps and the names `JAN`–`DEC` and `SUN`–`SAT`
/// (`0` and `7` are both Sunday). Times are interpreted in the site's time zone by the scheduler.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public var minutes: Set<Int>
    public var hours: Set<Int>
    public var daysOfMonth: Set<Int>
    public var months: Set<Int>
    /// 0 = Sunday … 6 = Saturday.
    public var daysOfWeek: Set<Int>
    /// Whether day-of-month / day-of-week were restricted (cron ORs them when both are).
    public var daysOfMonthRestricted: Bool
    public var daysOfWeekRestricted: Bool
    public var source: String

    public var description: String { source }

    private static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    private static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    public init(parsing text: String) throws {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw ParseError(description: "expected 5 fields (minute hour day-of-month month day-of-week), found \(parts.count)")
        }
        source = parts.joined(separator: " ")
        minutes = try Self.field(parts[0], name: "minute", range: 0...59, names: nil)
        hours = try Self.field(parts[1], name: "hour", range: 0...23, names: nil)
        daysOfMonth = try Self.field(parts[2], name: "day-of-month", range: 1...31, names: nil)
        months = try Self.field(parts[3], name: "month", range: 1...12, names: (Self.monthNames, 1))
        var weekdays = try Self.field(parts[4], name: "day-of-week", range: 0...7, names: (Self.dayNames, 0))
        if weekdays.remove(7) != nil { weekdays.insert(0) }
        daysOfWeek = weekdays
        daysOfMonthRestricted = parts[2] != "*" && parts[2] != "?"
        daysOfWeekRestricted = parts[4] != "*" && parts[4] != "?"
    }

    /// Whether a local calendar day matches the day fields (cron semantics: OR when both are restricted).
    public func matchesDay(dayOfMonth: Int, month: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let domMatch = daysOfMonth.contains(dayOfMonth)
        let dowMatch = daysOfWeek.contains(weekday)
        switch (daysOfMonthRestricted, daysOfWeekRestricted) {
        case (true, true): return domMatch || dowMatch
        case (true, false): return domMatch
        case (false, true): return dowMatch
        case (false, false): return true
        }
    }

    private static func field(_ text: String, name: String, range: ClosedRange<Int>, names: ([String], Int)?)
        throws -> Set<Int>
    {
        var result = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw ParseError(description: "empty list item in the \(name) field '\(text)'") }
            var rangePart = Substring(item)
            var step = 1
            if let slash = item.firstIndex(of: "/") {
                rangePart = item[..<slash]
                guard let s = Int(item[item.index(after: slash)...]), s > 0 else {
                    throw ParseError(description: "bad step in the \(name) field '\(item)'")
                }
                step = s
            }
            let bounds: ClosedRange<Int>
            if rangePart == "*" || rangePart == "?" {
                bounds = range
            } else if let dash = rangePart.firstIndex(of: "-") {
                let low = try value(rangePart[..<dash], name: name, range: range, names: names)
                let high = try value(rangePart[rangePart.index(after: dash)...], name: name, range: range, names: names)
                guard low <= high else {
                    throw ParseError(description: "the range \(rangePart) in the \(name) field runs backwards")
                }
                bounds = low...high
            } else {
                let single = try value(rangePart, name: name, range: range, names: names)
                bounds = single...(step > 1 ? range.upperBound : single)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    private static func value(_ text: Substring, name: String, range: ClosedRange<Int>, names: ([String], Int)?)
        throws -> Int
    {
        if let number = Int(text) {
            guard range.contains(number) else {
                throw ParseError(description: "\(number) is out of range for the \(name) field (\(range.lowerBound)–\(range.upperBound))")
            }
            return number
        }
        if let (list, offset) = names, let index = list.firstIndex(of: text.uppercased()) {
            return index + offset
        }
        throw ParseError(description: "'\(text)' is not a valid \(name)")
    }
}
