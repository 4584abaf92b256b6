import Foundation
import Testing
@testable import InterlockModel
@testable import InterlockEngine

/// The clock and the local-time rules the schedule is built on.
@Suite struct ScheduleTimeTests: ScheduleFixtures {
    @Test func testClockStandsStillUntilMoved() throws {
        let clock = try TestClock(iso8601: "2026-03-29T01:59:59+01:00")
        #expect(clock.now() == (try instant("2026-03-29T00:59:59Z")))
        clock.advance(by: 1)
        #expect(clock.now() == (try instant("2026-03-29T03:00:00+02:00")))
        clock.set(try instant("2027-01-01T00:00:00Z"))
        #expect(clock.now() == (try instant("2027-01-01T01:00:00+01:00")))
        #expect(throws: TestClock.InvalidTimestamp.self) { try TestClock(iso8601: "2026-03-29 01:59") }
    }

    @Test func testClockIsSafeToShare() async throws {
        let clock = try TestClock(iso8601: "2026-01-01T00:00:00Z")
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<100 { group.addTask { clock.advance(by: 60) } }
        }
        #expect(clock.now() == (try instant("2026-01-01T01:40:00Z")))
    }

    @Test func systemClockReadsTheMachine() {
        let before = Date()
        let now = SystemClock().now()
        #expect(now >= before && now.timeIntervalSince(before) < 5)
    }

    @Test("local times to instants", arguments: [
        ("Europe/Berlin", "2026-03-29T01:59", SiteTimeZone.RepeatedTime.earlier, "2026-03-29T01:59:00+01:00"),
        ("Europe/Berlin", "2026-03-29T02:00", .earlier, "2026-03-29T03:00:00+02:00"),
        ("Europe/Berlin", "2026-03-29T02:30", .earlier, "2026-03-29T03:00:00+02:00"),
        ("Europe/Berlin", "2026-03-29T03:00", .earlier, "2026-03-29T03:00:00+02:00"),
        ("Europe/Berlin", "2026-10-25T02:30", .earlier, "2026-10-25T02:30:00+02:00"),
        ("Europe/Berlin", "2026-10-25T02:30", .later, "2026-10-25T02:30:00+01:00"),
        ("Europe/Berlin", "2026-10-25T03:00", .earlier, "2026-10-25T03:00:00+01:00"),
        ("America/Chicago", "2026-03-08T02:30", .earlier, "2026-03-08T03:00:00-05:00"),
        ("America/Chicago", "2026-11-01T01:30", .earlier, "2026-11-01T01:30:00-05:00"),
        ("America/Chicago", "2026-11-01T01:30", .later, "2026-11-01T01:30:00-06:00"),
        ("America/Chicago", "2026-11-01T02:00", .earlier, "2026-11-01T02:00:00-06:00"),
        ("Asia/Kolkata", "2026-06-01T00:00", .earlier, "2026-06-01T00:00:00+05:30"),
        ("UTC", "2028-02-29T23:59", .later, "2028-02-29T23:59:00Z"),
    ])
    func localToInstant(zone identifier: String, local: String, repeated: SiteTimeZone.RepeatedTime, expected: String) throws {
        let siteZone = SiteTimeZone(try zone(identifier))
        #expect(siteZone.instant(of: try LocalDateTime(parsing: local), repeated: repeated) == (try instant(expected)))
    }

    /// Away from DST changes our arithmetic and Foundation's Calendar must agree, every hour of two years.
    @Test(arguments: ["Europe/Berlin", "America/Chicago", "Australia/Lord_Howe", "UTC"])
    func agreesWithCalendarOnOrdinaryTimes(identifier: String) throws {
        let timeZone = try zone(identifier)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let siteZone = SiteTimeZone(timeZone)
        var at = try instant("2026-01-01T00:00:00Z")
        for _ in 0..<(2 * 366 * 24) {
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: at)
            let day = siteZone.localDay(at: at)
            #expect(day == CivilDate(year: parts.year!, month: parts.month!, day: parts.day!))
            #expect(day.weekday == parts.weekday! - 1)
            let local = LocalDateTime(year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!)
            // The instant read back is `at` itself, except for the second pass through a repeated hour.
            let back = siteZone.instant(of: local)
            #expect(back == at || at.timeIntervalSince(back) == TimeInterval(abs(timeZone.secondsFromGMT(for: at) - timeZone.secondsFromGMT(for: back))))
            at.addTimeInterval(3600)
        }
    }

    @Test func civilDaysRoundTrip() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(CivilDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
        #expect(CivilDate(daysSinceEpoch: 0) == CivilDate(year: 1970, month: 1, day: 1))
        #expect(CivilDate(daysSinceEpoch: -1) == CivilDate(year: 1969, month: 12, day: 31))
        #expect(CivilDate(year: 1969, month: 12, day: 31).weekday == 3)
        #expect(CivilDate(year: 2026, month: 3, day: 29).weekday == 0)
        #expect(CivilDate(year: 2028, month: 2, day: 28).adding(days: 1) == CivilDate(year: 2028, month: 2, day: 29))
        #expect(CivilDate(year: 2100, month: 2, day: 28).adding(days: 1) == CivilDate(year: 2100, month: 3, day: 1))
        #expect(CivilDate(year: 2026, month: 12, day: 31).adding(days: 1) == CivilDate(year: 2027, month: 1, day: 1))
    }

    @Test("zone names people know", arguments: [
        ("Europe/Berlin", "2026-01-15T12:00:00Z", "CET"),
        ("Europe/Berlin", "2026-07-15T12:00:00Z", "CEST"),
        ("America/Chicago", "2026-01-15T12:00:00Z", "CST"),
        ("America/Chicago", "2026-07-15T12:00:00Z", "CDT"),
        ("UTC", "2026-07-15T12:00:00Z", "UTC"),
        ("Europe/London", "2026-01-15T12:00:00Z", "GMT"),
        ("Asia/Kolkata", "2026-07-15T12:00:00Z", "UTC+5:30"),
    ])
    func abbreviations(identifier: String, at: String, expected: String) throws {
        #expect(SiteTimeZone(try zone(identifier)).abbreviation(at: try instant(at)) == expected)
    }
}
