import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel

struct ReconcileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "One pass: fetch the repository, validate the commit, plan every site and queue each non-empty plan as a change request.",
        discussion: "Nothing is applied. Exit code 0 after a pass (changes may be waiting), 1 when the commit does not validate, 2 when the repository cannot be read."
    )

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Whether baking changes' health commands run again: run or skip.")
    var hooks: HookMode = .run

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let reports = try Reconciliation.pass(context, hooks: hooks)
        if json {
            Terminal.printJSON(.array(reports.map { report in
                .object([
                    "site": .string(report.site), "status": .string(report.condition.rawValue),
                    "change": report.change.map { .object(ChangeText.json($0)) } ?? .null, "notes": .array(report.notes.map(Value.string)),
                ])
            }))
        } else {
            for report in reports { Reconciliation.print(report) }
        }
    }
}

/// The reconcile pass shared by `reconcile` and `run`.
enum Reconciliation {
    /// - Parameter hooks: whether baking changes' health commands run again.
    static func pass(_ context: QueueContext, hooks: HookMode) throws -> [Reconciler.SiteReport] {
        let (state, commit, _) = try context.desiredState()
        let executor = Executor(planning: context.planning, store: context.store, clock: context.clock, runHooks: hooks == .run)
        for note in try executor.recoverInterrupted(state, stateAt: context.stateAtCommit) { Swift.print("recovered \(note)") }
        if hooks == .run {
            for note in try BakeMonitor(planning: context.planning, rollout: context.rollout(state), clock: context.clock,
                                               stateAt: context.stateAtCommit).check(state) {
                Swift.print("bake: \(note)")
            }
        }
        let reports = try context.reconciler(state).reconcile(state, commit: commit)
        context.checkpoint()
        return reports
    }

    static func print(_ report: Reconciler.SiteReport) {
        var line = "\(Terminal.styled(report.site, .bold))  \(report.condition.rawValue)"
        if let change = report.change { line += "  \(change.id) \(change.status.rawValue)" }
        Swift.print(line)
        for note in report.notes { Swift.print("    \(note)") }
        if let gates = report.gates, !gates.isOpen {
            for reason in gates.waitingFor { Swift.print("    waiting for \(reason)") }
        }
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Reconcile and apply ready changes at the poll interval until stopped (SIGTERM/SIGINT stop it after the step in progress)."
    )

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Seconds between passes (default: pollInterval of the instance configuration, else 60).")
    var interval: Int?

    @Option(name: .long, help: "Stop after this many passes (0: run until stopped).")
    var passes: Int = 0

    @Option(name: .long, help: "Whether components' reload and health commands run: run or skip (skipping is audited).")
    var hooks: HookMode = .run

    func run() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let seconds = interval ?? context.configuration.pollInterval.seconds
        let stop = StopSignal.install()
        var count = 0
        Swift.print("interlock run: reconciling \(context.repository.source) every \(seconds) s; state in \(context.stateDirectory)")
        while !stop.requested {
            do {
                let reports = try Reconciliation.pass(context, hooks: hooks)
                for report in reports where !report.notes.isEmpty { Reconciliation.print(report) }
                let (state, _, _) = try context.desiredState()
                let executor = Executor(planning: context.planning, store: context.store, clock: context.clock, runHooks: hooks == .run,
                                        rollout: context.rollout(state))
                for outcome in try executor.applyReady(state) { ApplyText.print(outcome) }
                context.checkpoint()
            } catch let exit as ExitCode {
                Swift.print("pass failed (exit code \(exit.rawValue)); the queue is unchanged; retrying in \(seconds) s")
            } catch {
                Terminal.error("pass failed: \(error); retrying in \(seconds) s")
            }
            count += 1
            if passes > 0, count >= passes { break }
            stop.wait(seconds: seconds)
        }
        Swift.print("interlock run: stopped after \(count) pass(es)")
    }
}

enum HookMode: String, ExpressibleByArgument, CaseIterable {
    case run, skip
}

/// SIGTERM/SIGINT request a stop; the loop finishes the step in progress first.
final class StopSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false
    private var sources: [DispatchSourceSignal] = []

    var requested: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    static func install() -> StopSignal {
        let stop = StopSignal()
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [stop] in
                stop.condition.lock()
                stop.stopped = true
                stop.condition.broadcast()
                stop.condition.unlock()
            }
            source.resume()
            stop.sources.append(source)
        }
        return stop
    }

    func wait(seconds: Int) {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(TimeInterval(seconds))
        while !stopped, condition.wait(until: deadline) {}
    }
}
