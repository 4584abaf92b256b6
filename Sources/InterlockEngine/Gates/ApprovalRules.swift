import Foundation
import InterlockModel

/// Who may approve or reject which change. Every refusal says why, for the person and the audit log.
public enum ApprovalRules {
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Checks that `userID` may sign (approve or reject) `change` at `site`. Returns the user.
    public static func authorize(
        userID: String, users: [InstanceConfiguration.User], site: Site, change: ChangeRequest, approving: Bool
    ) throws(Refusal) -> InstanceConfiguration.User {
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
        if approving, !site.approval.allowAuthor, let author = change.author, isAuthor(user, author) {
            throw Refusal(message: "\(user.name) (\(user.id)) wrote commit \(change.plan.commit.map { String($0.prefix(10)) } ?? "") and may not approve their own change at \(site.name) (allowAuthor is false)")
        }
        if approving, change.approvers.contains(user.id) {
            throw Refusal(message: "\(user.name) (\(user.id)) has already approved \(change.id); an approver counts once")
        }
        return user
    }

    static func isAuthor(_ user: InstanceConfiguration.User, _ author: Person) -> Bool {
        if let email = user.email?.lowercased(), let authorEmail = author.email?.lowercased(), email == authorEmail { return true }
        return author.id == user.id
    }

    /// "approved as plant manager of plant-a".
    public static func meaning(of user: InstanceConfiguration.User, site: Site, approving: Bool) -> String {
        "\(approving ? "approved" : "rejected") as \(user.title) of \(site.name)"
    }
}
