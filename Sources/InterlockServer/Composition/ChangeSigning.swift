import Foundation
import InterlockEngine
import InterlockModel
import InterlockStore

/// Approving or rejecting a change as an electronic signature, with the same rules and audited refusals
/// as `interlock approve` / `interlock reject`. The signer is already authenticated and has re-entered their
/// password (checked by the caller); the record carries printed name, time, meaning, reason and plan id.
public enum ChangeSigning {
    /// What a signature did.
    public struct Signed: Sendable {
        public var change: ChangeRequest
        public var meaning: String
        public var signer: InstanceConfiguration.User
        public var gates: GateStatus?
        public var notes: [String]
    }

    /// A signature that was not made, and why (already audited unless `audited` is false).
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public enum Kind: Sendable {
            /// The user may not sign this change (403).
            case forbidden
            /// The change or plan moved on (409).
            case conflict
            /// There is no such change (404; not audited, as the CLI does).
            case notFound
            /// The request is malformed (400).
            case badRequest
        }

        public var kind: Kind
        public var message: String
        public var description: String { message }
    }

    /// How the signer was authenticated, for the record: `local-password` (web console / API with password).
    public struct Signer: Sendable {
        public var userID: String
        public var authentication: String
        public var remoteAddress: String?

        public init(userID: String, authentication: String, remoteAddress: String?) {
            self.userID = userID
            self.authentication = authentication
            self.remoteAddress = remoteAddress
        }
    }

    /// Signs change `changeID`. `reviewedPlan` (a plan id or a prefix of it) must match the change's plan.
    public static func sign(
        changeID: String, approving: Bool, reason: String, reviewedPlan: String?, signer: Signer,
        instance: InterlockInstance, state: DesiredState
    ) throws(Refusal) -> Signed {
        let verb = approving ? "approve" : "reject"
        let store = instance.store
        let change: ChangeRequest
        do {
            guard let found = try store.change(id: changeID) else { throw Refusal(kind: .notFound, message: "there is no change \(changeID)") }
            change = found
        } catch let refusal as Refusal {
            throw refusal
        } catch {
            throw Refusal(kind: .conflict, message: "cannot read change \(changeID): \(error)")
        }
        guard let site = state.site(named: change.site) else {
            throw Refusal(kind: .conflict, message: "site \(change.site) is no longer in the desired state")
        }
        var details = ["timezone": site.timezone]
        if let address = signer.remoteAddress { details["remoteAddress"] = address }

        func refuse(_ kind: Refusal.Kind, _ message: String) -> Refusal {
            do {
                try store.record([AuditEvent(
                    actor: Person(id: signer.userID, name: instance.configuration.user(signer.userID)?.name ?? signer.userID), role: "approver",
                    authentication: signer.authentication, category: .access, action: "\(verb).refused", site: site.name,
                    changeID: change.id, planID: change.plan.id, commit: change.plan.commit, reason: reason, success: false, error: message,
                    details: details)])
                instance.checkpoint()
            } catch {
                return Refusal(kind: kind, message: "\(message) (and the refusal could not be audited: \(error))")
            }
            return Refusal(kind: kind, message: message)
        }

        let rules: GateRules
        do {
            rules = try GateRules.resolve(site, store: store)
        } catch {
            throw refuse(.conflict, "cannot read the rules last applied at \(site.name): \(error)")
        }
        if signer.authentication.hasPrefix("api-token") {
            throw refuse(.forbidden, "API tokens never sign: sign in to the console, or use 'interlock approve' with your password")
        }
        if let reviewed = reviewedPlan {
            let hex = reviewed.hasPrefix("sha256:") ? String(reviewed.dropFirst(7)) : reviewed
            guard hex.count >= 12, hex.count <= 64, hex.allSatisfy(\.isHexDigit) else {
                throw refuse(.badRequest, "the reviewed plan must be at least the 12 hex digits of the plan id (\(change.plan.shortID))")
            }
        }
        if let reviewed = reviewedPlan,
           !change.plan.id.hasPrefix(reviewed.hasPrefix("sha256:") ? reviewed : "sha256:" + reviewed) {
            throw refuse(.conflict, "\(change.id) is plan \(change.plan.shortID), not the plan \(reviewed.replacingOccurrences(of: "sha256:", with: "").prefix(12)) you reviewed")
        }
        let user: InstanceConfiguration.User
        do {
            user = try ApprovalRules.authorize(userID: signer.userID, users: instance.configuration.users, rules: rules, change: change, approving: approving)
        } catch {
            let alreadySigned = change.approvers.contains(signer.userID)
            throw refuse(alreadySigned ? .conflict : .forbidden, error.message)
        }
        let person = Person(id: user.id, name: user.name, email: user.email)
        let meaning = ApprovalRules.meaning(of: user, site: site, approving: approving)
        details["meaning"] = meaning
        details["printedName"] = user.name
        let event = AuditEvent(
            actor: person, role: user.title, authentication: signer.authentication, category: .approval,
            action: approving ? "change.approved" : "change.rejected", site: site.name, changeID: change.id, planID: change.plan.id,
            commit: change.plan.commit, reason: reason, details: details)
        do {
            if approving {
                let approval = Approval(approver: person, role: user.title, meaning: meaning, reason: reason, planID: change.plan.id, at: Date())
                let updated = try store.approve(changeID: change.id, approval: approval, events: [event])
                let reconciler = instance.reconciler(state)
                let wave = try reconciler.waveState(of: updated, site: site, state: state)
                let afterGates: ChangeRequest, gates: GateStatus?, notes: [String]
                do {
                    (afterGates, gates, notes) = try reconciler.updateReadiness(updated, site: site, wave: wave)
                } catch let error as ChangeStoreError where error.code == .conflict {
                    // The approval is committed; another replica's pass, woken by it, moved the change on first (its
                    // gates opened, or it was claimed). The signature stands: say where the change is now.
                    let now = (try? store.change(id: change.id)).flatMap { $0 } ?? updated
                    (afterGates, gates, notes) = (now, nil, ["\(change.id) is \(now.status.rawValue) now: another replica acted on the approval first"])
                }
                instance.checkpoint()
                return Signed(change: afterGates, meaning: meaning, signer: user, gates: gates, notes: notes)
            } else {
                let rejected = try store.transition(changeID: change.id, from: [.waiting, .ready], to: .rejected,
                                                    reason: "rejected by \(user.name): \(reason)", events: [event])
                instance.checkpoint()
                return Signed(change: rejected, meaning: meaning, signer: user, gates: nil, notes: [])
            }
        } catch let error as ChangeStoreError {
            throw refuse(error.code == .notFound ? .notFound : .conflict, error.message)
        } catch {
            throw refuse(.conflict, "\(error)")
        }
    }

    /// Whether `userID` could sign `change` now (for showing or hiding the forms; the signature re-checks).
    public static func mayShowForm(userID: String, approving: Bool, change: ChangeRequest, rules: GateRules, users: [InstanceConfiguration.User]) -> Bool {
        guard change.status == .waiting || change.status == .ready else { return false }
        return (try? ApprovalRules.authorize(userID: userID, users: users, rules: rules, change: change, approving: approving)) != nil
    }
}
