import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Two sites side by side: desired resources identical, different through declared values or overrides, or at one site only; and where the deployed configuration differs beyond what git declares.",
        discussion: "Exit code 0 when the live state of both sites is as declared, 1 when something differs beyond git, 2 when a site cannot be read."
    )

    @Argument(help: "The first site.")
    var first: String

    @Argument(help: "The second site.")
    var second: String

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Flag(name: .long, help: "Also list identical resources.")
    var all = false

    @Flag(name: .long, help: "Print the comparison as JSON.")
    var json = false

    func run() throws {
        let (outline, commit) = try repository.readOutline(failureCode: 2)
        let sites = try SiteSelection.resolve(outline: outline, names: [first, second])
        let state = outline.state
        let planning = try target.planning(stateDirectory: repository.stateDirectory, driverDirectory: repository.driverDirectory)
        var compiled: [CompiledSite] = []
        var live: [LiveState?] = []
        var problems: [String] = []
        for site in sites {
            let compilation = state.compile(site: site)
            guard compilation.isValid else {
                Terminal.error("site \(site.name) does not compile; run 'interlock validate'")
                throw ExitCode(2)
            }
            compiled.append(compilation.site)
            do {
                live.append(try planning.driver(for: site).observe(desired: compilation.site.resources))
            } catch {
                live.append(nil)
                problems.append("\(site.name): \(error)")
            }
        }
        let comparison = SiteComparison.compare(compiled[0], compiled[1], liveA: live[0], liveB: live[1], problems: problems)
        if json {
            func rows(_ rows: [SiteComparison.Row]) -> Value {
                .array(rows.map { .object(["path": .string($0.path), "verdict": .string($0.verdict.rawValue), "detail": .array($0.detail.map(Value.string))]) })
            }
            var object: [String: Value] = [
                "first": .string(first), "second": .string(second), "desired": rows(comparison.desired),
                "live": comparison.live.map(rows) ?? .null, "liveProblems": .array(problems.map(Value.string)),
                "valueDifferences": .array(comparison.valueDifferences.map(Value.string)),
            ]
            if let commit { object["commit"] = .string(commit.id.hex) }
            Terminal.printJSON(.object(object))
        } else {
            render(comparison, commit: commit.map { String($0.id.hex.prefix(10)) } ?? "working tree")
        }
        if !problems.isEmpty { throw ExitCode(2) }
        if comparison.live?.contains(where: { $0.verdict == .undeclared }) == true { throw ExitCode(1) }
    }

    private func render(_ c: SiteComparison, commit: String) {
        print(Terminal.styled("\(c.first) ↔ \(c.second)", .bold) + " at \(commit)")
        let identical = c.desired.filter { $0.verdict == .identical }.count
        print("\ndesired state: \(identical) identical, \(c.desired.filter { $0.verdict == .declared }.count) different as declared, "
              + "\(c.desired.filter { $0.verdict == .onlyFirst }.count) only at \(c.first), \(c.desired.filter { $0.verdict == .onlySecond }.count) only at \(c.second)")
        if !c.valueDifferences.isEmpty {
            print("  values that differ:")
            for line in c.valueDifferences { print("    \(line)") }
        }
        for row in c.desired where all || row.verdict != .identical {
            let label = switch row.verdict {
            case .identical: Terminal.styled("=", .green)
            case .declared: Terminal.styled("≠", .yellow)
            case .onlyFirst: Terminal.styled("only \(c.first)", .cyan)
            case .onlySecond: Terminal.styled("only \(c.second)", .cyan)
            case .undeclared: Terminal.styled("!", .red)
            }
            print("  \(label) \(row.path)")
            for line in row.detail { print("      \(line)") }
        }
        print("")
        guard let live = c.live else {
            print("live state: not compared — " + c.liveProblems.joined(separator: "; "))
            return
        }
        let undeclared = live.filter { $0.verdict == .undeclared }
        if undeclared.isEmpty {
            print(Terminal.styled("live state: both plants are deployed exactly as git declares", .green))
        } else {
            print(Terminal.styled("live state: \(undeclared.count) difference(s) beyond what git declares", .red))
            for row in undeclared {
                print("  ! \(row.path)")
                for line in row.detail { print("      \(line)") }
            }
        }
    }
}
