import ArgumentParser
import Foundation
import InterlockModel

struct SitesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sites",
        abstract: "List the sites with their time zones, local time, rollout waves, targets and what they run."
    )

    @OptionGroup var repository: RepositoryOptions

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let (outline, _) = try repository.readOutline()
        let loaded = outline.loadResult
        let state = loaded.state
        let now = Date()
        let waves = state.config.wavesDeclared ? state.config.waves : [RolloutWave(name: "all", sites: state.sites.map(\.name), location: SourceLocation(file: RepositoryConfig.fileName))]

        if json {
            Terminal.printJSON(.object([
                "waves": .array(waves.map { wave in
                    var object: [String: Value] = ["name": .string(wave.name), "sites": .array(wave.sites.map(Value.string))]
                    if let bake = wave.bake { object["bake"] = .string(bake.description) }
                    return .object(object)
                }),
                "sites": .array(state.sites.map { site in
                    .object([
                        "name": .string(site.name), "displayName": .string(site.displayName),
                        "timezone": .string(site.timezone), "localTime": .string(LocalClock.format(now, in: site.timeZone, withZone: true)),
                        "wave": waves.first { $0.sites.contains(site.name) }.map { .string($0.name) } ?? .null,
                        "driver": .string(site.target.driverName), "target": .string(site.targetDescription),
                        "components": .array(site.components.map(Value.string)), "flows": .array(site.flows.map(Value.string)),
                        "windows": .array(site.windows.map { .object(["name": .string($0.name), "start": .string($0.start.source), "duration": .string($0.duration.description)]) }),
                    ])
                }),
                "diagnostics": .array(loaded.diagnostics.map(\.json)),
            ]))
        } else {
            let rows = state.sites.map { site in
                [
                    site.name, site.displayName, site.timezone, LocalClock.format(now, in: site.timeZone, withZone: true),
                    waves.first { $0.sites.contains(site.name) }?.name ?? "-", site.targetDescription,
                    "\(site.components.count) components, \(site.flows.count) flows",
                ]
            }
            print(Terminal.table(["SITE", "NAME", "TIME ZONE", "LOCAL TIME", "WAVE", "TARGET", "RUNS"], rows))
            print("")
            print(Terminal.styled("Rollout", .bold) + (state.config.wavesDeclared ? "" : " (no waves declared: one implicit wave)"))
            for (index, wave) in waves.enumerated() {
                let bake = wave.bake.map { ", bake \($0)" } ?? ""
                print("  \(index + 1). \(wave.name): \(wave.sites.joined(separator: ", "))\(bake)")
            }
            let errors = loaded.diagnostics.filter { $0.severity == .error }.count
            if errors > 0 {
                print("")
                print(Terminal.styled("\(errors) problem(s) in the repository; run 'interlock validate' for details", .yellow))
            }
        }
    }
}

extension Target {
    var summary: String {
        switch self {
        case .files(let root): "files \(root)"
        case .command(let spec): "command \(spec.arguments.joined(separator: " "))"
        }
    }
}

/// Formats instants in a site's time zone.
enum LocalClock {
    static func format(_ date: Date, in zone: TimeZone?, withZone: Bool) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone ?? TimeZone(identifier: "UTC")
        formatter.dateFormat = withZone ? "yyyy-MM-dd HH:mm zzz" : "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }
}
