import ArgumentParser
import Foundation
import InterlockModel
import InterlockStore

/// `interlock notifications`: the outbox — what was sent, what waits for a retry and why, what was given up.
struct NotificationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications",
        abstract: "The notifications outbox: pending (with the last error and the next attempt), sent and failed deliveries, newest first."
    )

    @OptionGroup var instance: InstanceOptions
    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Only this status: pending, sent or failed (repeatable).")
    var status: [String] = []

    @Option(name: .long, help: "At most this many (default 50).")
    var limit = 50

    @Flag(name: .long, help: "Print them as JSON.")
    var json = false

    func validate() throws {
        for text in status where OutboxNotification.Status(rawValue: text) == nil {
            throw ValidationError("--status \(text): use pending, sent or failed")
        }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
    }

    func run() throws {
        let context = try QueueContext(instance: instance, repository: repository, target: target)
        let items = try context.store.notifications(statuses: status.compactMap(OutboxNotification.Status.init(rawValue:)), limit: limit)
        if json {
            Terminal.printJSON(.object(["notifications": .array(items.map { n in
                .object([
                    "id": .int(Int(n.id)), "key": .string(n.key), "event": .string(n.event), "site": n.site.map(Value.string) ?? .null,
                    "change": n.changeID.map(Value.string) ?? .null, "channel": .string(n.channel), "recipient": .string(n.recipient),
                    "subject": .string(n.subject), "status": .string(n.status.rawValue), "attempts": .int(n.attempts),
                    "nextAttemptAt": n.status == .pending ? .string(AuditTimestamp.format(n.nextAttemptAt)) : .null,
                    "lastError": n.lastError.map(Value.string) ?? .null, "createdAt": .string(AuditTimestamp.format(n.createdAt)),
                    "sentAt": n.sentAt.map { .string(AuditTimestamp.format($0)) } ?? .null,
                ])
            })]))
            return
        }
        if items.isEmpty {
            print(context.configuration.notifications == nil ? "no notifications: the instance configuration has no 'notifications' section" : "no notifications yet")
            return
        }
        for n in items {
            let state: String
            switch n.status {
            case .sent: state = Terminal.styled("sent", .green) + (n.sentAt.map { " \(AuditTimestamp.format($0))" } ?? "")
            case .failed: state = Terminal.styled("failed", .red) + " after \(n.attempts) attempt(s)"
            case .pending: state = Terminal.styled("pending", .yellow) + (n.attempts > 0 ? " (\(n.attempts) attempt(s); next \(AuditTimestamp.format(n.nextAttemptAt)))" : "")
            }
            print("#\(n.id) \(n.event) → \(n.channel) \(n.recipient): \(state)")
            print("    \(n.subject)")
            if let error = n.lastError, n.status != .sent { print("    " + Terminal.styled(error, .red)) }
        }
    }
}
