import Foundation
import Testing
@testable import InterlockModel
@testable import InterlockEngine

/// Helpers for schedule tests; suites adopt the protocol so the names stay out of the test module's global scope.
protocol ScheduleFixtures {}

extension ScheduleFixtures {
    /// An instant from an ISO 8601 timestamp with an explicit offset, e.g. `2026-03-29T03:00:00+02:00`.
    func instant(_ text: String) throws -> Date {
        try TestClock(iso8601: text).now()
    }

    func zone(_ identifier: String) throws -> TimeZone {
        try #require(TimeZone(identifier: identifier), "unknown time zone \(identifier)")
    }

    func window(_ name: String, _ cron: String, _ duration: String) throws -> MaintenanceWindow {
        MaintenanceWindow(name: name, start: try CronExpression(parsing: cron), duration: try TimeSpan(parsing: duration))
    }

    func freeze(_ name: String, from: String, to: String, reason: String? = nil) throws -> Freeze {
        Freeze(name: name, from: try LocalDateTime(parsing: from), to: try LocalDateTime(parsing: to), reason: reason)
    }

    /// A schedule of windows given as `(name, cron, duration)` in the IANA zone `identifier`.
    func schedule(_ identifier: String, _ windows: [(String, String, String)], freezes: [Freeze] = []) throws -> MaintenanceSchedule {
        MaintenanceSchedule(windows: try windows.map { try window($0.0, $0.1, $0.2) }, freezes: freezes, timeZone: try zone(identifier))
    }

    /// Checks a gate state against the expectation, to the second.
    func expectWindowGate(_ state: WindowGateState, _ expected: ExpectedWindowGate, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        switch (state, expected) {
        case (.open(let window, let remaining), .open(let start, let end, let seconds)),
             (.closingSoon(let window, let remaining, _), .closingSoon(let start, let end, let seconds)):
            #expect(window.start == (try instant(start)), "start", sourceLocation: sourceLocation)
            #expect(window.end == (try instant(end)), "end", sourceLocation: sourceLocation)
            #expect(remaining == TimeInterval(seconds), "remaining", sourceLocation: sourceLocation)
        case (.closed(let next), .closed(let expectedNext)):
            #expect(next?.start == (try expectedNext.map(instant)), "next opening", sourceLocation: sourceLocation)
        default:
            Issue.record("expected \(expected), got \(state)", sourceLocation: sourceLocation)
        }
    }
}

/// What a `window` gate should say at an instant; instants as ISO 8601 with offsets.
enum ExpectedWindowGate: Sendable, CustomStringConvertible {
    case open(start: String, end: String, remaining: Int)
    case closingSoon(start: String, end: String, remaining: Int)
    case closed(next: String?)

    var description: String {
        switch self {
        case .open(let start, let end, let remaining): "open \(start)–\(end), \(remaining)s left"
        case .closingSoon(let start, let end, let remaining): "closing soon \(start)–\(end), \(remaining)s left"
        case .closed(let next): "closed, next \(next ?? "none")"
        }
    }
}
