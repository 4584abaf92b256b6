import Foundation
import InterlockModel

/// The instants a maintenance window opens, walking plant-local calendar days and, within a day, the cron
/// expression's hours × minutes in order — never minute by minute. Local times go through `SiteTimeZone`: a start
/// in the spring-forward gap opens when the clocks jump, one in the repeated fall-back hour opens once, at its
/// first occurrence. Starts that land on the same instant (02:00 and 02:30 both in the gap) count once.
struct WindowStarts: Sendable {
    let window: MaintenanceWindow
    let zone: SiteTimeZone
    /// Seconds after local midnight the cron expression matches, ascending.
    let secondsOfDay: [Int]

    init(_ window: MaintenanceWindow, zone: SiteTimeZone) {
        self.window = window
        self.zone = zone
        secondsOfDay = window.start.hours.sorted().flatMap { hour in
            window.start.minutes.sorted().map { minute in hour * 3600 + minute * 60 }
        }
    }

    /// How far ahead a search looks before giving up: a little over 8 years, so `29 2` finds the next Feb 29.
    static let horizonDays = 9 * 366

    private func matches(_ day: CivilDate) -> Bool {
        window.start.matchesDay(dayOfMonth: day.day, month: day.month, weekday: day.weekday)
    }

    private func occurrence(_ start: Date) -> WindowOccurrence {
        WindowOccurrence(window: window.name, start: start,
                         end: start.addingTimeInterval(TimeInterval(window.duration.seconds)), timeZone: zone.timeZone)
    }

    /// Up to `count` openings at or after `instant` (strictly after when `strictly`), ascending, within the horizon.
    func openings(from instant: Date, strictly: Bool = false, count: Int) -> [WindowOccurrence] {
        guard count > 0, !secondsOfDay.isEmpty else { return [] }
        var result: [WindowOccurrence] = []
        var last: Date?
        // Starts written before this wall time resolve before `instant` (unless moved forward by a gap): skip them
        // without asking the time zone.
        let earliestWall = zone.wallSeconds(at: instant) - zone.recentShift(before: instant).gap - 1
        // Start a day early: a start late on the previous local day may resolve past midnight in exotic zones.
        var day = zone.localDay(at: instant).adding(days: -1)
        for _ in 0...Self.horizonDays {
            if matches(day) {
                for second in secondsOfDay where day.daysSinceEpoch * 86_400 + second >= earliestWall {
                    let start = zone.instant(day: day, secondOfDay: second)
                    guard strictly ? start > instant : start >= instant else { continue }
                    if let last, start <= last { continue }
                    result.append(occurrence(start))
                    last = start
                    if result.count == count { return result }
                }
            }
            day = day.adding(days: 1)
        }
        return result
    }

    /// The opening that contains `instant`, if any: the latest start at or before it, when it has not ended yet.
    func open(at instant: Date) -> WindowOccurrence? {
        guard !secondsOfDay.isEmpty else { return nil }
        let earliest = instant.addingTimeInterval(-TimeInterval(window.duration.seconds))
        let firstDay = zone.localDay(at: earliest).adding(days: -1)
        var day = zone.localDay(at: instant).adding(days: 1)
        // Starts written after this wall time resolve after `instant` (unless in a repeated hour): skip them.
        let latestWall = zone.wallSeconds(at: instant) + zone.recentShift(before: instant).repeated + 1
        while day >= firstDay {
            if matches(day) {
                for second in secondsOfDay.reversed() where day.daysSinceEpoch * 86_400 + second <= latestWall {
                    let start = zone.instant(day: day, secondOfDay: second)
                    guard start <= instant else { continue }
                    let found = occurrence(start)
                    return found.contains(instant) ? found : nil
                }
            }
            day = day.adding(days: -1)
        }
        return nil
    }
}
