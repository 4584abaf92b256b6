import Foundation
import InterlockGit
import InterlockModel
import Testing
@testable import InterlockEngine

/// The schedules of the shipped Examples sites, read from their `site.yaml`.
@Suite struct ScheduleExampleSitesTests: ScheduleFixtures {
    func exampleSchedule(_ name: String) throws -> MaintenanceSchedule {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples").path
        let site = try #require(DesiredState.load(from: try Snapshot.directory(at: root)).state.site(named: name))
        return try #require(MaintenanceSchedule(site: site))
    }

    @Test func plantAWeekendInPlantTimeAndUTC() throws {
        let plantA = try exampleSchedule("plant-a")
        #expect(plantA.zone.timeZone.identifier == "Europe/Berlin")
        #expect(plantA.windowGate(at: try instant("2026-11-22T02:48:00+01:00")).description
            == "window 'weekend' open until 04:00 CET (Sun 2026-11-22), 1h12m left")
        #expect(plantA.windowGate(at: try instant("2026-11-22T04:00:00+01:00")).description
            == "closed; next window 'changeover' opens Mon 2026-11-23 05:30 CET (04:30 UTC)")
        #expect(plantA.freeze(at: try instant("2026-12-24T12:00:00+01:00"))?.name == "year-end")
        #expect(plantA.freeze(at: try instant("2026-10-13T12:00:00+02:00"))?.name == "iso-50001-audit")
    }

    @Test("plant B's Sunday 02:00 window on New York's DST Sundays", arguments: [
        ("2026-03-07T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T07:00:00-04:00"),
        ("2026-10-31T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T06:00:00-05:00"),
    ])
    func plantBWeekendOnDSTSundays(from: String, start: String, end: String) throws {
        let first = try #require(try exampleSchedule("plant-b").occurrences(from: try instant(from), count: 1).first)
        #expect(first.window == "weekend")
        #expect(first.start == (try instant(start)))
        #expect(first.end == (try instant(end)))
    }
}
