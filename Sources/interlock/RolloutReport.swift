import Foundation
import InterlockEngine
import InterlockModel

/// The rollout overview for people.
enum RolloutReport {
    static func build(context: QueueContext, state: DesiredState, head: String?, commits limit: Int) throws -> RolloutOverview {
        try RolloutOverview.build(
            store: context.store, reconciler: context.reconciler(state), graph: context.rollout(state).graph, state: state,
            head: head, limit: limit, now: context.clock.now())
    }

    static func print(_ overview: RolloutOverview) {
        if overview.commits.isEmpty { Swift.print("no commits reconciled yet (run 'interlock reconcile')") }
        for commit in overview.commits {
            Swift.print("\(Terminal.styled("commit \(commit.id.prefix(10))", .bold))\(commit.summary.map { " \"\($0)\"" } ?? "")")
            for wave in overview.waves {
                let bake = wave.bake.map { ", bake \($0)" } ?? ""
                Swift.print("  wave \(wave.name)\(bake)")
                for entry in commit.entries where entry.wave == wave.name {
                    let style: Terminal.Style = switch entry.state {
                    case "applied": .green
                    case "halted", "failed", "rolled-back": .red
                    case "no change": .dim
                    default: .yellow
                    }
                    Swift.print("    \(entry.site.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(Terminal.styled(entry.state.padding(toLength: 12, withPad: " ", startingAt: 0), style)) \(entry.detail)")
                }
            }
        }
    }
}
