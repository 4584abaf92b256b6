import Foundation
import InterlockEngine
import InterlockModel

/// How the change queue's rows and events are written, the same in SQLite and PostgreSQL.
enum QueueRows {
    static func entry(_ event: AuditEvent) -> AuditEntry {
        AuditEntry(
            actor: AuditActor(id: event.actor.id, name: event.actor.name, role: event.role, authentication: event.authentication),
            category: AuditCategory(rawValue: event.category.rawValue) ?? .system, action: event.action, site: event.site,
            resource: event.resource, changeID: event.changeID, planID: event.planID, commit: event.commit, before: event.before,
            after: event.after, reason: event.reason, result: event.success ? .success : .failure, error: event.error, details: event.details)
    }

    static func json<T: Encodable>(_ value: [T]) throws -> String? {
        guard !value.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T? {
        guard let text else { return nil }
        return try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
