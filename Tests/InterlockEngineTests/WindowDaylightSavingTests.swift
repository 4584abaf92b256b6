import Foundation
import InterlockModel
import Testing
@testable import InterlockEngine

/// Windows on the DST nights of 2026: Europe/Berlin springs forward on 2026-03-29 (02:00 CET → 03:00 CEST) and
/// falls back on 2026-10-25 (03:00 CEST → 02:00 CET); America/Chicago on 2026-03-08 (02:00 CST → 03:00 CDT) and
/// 2026-11-01 (02:00 CDT → 01:00 CST).
@Suite struct WindowDaylightSavingTests: ScheduleFixtures {
    struct Case: Sendable, CustomTestStringConvertible {
        var zone: String
        var cron: String
        var duration: String
        var at: String
        var expected: ExpectedWindowGate
        var testDescription: String { "\(zone) '\(cron)' \(duration) at \(at): \(expected)" }
    }

    @Test("02:30 daily on the spring-forward night opens when the clocks jump, 03:00", arguments: [
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-03-28T02:30:00+01:00",
             expected: .open(start: "2026-03-28T02:30:00+01:00", end: "2026-03-28T03:30:00+01:00", remaining: 3_600)),
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-03-29T01:59:59+01:00",
             expected: .closed(next: "2026-03-29T03:00:00+02:00")),
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-03-29T03:00:00+02:00",
             expected: .open(start: "2026-03-29T03:00:00+02:00", end: "2026-03-29T04:00:00+02:00", remaining: 3_600)),
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-03-29T03:59:59+02:00",
             expected: .open(start: "2026-03-29T03:00:00+02:00", end: "2026-03-29T04:00:00+02:00", remaining: 1)),
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-03-29T04:00:00+02:00",
             expected: .closed(next: "2026-03-30T02:30:00+02:00")),
        Case(zone: "America/Chicago", cron: "30 2 * * *", duration: "1h", at: "2026-03-08T01:59:59-06:00",
             expected: .closed(next: "2026-03-08T03:00:00-05:00")),
        Case(zone: "America/Chicago", cron: "30 2 * * *", duration: "1h", at: "2026-03-08T03:00:00-05:00",
             expected: .open(start: "2026-03-08T03:00:00-05:00", end: "2026-03-08T04:00:00-05:00", remaining: 3_600)),
        Case(zone: "America/Chicago", cron: "30 2 * * *", duration: "1h", at: "2026-03-08T04:00:00-05:00",
             expected: .closed(next: "2026-03-09T02:30:00-05:00")),
    ])
    func startInTheSkippedHour(_ test: Case) throws {
        try expectWindowGate(try schedule(test.zone, [("w", test.cron, test.duration)]).windowGate(at: try instant(test.at)), test.expected)
    }

    @Test("a start in the repeated hour opens once, at the first occurrence", arguments: [
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-10-25T02:29:59+02:00",
             expected: .closed(next: "2026-10-25T02:30:00+02:00")),
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-10-25T02:30:00+02:00",
             expected: .open(start: "2026-10-25T02:30:00+02:00", end: "2026-10-25T02:30:00+01:00", remaining: 3_600)),
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-10-25T02:29:59+01:00",
             expected: .open(start: "2026-10-25T02:30:00+02:00", end: "2026-10-25T02:30:00+01:00", remaining: 1)),
        Case(zone: "Europe/Berlin", cron: "30 2 * * *", duration: "1h", at: "2026-10-25T02:30:00+01:00",
             expected: .closed(next: "2026-10-26T02:30:00+01:00")),
        Case(zone: "America/Chicago", cron: "30 1 * * *", duration: "1h", at: "2026-11-01T01:29:59-05:00",
             expected: .closed(next: "2026-11-01T01:30:00-05:00")),
        Case(zone: "America/Chicago", cron: "30 1 * * *", duration: "1h", at: "2026-11-01T01:30:00-05:00",
             expected: .open(start: "2026-11-01T01:30:00-05:00", end: "2026-11-01T01:30:00-06:00", remaining: 3_600)),
        Case(zone: "America/Chicago", cron: "30 1 * * *", duration: "1h", at: "2026-11-01T01:30:00-06:00",
             expected: .closed(next: "2026-11-02T01:30:00-06:00")),
    ])
    func startInTheRepeatedHour(_ test: Case) throws {
        try expectWindowGate(try schedule(test.zone, [("w", test.cron, test.duration)]).windowGate(at: try instant(test.at)), test.expected)
    }

    @Test("a window spanning the change lasts its duration in elapsed time", arguments: [
        // Spring: 01:00 + 3h elapsed ends at 05:00 on the wall clock, not 04:00.
        Case(zone: "Europe/Berlin", cron: "0 1 * * *", duration: "3h", at: "2026-03-29T01:00:00+01:00",
             expected: .open(start: "2026-03-29T01:00:00+01:00", end: "2026-03-29T05:00:00+02:00", remaining: 10_800)),
        Case(zone: "Europe/Berlin", cron: "0 1 * * *", duration: "3h", at: "2026-03-29T04:59:59+02:00",
             expected: .open(start: "2026-03-29T01:00:00+01:00", end: "2026-03-29T05:00:00+02:00", remaining: 1)),
        Case(zone: "Europe/Berlin", cron: "0 1 * * *", duration: "3h", at: "2026-03-29T05:00:00+02:00",
             expected: .closed(next: "2026-03-30T01:00:00+02:00")),
        // Fall: 01:00 + 3h elapsed ends at 03:00 on the wall clock, not 04:00.
        Case(zone: "Europe/Berlin", cron: "0 1 * * *", duration: "3h", at: "2026-10-25T02:59:59+01:00",
             expected: .open(start: "2026-10-25T01:00:00+02:00", end: "2026-10-25T03:00:00+01:00", remaining: 1)),
        Case(zone: "Europe/Berlin", cron: "0 1 * * *", duration: "3h", at: "2026-10-25T03:00:00+01:00",
             expected: .closed(next: "2026-10-26T01:00:00+01:00")),
        Case(zone: "America/Chicago", cron: "0 1 * * *", duration: "3h", at: "2026-03-08T01:00:00-06:00",
             expected: .open(start: "2026-03-08T01:00:00-06:00", end: "2026-03-08T05:00:00-05:00", remaining: 10_800)),
        Case(zone: "America/Chicago", cron: "0 1 * * *", duration: "3h", at: "2026-03-08T05:00:00-05:00",
             expected: .closed(next: "2026-03-09T01:00:00-05:00")),
        Case(zone: "America/Chicago", cron: "0 1 * * *", duration: "3h", at: "2026-11-01T01:30:00-06:00",
             expected: .open(start: "2026-11-01T01:00:00-05:00", end: "2026-11-01T03:00:00-06:00", remaining: 5_400)),
        Case(zone: "America/Chicago", cron: "0 1 * * *", duration: "3h", at: "2026-11-01T03:00:00-06:00",
             expected: .closed(next: "2026-11-02T01:00:00-06:00")),
    ])
    func windowSpanningTheChange(_ test: Case) throws {
        try expectWindowGate(try schedule(test.zone, [("w", test.cron, test.duration)]).windowGate(at: try instant(test.at)), test.expected)
    }

    @Test("a weekly Sunday window on both DST Sundays", arguments: [
        ("Europe/Berlin", "2026-03-22T00:00:00+01:00", ["2026-03-22T02:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-04-05T02:00:00+02:00"],
         ["2026-03-22T06:00:00+01:00", "2026-03-29T07:00:00+02:00", "2026-04-05T06:00:00+02:00"]),
        ("Europe/Berlin", "2026-10-18T00:00:00+02:00", ["2026-10-18T02:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-11-01T02:00:00+01:00"],
         ["2026-10-18T06:00:00+02:00", "2026-10-25T05:00:00+01:00", "2026-11-01T06:00:00+01:00"]),
        // In Chicago 02:00 does not exist in March and happens once (02:00 CST) in November: clocks go back at 02:00 CDT.
        ("America/Chicago", "2026-03-01T00:00:00-06:00", ["2026-03-01T02:00:00-06:00", "2026-03-08T03:00:00-05:00", "2026-03-15T02:00:00-05:00"],
         ["2026-03-01T06:00:00-06:00", "2026-03-08T07:00:00-05:00", "2026-03-15T06:00:00-05:00"]),
        ("America/Chicago", "2026-10-25T00:00:00-05:00", ["2026-10-25T02:00:00-05:00", "2026-11-01T02:00:00-06:00", "2026-11-08T02:00:00-06:00"],
         ["2026-10-25T06:00:00-05:00", "2026-11-01T06:00:00-06:00", "2026-11-08T06:00:00-06:00"]),
    ])
    func weeklySundayWindow(zone: String, from: String, starts: [String], ends: [String]) throws {
        let list = try schedule(zone, [("sunday", "0 2 * * SUN", "4h")]).occurrences(from: try instant(from), count: 3)
        #expect(list.map(\.start) == (try starts.map(instant)))
        #expect(list.map(\.end) == (try ends.map(instant)))
    }

    @Test func startsInTheGapCountOnce() throws {
        let list = try schedule("Europe/Berlin", [("w", "0,30 2 * * *", "15m")])
            .occurrences(from: try instant("2026-03-29T00:00:00+01:00"), count: 3)
        #expect(list.map(\.start) == (try ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-30T02:30:00+02:00"].map(instant)))
    }

    @Test func openingsFromTheEndOfTheGapIncludeTheMovedStart() throws {
        let plant = try schedule("Europe/Berlin", [("w", "30 2 * * *", "1h")])
        let list = plant.occurrences(from: try instant("2026-03-29T03:00:00+02:00"), count: 2)
        #expect(list.map(\.start) == (try ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"].map(instant)))
        #expect(plant.nextOpening(after: try instant("2026-03-29T03:00:00+02:00"))?.start == (try instant("2026-03-30T02:30:00+02:00")))
    }

    @Test("in the second pass of the repeated hour, a window opened in the first pass is still open", arguments: [
        ("2026-10-25T02:10:00+01:00", ExpectedWindowGate.open(start: "2026-10-25T02:50:00+02:00", end: "2026-10-25T02:50:00+01:00", remaining: 2_400)),
        ("2026-10-25T02:49:59+01:00", .open(start: "2026-10-25T02:50:00+02:00", end: "2026-10-25T02:50:00+01:00", remaining: 1)),
        ("2026-10-25T02:50:00+01:00", .closed(next: "2026-10-26T02:50:00+01:00")),
    ])
    func secondPassOfTheRepeatedHour(at: String, expected: ExpectedWindowGate) throws {
        try expectWindowGate(try schedule("Europe/Berlin", [("w", "50 2 * * *", "1h")]).windowGate(at: try instant(at)), expected)
    }

    @Test func hourlyWindowDoesNotRunTwiceInTheRepeatedHour() throws {
        let list = try schedule("Europe/Berlin", [("hourly", "0 * * * *", "30m")])
            .occurrences(from: try instant("2026-10-25T00:00:00+02:00"), count: 5)
        #expect(list.map(\.start) == (try ["2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
                                           "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"].map(instant)))
        // The second 02:00 (CET) is inside no window: the 02:00 CEST opening ended at 02:30 CEST.
        #expect(try schedule("Europe/Berlin", [("hourly", "0 * * * *", "30m")]).openWindow(at: try instant("2026-10-25T02:10:00+01:00")) == nil)
    }

    @Test func descriptionShowsTheOffsetOfTheEnd() throws {
        let gate = try schedule("Europe/Berlin", [("w", "0 1 * * *", "3h")]).windowGate(at: try instant("2026-10-25T01:30:00+02:00"))
        #expect(gate.description == "window 'w' open until 03:00 CET (Sun 2026-10-25), 2h30m left")
    }
}
