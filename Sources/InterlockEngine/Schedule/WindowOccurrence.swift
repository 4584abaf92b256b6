import Foundation

/// One opening of a maintenance window: the instants it opens and closes (`start <= t < end`), and the site's
/// time zone to show them in plant time.
public struct WindowOccurrence: Sendable, Hashable, CustomStringConvertible {
    /// The window's name from the site (`weekend`).
    public var window: String
    /// The first instant inside the window.
    public var start: Date
    /// The first instant after the window: `start` plus the window's duration in elapsed seconds.
    public var end: Date
    /// The site's time zone, for showing `start` and `end` in plant time.
    public var timeZone: TimeZone

    public init(window: String, start: Date, end: Date, timeZone: TimeZone) {
        self.window = window
        self.start = start
        self.end = end
        self.timeZone = timeZone
    }

    /// Whether `instant` is inside the window (`start <= instant < end`).
    public func contains(_ instant: Date) -> Bool { start <= instant && instant < end }

    /// `'weekend' Sat 2026-11-28 22:00 CET – Sun 2026-11-29 04:00 CET (21:00–03:00 UTC)`.
    public var description: String {
        let zone = SiteTimeZone(timeZone)
        return "'\(window)' \(zone.siteTimeText(start)) – \(zone.siteTimeText(end)) "
            + "(\(SiteTimeZone.utcText(start)) – \(SiteTimeZone.utcText(end)))"
    }
}
