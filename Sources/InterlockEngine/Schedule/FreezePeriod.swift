import Foundation
import InterlockModel

/// A freeze as an interval of instants (`start <= t < end`) in the site's time zone:
/// - `from` as a date only starts at 00:00 plant time that day; with a time, at that time;
/// - `to` as a date only includes that whole day: the freeze ends at 00:00 plant time the next day;
///   with a time, it ends at that time (the minute written is no longer frozen).
/// A freeze is never shorter than written: a `from` in the repeated fall-back hour takes the first occurrence,
/// a `to` there the second; a time in the spring-forward gap means the moment the clocks jump.
public struct FreezePeriod: Sendable, Hashable, CustomStringConvertible {
    public var freeze: Freeze
    public var start: Date
    public var end: Date
    public var timeZone: TimeZone

    public init(_ freeze: Freeze, zone: SiteTimeZone) {
        self.freeze = freeze
        start = zone.instant(of: freeze.from, repeated: .earlier)
        if freeze.to.isDateOnly {
            let day = CivilDate(year: freeze.to.year, month: freeze.to.month, day: freeze.to.day)
            end = zone.instant(day: day.adding(days: 1), secondOfDay: 0)
        } else {
            end = zone.instant(of: freeze.to, repeated: .later)
        }
        timeZone = zone.timeZone
    }

    /// Whether no change may start at `instant`.
    public func contains(_ instant: Date) -> Bool { start <= instant && instant < end }

    /// `'year-end' Sat 2026-12-19 00:00 CET – Thu 2027-01-07 00:00 CET (… UTC)`.
    public var description: String {
        let zone = SiteTimeZone(timeZone)
        return "'\(freeze.name)' \(zone.siteTimeText(start)) – \(zone.siteTimeText(end)) "
            + "(\(SiteTimeZone.utcText(start)) – \(SiteTimeZone.utcText(end)))"
    }
}

/// Whether a freeze stops changes from starting at an instant.
public enum FreezeState: Sendable, Hashable, CustomStringConvertible {
    /// Inside `freeze`; no change starts before `until`, the end of this freeze and of any freeze overlapping or
    /// directly following it.
    case frozen(Freeze, until: Date, timeZone: TimeZone)
    /// No freeze applies. (Not `.none`, which reads as `Optional.none` wherever the state is optional.)
    case notFrozen

    public var isFrozen: Bool { if case .frozen = self { true } else { false } }

    /// `frozen by 'year-end' until Thu 2027-01-07 00:00 CET (Wed 2027-01-06 23:00 UTC): Plant holiday shutdown…`.
    public var description: String {
        switch self {
        case .notFrozen:
            return "no freeze"
        case .frozen(let freeze, let until, let timeZone):
            let text = "frozen by '\(freeze.name)' until \(SiteTimeZone(timeZone).siteTimeText(until)) (\(SiteTimeZone.utcText(until)))"
            return freeze.reason.map { "\(text): \($0)" } ?? text
        }
    }
}

extension MaintenanceSchedule {
    /// The freeze in force at `instant`; when several are, the one that ends last.
    public func freeze(at instant: Date) -> Freeze? {
        periods.filter { $0.contains(instant) }.max { $0.end < $1.end }?.freeze
    }

    /// Whether a freeze stops changes at `instant`, and until when.
    public func freezeState(at instant: Date) -> FreezeState {
        guard let current = periods.filter({ $0.contains(instant) }).max(by: { $0.end < $1.end }) else { return .notFrozen }
        var until = current.end
        for period in periods where period.start <= until && period.end > until { until = period.end }
        return .frozen(current.freeze, until: until, timeZone: zone.timeZone)
    }

    /// Up to `count` freezes in force at or after `from` (including one in force at `from`), by start.
    public func freezePeriods(from: Date, count: Int) -> [FreezePeriod] {
        Array(periods.filter { $0.end > from }.prefix(max(0, count)))
    }
}
