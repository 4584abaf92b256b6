import Foundation
import InterlockModel
import Testing
@testable import InterlockEngine

/// Freezes as intervals of instants in the site's zone, to the second.
@Suite struct ScheduleFreezeTests: ScheduleFixtures {
    func plantA() throws -> MaintenanceSchedule {
        try schedule("Europe/Berlin", [("weekend", "0 22 * * SAT", "6h")], freezes: [
            try freeze("year-end", from: "2026-12-19", to: "2027-01-06", reason: "Plant holiday shutdown"),
            try freeze("iso-50001-audit", from: "2026-10-12T06:00", to: "2026-10-14T18:00"),
        ])
    }

    @Test("freeze boundaries to the second", arguments: [
        ("2026-12-18T23:59:59+01:00", nil as String?),
        ("2026-12-19T00:00:00+01:00", "year-end"),
        ("2027-01-06T23:59:59+01:00", "year-end"),
        ("2027-01-07T00:00:00+01:00", nil),
        ("2026-10-12T05:59:59+02:00", nil),
        ("2026-10-12T06:00:00+02:00", "iso-50001-audit"),
        ("2026-10-14T17:59:59+02:00", "iso-50001-audit"),
        ("2026-10-14T18:00:00+02:00", nil),
    ])
    func boundaries(at: String, expected: String?) throws {
        #expect(try plantA().freeze(at: try instant(at))?.name == expected)
    }

    @Test func dateOnlyFreezeIncludesTheWholeLastDay() throws {
        let period = try #require(try plantA().freezePeriods(from: try instant("2026-11-01T00:00:00+01:00"), count: 1).first)
        #expect(period.freeze.name == "year-end")
        #expect(period.start == (try instant("2026-12-19T00:00:00+01:00")))
        #expect(period.end == (try instant("2027-01-07T00:00:00+01:00")))
    }

    @Test func freezeStateSaysUntilWhen() throws {
        let state = try plantA().freezeState(at: try instant("2026-12-24T12:00:00+01:00"))
        guard case .frozen(let freeze, let until, _) = state else { Issue.record("got \(state)"); return }
        #expect(freeze.name == "year-end")
        #expect(until == (try instant("2027-01-07T00:00:00+01:00")))
        #expect(state.description == "frozen by 'year-end' until Thu 2027-01-07 00:00 CET (Wed 2027-01-06 23:00 UTC): Plant holiday shutdown")
        #expect(try plantA().freezeState(at: try instant("2027-01-07T00:00:00+01:00")) == .notFrozen)
    }

    @Test func freezeKeepsAnOpenWindowFromStartingChanges() throws {
        let plant = try plantA()
        let at = try instant("2026-12-19T23:00:00+01:00")
        #expect(plant.windowGate(at: at).allowsStart)
        #expect(plant.freezeState(at: at).isFrozen)
    }

    @Test func adjoiningFreezesChain() throws {
        let plant = try schedule("Europe/Berlin", [], freezes: [
            try freeze("holidays", from: "2026-12-19", to: "2026-12-31"),
            try freeze("inventory", from: "2027-01-01", to: "2027-01-06T12:00"),
        ])
        let state = plant.freezeState(at: try instant("2026-12-20T00:00:00+01:00"))
        guard case .frozen(let freeze, let until, _) = state else { Issue.record("got \(state)"); return }
        #expect(freeze.name == "holidays")
        #expect(until == (try instant("2027-01-06T12:00:00+01:00")))
    }

    @Test("date-only freezes on DST days last 23 or 25 hours", arguments: [
        ("Europe/Berlin", "2026-03-29", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23),
        ("Europe/Berlin", "2026-10-25", "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25),
        ("America/Chicago", "2026-03-08", "2026-03-08T00:00:00-06:00", "2026-03-09T00:00:00-05:00", 23),
        ("America/Chicago", "2026-11-01", "2026-11-01T00:00:00-05:00", "2026-11-02T00:00:00-06:00", 25),
    ])
    func dstDays(zone: String, day: String, start: String, end: String, hours: Int) throws {
        let plant = try schedule(zone, [], freezes: [try freeze("day", from: day, to: day)])
        let period = try #require(plant.freezePeriods(from: try instant("2026-01-01T00:00:00Z"), count: 5).first)
        #expect(period.start == (try instant(start)))
        #expect(period.end == (try instant(end)))
        #expect(period.end.timeIntervalSince(period.start) == TimeInterval(hours * 3600))
    }

    @Test func freezeTimesInTheRepeatedHourAreNeverShorter() throws {
        let plant = try schedule("Europe/Berlin", [], freezes: [try freeze("night", from: "2026-10-25T02:30", to: "2026-10-25T02:45")])
        let period = try #require(plant.freezePeriods(from: try instant("2026-10-01T00:00:00Z"), count: 1).first)
        #expect(period.start == (try instant("2026-10-25T02:30:00+02:00")))
        #expect(period.end == (try instant("2026-10-25T02:45:00+01:00")))
    }

    @Test func freezeTimesInTheGapStartWhenTheClocksJump() throws {
        let plant = try schedule("America/Chicago", [], freezes: [try freeze("night", from: "2026-03-08T02:15", to: "2026-03-08T04:00")])
        #expect(plant.freeze(at: try instant("2026-03-08T01:59:59-06:00")) == nil)
        #expect(plant.freeze(at: try instant("2026-03-08T03:00:00-05:00"))?.name == "night")
    }

    @Test func freezePeriodsListTheCurrentAndUpcomingInOrder() throws {
        let plant = try plantA()
        let during = plant.freezePeriods(from: try instant("2026-10-13T00:00:00+02:00"), count: 5).map(\.freeze.name)
        #expect(during == ["iso-50001-audit", "year-end"])
        #expect(plant.freezePeriods(from: try instant("2026-10-14T18:00:00+02:00"), count: 5).map(\.freeze.name) == ["year-end"])
        #expect(plant.freezePeriods(from: try instant("2027-01-07T00:00:00+01:00"), count: 5).isEmpty)
    }
}
