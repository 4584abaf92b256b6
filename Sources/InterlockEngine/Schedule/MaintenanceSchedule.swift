import Foundation
import InterlockModel

/// When changes may start at a site: its maintenance windows and freezes turned into instants in the site's
/// IANA time zone. Pure and clock-free — pass the instant in (from an `InterlockClock`).
///
/// Rules, all in plant time:
/// - A window opens whenever its cron expression matches the local wall clock (day-of-month and day-of-week are
///   ORed when both are restricted, as in cron) and stays open for its duration: `start <= t < end`.
/// - A start time that does not exist that day (02:30 on the spring-forward night, when the clocks jump from
///   02:00 to 03:00) opens the window at the first instant after the gap, 03:00 local, as cron runs jobs from the
///   skipped hour right after the change.
/// - A start time that happens twice (02:30 on the fall-back night, when 02:00–03:00 repeats) opens the window
///   once, at the first occurrence (still summer time), as cron does not run twice.
/// - Durations are elapsed time: a 6h window across the fall-back night closes 6 real hours after it opened,
///   which the wall clock shows as one hour earlier than naive addition (and one hour later in spring).
/// - Searches look about 9 years ahead (enough for `29 2` expressions) and report nothing beyond.
public struct MaintenanceSchedule: Sendable {
    public let windows: [MaintenanceWindow]
    public let freezes: [Freeze]
    public let zone: SiteTimeZone
    private let starts: [WindowStarts]
    /// Every freeze as an interval of instants, by start.
    let periods: [FreezePeriod]

    public init(windows: [MaintenanceWindow], freezes: [Freeze], timeZone: TimeZone) {
        self.windows = windows
        self.freezes = freezes
        zone = SiteTimeZone(timeZone)
        starts = windows.map { WindowStarts($0, zone: SiteTimeZone(timeZone)) }
        periods = freezes.map { FreezePeriod($0, zone: SiteTimeZone(timeZone)) }
            .sorted { ($0.start, $0.end, $0.freeze.name) < ($1.start, $1.end, $1.freeze.name) }
    }

    /// The schedule of a site; `nil` when its `timezone` is not a known IANA zone (validation reports that).
    public init?(site: Site) {
        guard let timeZone = site.timeZone else { return nil }
        self.init(windows: site.windows, freezes: site.freezes, timeZone: timeZone)
    }

    /// The next `count` window openings, merged across all windows and sorted by start (then name): first any
    /// window already open at `from` (started before it), then the openings at or after `from`.
    public func occurrences(from: Date, count: Int) -> [WindowOccurrence] {
        guard count > 0 else { return [] }
        let open = starts.compactMap { $0.open(at: from) }.filter { $0.start < from }
        let upcoming = starts.flatMap { $0.openings(from: from, count: count) }
        return Array((open.sorted(by: Self.byStart) + upcoming.sorted(by: Self.byStart)).prefix(count))
    }

    /// The window open at `instant` (`start <= instant < end`); when several are, the one that stays open longest.
    public func openWindow(at instant: Date) -> WindowOccurrence? {
        starts.compactMap { $0.open(at: instant) }
            .max { ($0.end, $1.start, $1.window) < ($1.end, $0.start, $0.window) }
    }

    /// The first window opening strictly after `instant`, across all windows.
    public func nextOpening(after instant: Date) -> WindowOccurrence? {
        starts.compactMap { $0.openings(from: instant, strictly: true, count: 1).first }.min(by: Self.byStart)
    }

    static func byStart(_ a: WindowOccurrence, _ b: WindowOccurrence) -> Bool {
        (a.start, a.window) < (b.start, b.window)
    }
}
