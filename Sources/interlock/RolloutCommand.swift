import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel

struct RolloutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Where each recent commit stands in each wave and site, and overrides for a halted rollout.",
        subcommands: [RolloutStatusCommand.self, RolloutOverrideCommand<Resume>.self, RolloutOverrideCommand<Skip>.self],
        defaultSubcommand: RolloutStatusCommand.self
    )
}

struct RolloutStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "For each recent commit, each wave, each site: applied at, baking until, waiting (for what), halted (why); UTC and site time."
    )

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "How many recent commits (with changes) to show.")
    var commits: Int = 3

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let (state, _, head) = try context.desiredState()
        let overview = try RolloutReport.build(context: context, state: state, head: head, commits: commits)
        if json {
            Terminal.printJSON(overview.json)
        } else {
            RolloutReport.print(overview)
        }
    }
}

/// `rollout resume` and `rollout skip`: an authorised, audited decision about one commit's rollout.
protocol RolloutDecision {
    static var action: RolloutOverride.Action { get }
    static var abstract: String { get }
}

enum Resume: RolloutDecision {
    static let action = RolloutOverride.Action.resume
    static let abstract = "Lift the halt of a commit's rollout after a failure in an earlier wave (authorised users; audited)."
}

enum Skip: RolloutDecision {
    static let action = RolloutOverride.Action.skip
    static let abstract = "Let a commit pass the waves without waiting for earlier waves to apply and bake (authorised users; audited)."
}

struct RolloutOverrideCommand<Decision: RolloutDecision>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: Decision.action.rawValue, abstract: Decision.abstract)
    }

    @Argument(help: "The commit (full id or a prefix of at least 7 hex digits, as 'rollout status' shows).")
    var commit: String

    @OptionGroup var signer: SignerOptions

    var user: String { signer.user }

    @Option(name: .long, help: "Why (required; recorded).")
    var reason: String

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    func validate() throws {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--reason must say why") }
        guard commit.count >= 7, commit.allSatisfy(\.isHexDigit) else { throw ValidationError("name the commit by at least 7 hex digits") }
    }

    func run() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let (state, _, _) = try context.desiredState()
        let known = Set(try context.store.changes(sites: [], statuses: [], limit: 500).compactMap(\.plan.commit))
        let matches = known.filter { $0.hasPrefix(commit.lowercased()) }
        let action = Decision.action.rawValue
        let authenticated = try SignerAuthentication.authenticate(signer, verb: "rollout.\(action)", context: context, reason: reason)
        func refuse(_ message: String) throws -> Never {
            try context.store.record([AuditEvent(
                actor: Person(id: user, name: context.configuration.user(user)?.name ?? user), role: "operator",
                authentication: authenticated.authentication, category: .access, action: "rollout.\(action).refused",
                commit: matches.first ?? commit, reason: reason, success: false, error: message)])
            context.checkpoint()
            Terminal.error("rollout \(action) refused: \(message)")
            throw ExitCode(1)
        }
        guard matches.count == 1, let full = matches.first else {
            try refuse(matches.isEmpty ? "no queued change is for a commit starting with \(commit)" : "\(commit) is ambiguous")
        }
        guard let person = context.configuration.user(user) else {
            try refuse("'\(user)' is not a user of this Interlock instance")
        }
        // The later waves as both the trusted (last applied) and the current rollout name them.
        var laterSites = Set(state.config.waves.dropFirst().flatMap(\.sites))
        for site in state.sites {
            if let trusted = try context.store.baseline(site: site.name).flatMap({ $0.files.read(site: site.name).config }) {
                laterSites.formUnion(trusted.waves.dropFirst().flatMap(\.sites))
            }
        }
        let authorised = person.roles.contains(.admin) || person.roles.contains(.operator)
            || (person.roles.contains(.approver) && laterSites.allSatisfy { person.actsFor($0) })
        guard authorised else {
            try refuse("\(person.name) (\(person.id)) may not override rollouts: it takes the operator or admin role, or approving for every later-wave site")
        }
        let decision = RolloutOverride(commit: full, action: Decision.action, by: Person(id: person.id, name: person.name, email: person.email),
                                       reason: reason, at: Date())
        try context.store.addRolloutOverride(decision, events: [AuditEvent(
            actor: decision.by, role: person.title, authentication: authenticated.authentication, category: .approval,
            action: "rollout.\(action)", commit: full, reason: reason, details: ["printedName": person.name])])
        // Changes waiting only for the waves may be ready now.
        let reconciler = context.reconciler(state)
        for change in try context.store.changes(sites: [], statuses: [.waiting], limit: nil) where change.plan.commit == full {
            guard let site = state.site(named: change.site) else { continue }
            let wave = try reconciler.waveState(of: change, site: site, state: state)
            for note in try reconciler.updateReadiness(change, site: site, wave: wave).2 { print(note) }
        }
        context.checkpoint()
        print("rollout of \(full.prefix(10)): \(action) recorded for \(person.name) — \(reason)")
    }
}
