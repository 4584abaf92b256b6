import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel

struct WindowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "windows",
        abstract: "The next maintenance windows and freezes of a site: start and end in site time and UTC."
    )

    @Argument(help: "The site, e.g. plant-a.")
    var site: String

    @OptionGroup var repository: RepositoryOptions

    @Option(name: .long, help: "Start from this instant (ISO 8601, e.g. 2026-03-28T00:00:00Z). Default: now.")
    var from: String?

    @Option(name: .long, help: "How many windows to list.")
    var count: Int = 5

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let state = try repository.readOutline().outline.state
        guard let site = state.site(named: site) else {
            Terminal.error("no site '\(self.site)'; sites: \(state.sites.map(\.name).joined(separator: ", "))")
            throw ExitCode(1)
        }
        var start = TestClockOverride.clock?.now() ?? Date()
        if let from {
            guard let parsed = ISO8601DateFormatter().date(from: from) else {
                throw ValidationError("--from '\(from)' is not an ISO 8601 instant, e.g. 2026-03-28T00:00:00Z")
            }
            start = parsed
        }
        guard let schedule = MaintenanceSchedule(site: site), let zone = site.timeZone else {
            Terminal.error("site \(site.name) has an unknown time zone '\(site.timezone)'")
            throw ExitCode(1)
        }
        let windows = schedule.occurrences(from: start, count: count)
        let freezes = schedule.freezePeriods(from: start, count: count)
        let local = SiteTimeZone(zone), utc = SiteTimeZone(TimeZone(identifier: "UTC")!)
        if json {
            let format = ISO8601DateFormatter()
            Terminal.printJSON(.object([
                "site": .string(site.name), "timezone": .string(site.timezone), "from": .string(format.string(from: start)),
                "windows": .array(windows.map { w in
                    .object(["name": .string(w.window), "start": .string(format.string(from: w.start)), "end": .string(format.string(from: w.end)),
                             "startLocal": .string(local.siteTimeText(w.start)), "endLocal": .string(local.siteTimeText(w.end))])
                }),
                "freezes": .array(freezes.map { f in
                    .object(["name": .string(f.freeze.name), "start": .string(format.string(from: f.start)), "end": .string(format.string(from: f.end)),
                             "reason": f.freeze.reason.map(Value.string) ?? .null])
                }),
            ]))
            return
        }
        print("\(Terminal.styled(site.displayName, .bold)) (\(site.name)), \(site.timezone); minimum remaining time \(site.minimumWindowRemaining)")
        print(schedule.windowGate(at: start, minimumRemaining: site.minimumWindowRemaining).description)
        print("")
        if windows.isEmpty {
            print("no maintenance windows")
        } else {
            print(Terminal.table(["WINDOW", "START (SITE)", "END (SITE)", "START (UTC)", "END (UTC)"], windows.map { w in
                [w.window, local.siteTimeText(w.start), local.siteTimeText(w.end), utc.siteTimeText(w.start), utc.siteTimeText(w.end)]
            }))
        }
        if !freezes.isEmpty {
            print("")
            print(Terminal.table(["FREEZE", "FROM (SITE)", "UNTIL (SITE)", "REASON"], freezes.map { f in
                [f.freeze.name, local.siteTimeText(f.start), local.siteTimeText(f.end), f.freeze.reason ?? ""]
            }))
        }
    }
}
