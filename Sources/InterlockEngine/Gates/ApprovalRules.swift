import Foundation
import InterlockModel

/// Who may approve or reject which change. Every refusal says why, for the person and the audit log.
public enum ApprovalRules {
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Checks that `userID` may sign (approve or reject) `change` at `site`. Returns the user.
    /// - Parameter rules: the site's gate rules (what was already trusted, tightened by the commit).
    public static func authorize(
        userID: String, users: [InstanceConfiguration.User], rules: GateRules, change: ChangeRequest, approving: Bool
    ) throws(Refusal) -> InstanceConfiguration.User {
        let site = rules.site
        guard let user = users.first(where: { $0.id == userID }) else {
            throw Refusal(message: "'\(userID)' is not a user of this Interlock instance (see the users in the instance configuration)")
        }
        guard user.roles.contains(.approver) || user.roles.contains(.admin) else {
            throw Refusal(message: "\(user.name) (\(user.id)) has no approver role")
        }
        guard user.actsFor(site.name) else {
            throw Refusal(message: "\(user.name) (\(user.id)) does not approve for \(site.name) (approves for: \(user.sites.joined(separator: ", ")))")
        }
        let listed = site.approval.approvers.contains(user.id)
            || user.groups.contains { site.approval.approvers.contains("group:\($0)") }
        guard listed else {
            throw Refusal(message: "\(user.name) (\(user.id)) is not among \(site.name)'s approvers (\(site.approval.approvers.joined(separator: ", ")))")
        }
        if approving, !site.approval.allowAuthor, let (commit, how) = authored(by: user, change: change) {
            throw Refusal(message: "\(user.name) (\(user.id)) \(how) commit \(commit.prefix(10)), which \(change.id) carries, and may not approve it at \(site.name) (allowAuthor is false)")
        }
        if approving, change.approvers.contains(user.id) {
            throw Refusal(message: "\(user.name) (\(user.id)) has already approved \(change.id); an approver counts once")
        }
        return user
    }

    /// The first commit of `change` that `user` authored or committed, and which of the two.
    public static func authored(by user: InstanceConfiguration.User, change: ChangeRequest) -> (commit: String, how: String)? {
        for commit in change.commits {
            if isSamePerson(user, commit.author) { return (commit.id, "wrote") }
            if isSamePerson(user, commit.committer) { return (commit.id, "committed") }
        }
        if let author = change.author, isSamePerson(user, author) { return (change.plan.commit ?? "", "wrote") }
        return nil
    }

    /// Whether a commit identity is `user`: the same e-mail address (case and `+tag` ignored), the user id as e-mail
    /// or login, or the same printed name (case and spacing ignored).
    static func isSamePerson(_ user: InstanceConfiguration.User, _ person: Person) -> Bool {
        isSamePerson(signer: Person(id: user.id, name: user.name, email: user.email), person)
    }

    /// Whether a commit identity is the person who signed (`signer` as an approval records them: user id, name and
    /// e-mail), by the same tests as ``isSamePerson(_:_:)``.
    static func isSamePerson(signer: Person, _ person: Person) -> Bool {
        let personEmail = (person.email ?? (person.id.contains("@") ? person.id : nil)).map(normalizedEmail)
        if let email = signer.email.map(normalizedEmail), let personEmail, email == personEmail { return true }
        if let personEmail, personEmail == normalizedEmail(signer.id) || personEmail.split(separator: "@").first.map(String.init) == signer.id.lowercased() {
            return true
        }
        if person.id.lowercased() == signer.id.lowercased() { return true }
        let a = normalizedName(signer.name), b = normalizedName(person.name)
        return !a.isEmpty && a == b
    }

    /// `Anna.Berger+hotfix@Example.com` → `anna.berger@example.com`.
    public static func normalizedEmail(_ email: String) -> String {
        let lower = email.trimmingCharacters(in: .whitespaces).lowercased()
        guard let at = lower.lastIndex(of: "@") else { return lower }
        var local = lower[..<at]
        if let plus = local.firstIndex(of: "+") { local = local[..<plus] }
        return String(local) + lower[at...]
    }

    static func normalizedName(_ name: String) -> String {
        name.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// "approved as plant manager of plant-a".
    public static func meaning(of user: InstanceConfiguration.User, site: Site, approving: Bool) -> String {
        "\(approving ? "approved" : "rejected") as \(user.title) of \(site.name)"
    }
}
