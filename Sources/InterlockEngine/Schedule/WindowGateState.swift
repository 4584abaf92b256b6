import Foundation
import InterlockModel

/// The state of a site's `window` gate at one instant, as the executor and `interlock queue` see it.
public enum WindowGateState: Sendable, Hashable, CustomStringConvertible {
    /// A window is open with `remaining` seconds left, at least the site's minimum: a change may start.
    case open(WindowOccurrence, remaining: TimeInterval)
    /// A window is open but fewer than `minimum` seconds are left: the executor must not start a change.
    case closingSoon(WindowOccurrence, remaining: TimeInterval, minimum: TimeSpan)
    /// No window is open; `next` is the next opening, `nil` when none opens within about 9 years.
    case closed(next: WindowOccurrence?)
    /// The site defines no maintenance windows, so a `window` gate never opens.
    case noWindows

    /// Whether a change gated on a window may start now.
    public var allowsStart: Bool { if case .open = self { true } else { false } }

    /// One line for people, in plant time with UTC where it helps, e.g.
    /// `window 'weekend' open until 04:00 CET (Sun 2026-11-22), 1h12m left` or
    /// `closed; next window 'weekend' opens Sat 2026-11-28 22:00 CET (21:00 UTC)`.
    public var description: String {
        switch self {
        case .open(let window, let remaining):
            let zone = SiteTimeZone(window.timeZone)
            return "window '\(window.window)' open until \(zone.clockText(window.end)) (\(zone.dayText(window.end))), "
                + "\(Self.durationText(remaining)) left"
        case .closingSoon(let window, let remaining, let minimum):
            let zone = SiteTimeZone(window.timeZone)
            return "window '\(window.window)' closes at \(zone.clockText(window.end)) (\(zone.dayText(window.end))), "
                + "\(Self.durationText(remaining)) left, less than the minimum of \(minimum): no change starts in this window"
        case .closed(let next?):
            let zone = SiteTimeZone(next.timeZone)
            let utc = SiteTimeZone(SiteTimeZone.utc)
            let utcText = utc.dayText(next.start) == zone.dayText(next.start)
                ? utc.clockText(next.start) : SiteTimeZone.utcText(next.start)
            return "closed; next window '\(next.window)' opens \(zone.siteTimeText(next.start)) (\(utcText))"
        case .closed(nil):
            return "closed; none of the site's windows opens again within the next 9 years"
        case .noWindows:
            return "closed; the site defines no maintenance windows, so a change gated on a window never starts "
                + "(add a window to the site or change its gate policy)"
        }
    }

    /// `1h12m`; seconds only under a minute.
    static func durationText(_ seconds: TimeInterval) -> String {
        let whole = max(0, Int(seconds.rounded(.down)))
        return TimeSpan(seconds: whole >= 60 ? whole - whole % 60 : whole).description
    }
}

extension MaintenanceSchedule {
    /// The `window` gate at `instant`. With `minimumRemaining`, an open window with less than that left is
    /// `closingSoon` (exactly the minimum left is still `open`).
    public func windowGate(at instant: Date, minimumRemaining: TimeSpan? = nil) -> WindowGateState {
        guard !windows.isEmpty else { return .noWindows }
        guard let window = openWindow(at: instant) else { return .closed(next: nextOpening(after: instant)) }
        let remaining = window.end.timeIntervalSince(instant)
        if let minimumRemaining, remaining < TimeInterval(minimumRemaining.seconds) {
            return .closingSoon(window, remaining: remaining, minimum: minimumRemaining)
        }
        return .open(window, remaining: remaining)
    }
}
