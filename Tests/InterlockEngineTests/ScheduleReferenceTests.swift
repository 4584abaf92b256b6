import Foundation
@testable import InterlockModel
import Testing
@testable import InterlockEngine

/// The schedule against a slow, independent reference around DST changes: walk real time minute by minute, read
/// the wall clock through Foundation's `Calendar`, and open a window at the first instant whose wall clock has
/// reached a matching start not reached before (which is the gap and repeated-hour rule, stated differently).
@Suite struct ScheduleReferenceTests: ScheduleFixtures {
    static let cases: [(zone: String, from: String, cron: String)] = [
        ("Europe/Berlin", "2026-03-27T00:00:00Z", "*/20 1-3 * * *"),
        ("Europe/Berlin", "2026-10-23T00:00:00Z", "*/20 1-3 * * *"),
        ("America/Chicago", "2026-03-06T00:00:00Z", "0,30 2 * * SUN"),
        ("America/Chicago", "2026-10-30T00:00:00Z", "15 1,2 * * *"),
        // Lord Howe Island shifts by 30 minutes: 02:00 → 02:30 in October, 02:00 → 01:30 in April.
        ("Australia/Lord_Howe", "2026-10-02T00:00:00Z", "10,40 2 * * *"),
        ("Australia/Lord_Howe", "2026-04-03T00:00:00Z", "*/10 1 * * *"),
    ]

    @Test(arguments: cases.indices)
    func agreesWithTheMinuteByMinuteReference(index: Int) throws {
        let (identifier, from, cron) = Self.cases[index]
        let timeZone = try zone(identifier)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let expression = try CronExpression(parsing: cron)
        let start = try instant(from)
        let minutes = 5 * 24 * 60

        var reference: [Date] = []
        var reached = Int.min
        for step in 0..<minutes {
            let at = start.addingTimeInterval(TimeInterval(step * 60))
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: at)
            let wall = CivilDate(year: parts.year!, month: parts.month!, day: parts.day!).daysSinceEpoch * 1440 + parts.hour! * 60 + parts.minute!
            if reached != Int.min, wall > reached {
                let opens = (reached + 1...wall).contains { minute in
                    let day = CivilDate(daysSinceEpoch: floorDivide(minute, 1440))
                    let ofDay = minute - day.daysSinceEpoch * 1440
                    return expression.hours.contains(ofDay / 60) && expression.minutes.contains(ofDay % 60)
                        && expression.matchesDay(dayOfMonth: day.day, month: day.month, weekday: day.weekday)
                }
                if opens { reference.append(at) }
            }
            reached = max(reached, wall)
        }

        let window = MaintenanceWindow(name: "w", start: expression, duration: TimeSpan(seconds: 25 * 60))
        let starts = WindowStarts(window, zone: SiteTimeZone(timeZone))
        let end = start.addingTimeInterval(TimeInterval(minutes * 60))
        // The reference cannot see a start at its very first minute; begin one minute in.
        let computed = starts.openings(from: start.addingTimeInterval(60), count: 1000).map(\.start).filter { $0 < end }
        #expect(computed == reference)
        #expect(!reference.isEmpty)

        for step in stride(from: 60, to: minutes, by: 7) {
            let at = start.addingTimeInterval(TimeInterval(step * 60 + 30))
            let expected = reference.last { $0 <= at }.flatMap { $0.addingTimeInterval(25 * 60) > at ? $0 : nil }
            #expect(starts.open(at: at)?.start == expected, "at \(at)")
        }
    }
}
