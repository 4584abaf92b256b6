import Foundation
import InterlockModel
import Testing
@testable import InterlockEngine

/// Window gates to the second, minimum remaining time, midnight, month, year and leap-day boundaries.
@Suite struct WindowBoundaryTests: ScheduleFixtures {
    /// Plant A's windows (Europe/Berlin): Saturday 22:00 for 6h, weekdays 05:30 for 45m.
    static let plantA = [("weekend", "0 22 * * SAT", "6h"), ("changeover", "30 5 * * MON-FRI", "45m")]

    @Test("weekend window across midnight, to the second", arguments: [
        ("2026-11-21T21:59:59+01:00", ExpectedWindowGate.closed(next: "2026-11-21T22:00:00+01:00")),
        ("2026-11-21T22:00:00+01:00", .open(start: "2026-11-21T22:00:00+01:00", end: "2026-11-22T04:00:00+01:00", remaining: 21_600)),
        ("2026-11-22T00:00:00+01:00", .open(start: "2026-11-21T22:00:00+01:00", end: "2026-11-22T04:00:00+01:00", remaining: 14_400)),
        ("2026-11-22T03:59:59+01:00", .open(start: "2026-11-21T22:00:00+01:00", end: "2026-11-22T04:00:00+01:00", remaining: 1)),
        ("2026-11-22T04:00:00+01:00", .closed(next: "2026-11-23T05:30:00+01:00")),
        ("2026-11-23T05:29:59+01:00", .closed(next: "2026-11-23T05:30:00+01:00")),
        ("2026-11-23T05:30:00+01:00", .open(start: "2026-11-23T05:30:00+01:00", end: "2026-11-23T06:15:00+01:00", remaining: 2_700)),
        ("2026-11-23T06:14:59+01:00", .open(start: "2026-11-23T05:30:00+01:00", end: "2026-11-23T06:15:00+01:00", remaining: 1)),
        ("2026-11-23T06:15:00+01:00", .closed(next: "2026-11-24T05:30:00+01:00")),
        ("2026-11-27T06:15:00+01:00", .closed(next: "2026-11-28T22:00:00+01:00")),
    ])
    func boundariesToTheSecond(at: String, expected: ExpectedWindowGate) throws {
        let clock = try TestClock(iso8601: at)
        try expectWindowGate(try schedule("Europe/Berlin", Self.plantA).windowGate(at: clock.now()), expected)
    }

    @Test("minimum remaining time: less than the minimum is closing soon, exactly the minimum is open", arguments: [
        ("2026-11-22T03:29:59+01:00", ExpectedWindowGate.open(start: "2026-11-21T22:00:00+01:00", end: "2026-11-22T04:00:00+01:00", remaining: 1_801)),
        ("2026-11-22T03:30:00+01:00", .open(start: "2026-11-21T22:00:00+01:00", end: "2026-11-22T04:00:00+01:00", remaining: 1_800)),
        ("2026-11-22T03:30:01+01:00", .closingSoon(start: "2026-11-21T22:00:00+01:00", end: "2026-11-22T04:00:00+01:00", remaining: 1_799)),
        ("2026-11-22T03:31:00+01:00", .closingSoon(start: "2026-11-21T22:00:00+01:00", end: "2026-11-22T04:00:00+01:00", remaining: 1_740)),
        ("2026-11-22T03:59:59+01:00", .closingSoon(start: "2026-11-21T22:00:00+01:00", end: "2026-11-22T04:00:00+01:00", remaining: 1)),
        ("2026-11-22T04:00:00+01:00", .closed(next: "2026-11-23T05:30:00+01:00")),
    ])
    func minimumRemaining(at: String, expected: ExpectedWindowGate) throws {
        let gate = try schedule("Europe/Berlin", Self.plantA).windowGate(at: try instant(at), minimumRemaining: try TimeSpan(parsing: "30m"))
        try expectWindowGate(gate, expected)
    }

    @Test func minimumLongerThanTheWindowNeverOpens() throws {
        let gate = try schedule("Europe/Berlin", Self.plantA)
            .windowGate(at: try instant("2026-11-23T05:30:00+01:00"), minimumRemaining: try TimeSpan(parsing: "1h"))
        guard case .closingSoon(_, let remaining, let minimum) = gate else { Issue.record("got \(gate)"); return }
        #expect(remaining == 2_700)
        #expect(minimum.seconds == 3_600)
        #expect(!gate.allowsStart)
    }

    @Test func clockMovingThroughAWindow() throws {
        let plant = try schedule("Europe/Berlin", Self.plantA)
        let clock = try TestClock(iso8601: "2026-11-21T21:59:59+01:00")
        #expect(!plant.windowGate(at: clock.now()).allowsStart)
        clock.advance(by: 1)
        #expect(plant.windowGate(at: clock.now()).allowsStart)
        clock.advance(by: 6 * 3600 - 1)
        #expect(plant.windowGate(at: clock.now()).allowsStart)
        clock.advance(by: 1)
        #expect(!plant.windowGate(at: clock.now()).allowsStart)
    }

    @Test("across the year end", arguments: [
        ("2026-12-31T21:59:59+01:00", ExpectedWindowGate.closed(next: "2026-12-31T22:00:00+01:00")),
        ("2026-12-31T22:00:00+01:00", .open(start: "2026-12-31T22:00:00+01:00", end: "2027-01-01T04:00:00+01:00", remaining: 21_600)),
        ("2027-01-01T00:00:00+01:00", .open(start: "2026-12-31T22:00:00+01:00", end: "2027-01-01T04:00:00+01:00", remaining: 14_400)),
        ("2027-01-01T03:59:59+01:00", .open(start: "2026-12-31T22:00:00+01:00", end: "2027-01-01T04:00:00+01:00", remaining: 1)),
        ("2027-01-01T04:00:00+01:00", .closed(next: "2027-12-31T22:00:00+01:00")),
    ])
    func acrossTheYearEnd(at: String, expected: ExpectedWindowGate) throws {
        try expectWindowGate(try schedule("Europe/Berlin", [("new-year", "0 22 31 12 *", "6h")]).windowGate(at: try instant(at)), expected)
    }

    @Test func dayThirtyOneSkipsShortMonths() throws {
        let plant = try schedule("Europe/Berlin", [("month-end", "0 22 31 * *", "2h")])
        let starts = plant.occurrences(from: try instant("2026-04-01T00:00:00+02:00"), count: 3).map(\.start)
        #expect(starts == [try instant("2026-05-31T22:00:00+02:00"), try instant("2026-07-31T22:00:00+02:00"),
                           try instant("2026-08-31T22:00:00+02:00")])
    }

    @Test func leapDayWindowWaitsForTheNextFebruary29() throws {
        let plant = try schedule("Europe/Berlin", [("leap", "0 1 29 2 *", "1h")])
        let next = plant.nextOpening(after: try instant("2026-01-01T00:00:00+01:00"))
        #expect(next?.start == (try instant("2028-02-29T01:00:00+01:00")))
        #expect(next?.end == (try instant("2028-02-29T02:00:00+01:00")))
        // 2100 is not a leap year: eight years between February 29ths, still inside the search horizon.
        let far = plant.nextOpening(after: try instant("2096-03-01T00:00:00+01:00"))
        #expect(far?.start == (try instant("2104-02-29T01:00:00+01:00")))
    }

    @Test func impossibleDateNeverOpens() throws {
        let plant = try schedule("UTC", [("never", "0 0 30 2 *", "1h")])
        let at = try instant("2026-01-01T00:00:00Z")
        #expect(plant.nextOpening(after: at) == nil)
        #expect(plant.occurrences(from: at, count: 3).isEmpty)
        try expectWindowGate(plant.windowGate(at: at), .closed(next: nil))
        #expect(plant.windowGate(at: at).description == "closed; none of the site's windows opens again within the next 9 years")
    }

    @Test func dayOfMonthAndDayOfWeekAreOred() throws {
        let plant = try schedule("UTC", [("first-or-monday", "0 6 1 * MON", "1h")])
        let starts = plant.occurrences(from: try instant("2026-06-02T00:00:00Z"), count: 6).map(\.start)
        #expect(starts == (try ["2026-06-08T06:00:00Z", "2026-06-15T06:00:00Z", "2026-06-22T06:00:00Z", "2026-06-29T06:00:00Z",
                                "2026-07-01T06:00:00Z", "2026-07-06T06:00:00Z"].map(instant)))
    }

    @Test("UTC site", arguments: [
        ("2026-06-06T21:59:59Z", ExpectedWindowGate.closed(next: "2026-06-06T22:00:00Z")),
        ("2026-06-06T22:00:00Z", .open(start: "2026-06-06T22:00:00Z", end: "2026-06-07T04:00:00Z", remaining: 21_600)),
        ("2026-06-07T03:59:59Z", .open(start: "2026-06-06T22:00:00Z", end: "2026-06-07T04:00:00Z", remaining: 1)),
        ("2026-06-07T04:00:00Z", .closed(next: "2026-06-13T22:00:00Z")),
    ])
    func utcSite(at: String, expected: ExpectedWindowGate) throws {
        try expectWindowGate(try schedule("UTC", [("weekend", "0 22 * * SAT", "6h")]).windowGate(at: try instant(at)), expected)
    }

    @Test func occurrencesMergeWindowsInOrder() throws {
        let plant = try schedule("Europe/Berlin", Self.plantA)
        let list = plant.occurrences(from: try instant("2026-11-20T06:15:00+01:00"), count: 4)
        #expect(list.map(\.window) == ["weekend", "changeover", "changeover", "changeover"])
        #expect(list.map(\.start) == (try ["2026-11-21T22:00:00+01:00", "2026-11-23T05:30:00+01:00",
                                           "2026-11-24T05:30:00+01:00", "2026-11-25T05:30:00+01:00"].map(instant)))
        #expect(list.map(\.end) == (try ["2026-11-22T04:00:00+01:00", "2026-11-23T06:15:00+01:00",
                                         "2026-11-24T06:15:00+01:00", "2026-11-25T06:15:00+01:00"].map(instant)))
    }

    @Test func occurrencesStartWithTheWindowAlreadyOpen() throws {
        let plant = try schedule("Europe/Berlin", Self.plantA)
        let list = plant.occurrences(from: try instant("2026-11-22T01:00:00+01:00"), count: 3)
        #expect(list.map(\.window) == ["weekend", "changeover", "changeover"])
        #expect(list.map(\.start) == (try ["2026-11-21T22:00:00+01:00", "2026-11-23T05:30:00+01:00",
                                           "2026-11-24T05:30:00+01:00"].map(instant)))
        // A window opening exactly at `from` is listed once.
        let exact = plant.occurrences(from: try instant("2026-11-21T22:00:00+01:00"), count: 2)
        #expect(exact.map(\.start) == (try ["2026-11-21T22:00:00+01:00", "2026-11-23T05:30:00+01:00"].map(instant)))
    }

    @Test func overlappingWindowsReportTheOneOpenLongest() throws {
        let plant = try schedule("UTC", [("long", "0 22 * * *", "6h"), ("short", "0 23 * * *", "30m")])
        let open = plant.openWindow(at: try instant("2026-06-06T23:10:00Z"))
        #expect(open?.window == "long")
        #expect(open?.end == (try instant("2026-06-07T04:00:00Z")))
    }

    @Test func siteWithoutWindowsNeverOpens() throws {
        let plant = try schedule("Europe/Berlin", [])
        let at = try instant("2026-11-21T22:00:00+01:00")
        #expect(plant.windowGate(at: at, minimumRemaining: try TimeSpan(parsing: "30m")) == .noWindows)
        #expect(plant.openWindow(at: at) == nil)
        #expect(plant.nextOpening(after: at) == nil)
        #expect(plant.occurrences(from: at, count: 5).isEmpty)
        #expect(WindowGateState.noWindows.description.contains("no maintenance windows"))
    }

    @Test func descriptionsInPlantTimeAndUTC() throws {
        let plant = try schedule("Europe/Berlin", Self.plantA)
        #expect(plant.windowGate(at: try instant("2026-11-22T02:48:00+01:00")).description
            == "window 'weekend' open until 04:00 CET (Sun 2026-11-22), 1h12m left")
        #expect(plant.windowGate(at: try instant("2026-11-22T03:31:00+01:00"), minimumRemaining: try TimeSpan(parsing: "30m")).description
            == "window 'weekend' closes at 04:00 CET (Sun 2026-11-22), 29m left, less than the minimum of 30m: no change starts in this window")
        #expect(plant.windowGate(at: try instant("2026-11-27T07:00:00+01:00")).description
            == "closed; next window 'weekend' opens Sat 2026-11-28 22:00 CET (21:00 UTC)")
        let summer = plant.windowGate(at: try instant("2026-07-03T07:00:00+02:00")).description
        #expect(summer == "closed; next window 'weekend' opens Sat 2026-07-04 22:00 CEST (20:00 UTC)")
        let chicago = try schedule("America/Chicago", [("late", "30 22 * * *", "1h")])
        #expect(chicago.windowGate(at: try instant("2026-07-03T12:00:00-05:00")).description
            == "closed; next window 'late' opens Fri 2026-07-03 22:30 CDT (Sat 2026-07-04 03:30 UTC)")
    }
}
