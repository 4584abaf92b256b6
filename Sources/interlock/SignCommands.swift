import ArgumentParser
import Foundation
import InterlockEngine
import InterlockModel

/// `approve` and `reject`: an approver signs one change's plan, with a reason.
struct SignOptions: ParsableArguments {
    @Argument(help: "The change, e.g. plant-a-3 (see 'interlock queue').")
    var change: String

    @OptionGroup var signer: SignerOptions

    @Option(name: .long, help: "Why (required; recorded with the signature).")
    var reason: String

    @Option(name: .long, help: "Only sign if the change's plan id starts with this (what you reviewed; at least 12 hex digits).")
    var plan: String?

    var user: String { signer.user }

    func validate() throws {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--reason must say why") }
        if let plan { try PlanPrefix.validate(plan, option: "--plan") }
    }
}

struct ApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a change as one of its site's approvers (an electronic signature on its plan id).",
        discussion: "The signer is authenticated with their password from the instance configuration the state directory trusts (asked on the terminal without echo, or --password-stdin). Refused (exit 1, and audited) for a wrong password, unknown users, users who do not approve for the site, anyone who wrote or committed a commit the change carries unless the site allows it, a second approval by the same person, and changes that are superseded, rejected or applied."
    )

    @OptionGroup var sign: SignOptions
    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    func run() throws { try Signing.sign(sign, approving: true, instance: instance, repository: repository, target: target) }
}

struct RejectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject",
        abstract: "Reject a change as one of its site's approvers; it ends the change. A reason is required."
    )

    @OptionGroup var sign: SignOptions
    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    func run() throws { try Signing.sign(sign, approving: false, instance: instance, repository: repository, target: target) }
}

enum Signing {
    static func sign(_ sign: SignOptions, approving: Bool, instance: InstanceOptions, repository: RepositoryOptions, target: TargetOptions) throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let head = try context.head()
        context.noteInvalidHead(head)
        let verb = approving ? "approve" : "reject"
        guard let change = try context.store.change(id: sign.change) else {
            Terminal.error("there is no change \(sign.change) (see 'interlock queue')")
            throw ExitCode(1)
        }
        guard let state = context.state(for: change, head: head) else {
            Terminal.error("commit \(change.plan.commit.map { String($0.prefix(10)) } ?? "?") that \(change.id) was queued from cannot be read")
            throw ExitCode(1)
        }
        guard let site = state.site(named: change.site) else {
            Terminal.error("site \(change.site) is no longer in the desired state")
            throw ExitCode(1)
        }
        let rules = try GateRules.resolve(site, store: context.store)
        let signer = try SignerAuthentication.authenticate(sign.signer, verb: verb, context: context, change: change, reason: sign.reason)
        func refuse(_ message: String) throws -> Never {
            try context.store.record([AuditEvent(
                actor: Person(id: sign.user, name: context.configuration.user(sign.user)?.name ?? sign.user), role: "approver",
                authentication: signer.authentication, category: .access, action: "\(verb).refused", site: site.name,
                changeID: change.id, planID: change.plan.id, commit: change.plan.commit, reason: sign.reason, success: false, error: message,
                details: ["timezone": site.timezone])])
            context.checkpoint()
            Terminal.error("\(verb) refused: \(message)")
            throw ExitCode(1)
        }
        if let reviewed = sign.plan, !change.plan.id.hasPrefix(reviewed.hasPrefix("sha256:") ? reviewed : "sha256:" + reviewed) {
            try refuse("\(change.id) is plan \(change.plan.shortID), not the plan \(reviewed) you reviewed")
        }
        let user: InstanceConfiguration.User
        do {
            user = try ApprovalRules.authorize(userID: signer.user.id, users: context.configuration.users, rules: rules, change: change, approving: approving)
        } catch {
            try refuse(error.message)
        }
        let person = Person(id: user.id, name: user.name, email: user.email)
        let meaning = ApprovalRules.meaning(of: user, site: site, approving: approving)
        let event = AuditEvent(
            actor: person, role: user.title, authentication: signer.authentication, category: .approval,
            action: approving ? "change.approved" : "change.rejected", site: site.name, changeID: change.id, planID: change.plan.id,
            commit: change.plan.commit, reason: sign.reason, details: ["meaning": meaning, "printedName": user.name, "timezone": site.timezone])
        do {
            if approving {
                let approval = Approval(approver: person, role: user.title, meaning: meaning, reason: sign.reason, planID: change.plan.id, at: Date())
                var updated = try context.store.approve(changeID: change.id, approval: approval, events: [event])
                let reconciler = context.reconciler(state)
                let wave = try reconciler.waveState(of: updated, site: site, state: state)
                var gates: GateStatus?, notes: [String]
                do {
                    (updated, gates, notes) = try reconciler.updateReadiness(updated, site: site, wave: wave)
                } catch let error as ChangeStoreError where error.code == .conflict {
                    // The approval is committed; a replica's pass moved the change on first. The signature stands.
                    updated = (try? context.store.change(id: change.id)).flatMap { $0 } ?? updated
                    (gates, notes) = (nil, ["\(change.id) is \(updated.status.rawValue) now: a running service acted on the approval first"])
                }
                context.checkpoint()
                print("\(Terminal.styled("approved", .green)) \(change.id) (plan \(change.plan.shortID)) — \(meaning), signed by \(user.name)")
                if let gates { for line in ChangeText.gateLines(gates, change: updated, site: rules.site) { print("    " + line) } }
                for note in notes { print(note) }
            } else {
                _ = try context.store.transition(changeID: change.id, from: [.waiting, .ready], to: .rejected,
                                                 reason: "rejected by \(user.name): \(sign.reason)", events: [event])
                context.checkpoint()
                print("\(Terminal.styled("rejected", .red)) \(change.id) (plan \(change.plan.shortID)) — \(meaning), signed by \(user.name)")
            }
        } catch let error as ChangeStoreError {
            try refuse(error.message)
        }
    }
}

/// Plan ids given on the command line: at least the 12 hex digits `interlock plan` prints, optionally after `sha256:`.
enum PlanPrefix {
    static func validate(_ text: String, option: String) throws {
        let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        guard hex.count >= 12, hex.count <= 64, hex.allSatisfy({ $0.isHexDigit }) else {
            throw ValidationError("\(option) needs at least the 12 hex digits of the plan id that 'interlock plan' or 'interlock queue' prints")
        }
    }
}
