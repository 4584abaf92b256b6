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
        let named = try RolloutDecisions.commit(named: commit, store: context.store)
        let action = Decision.action.rawValue
        let authenticated = try SignerAuthentication.authenticate(signer, verb: "rollout.\(action)", context: context, reason: reason)
        func refuse(_ message: String, commit full: String?) throws -> Never {
            try context.store.record([AuditEvent(
                actor: Person(id: user, name: context.configuration.user(user)?.name ?? user), role: "operator",
                authentication: authenticated.authentication, category: .access, action: "rollout.\(action).refused",
                commit: full ?? commit, reason: reason, success: false, error: message)])
            context.checkpoint()
            Terminal.error("rollout \(action) refused: \(message)")
            throw ExitCode(1)
        }
        let full: String
        switch named {
        case .failure(let refusal): try refuse(refusal.message, commit: refusal.commit)
        case .success(let value): full = value
        }
        guard let person = context.configuration.user(user) else {
            try refuse("'\(user)' is not a user of this Interlock instance", commit: full)
        }
        if let message = try RolloutDecisions.refusal(for: person, state: state, store: context.store) {
            try refuse(message, commit: full)
        }
        // Changes waiting only for the waves may be ready now.
        for note in try RolloutDecisions.record(Decision.action, commit: full, person: person, authentication: authenticated.authentication,
                                                reason: reason, state: state, store: context.store, reconciler: context.reconciler(state)) {
            print(note)
        }
        context.checkpoint()
        print("rollout of \(full.prefix(10)): \(action) recorded for \(person.name) — \(reason)")
    }
}
