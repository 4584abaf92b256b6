import Foundation
import Hummingbird
import InterlockEngine
import InterlockModel
import InterlockStore
import Mustache

/// Renders console pages: a page template inside the layout, with the signed-in user's navigation.
struct ConsoleViews: Sendable {
    let library: MustacheLibrary
    let version: String
    /// Shown on every page during a rehearsal (simulated gate clock).
    let rehearsal: String?

    init(version: String, rehearsal: String? = nil) {
        self.rehearsal = rehearsal
        var library = MustacheLibrary()
        for (name, text) in ConsoleTemplates.all {
            // The templates are part of the program; a syntax error in one is a programming error.
            try! library.register(text, named: name)
        }
        self.library = library
        self.version = version
    }

    struct Flash {
        var kind: String
        var text: String
    }

    func page(_ template: String, title: String, data: [String: Any], principal: Principal?, flash: Flash? = nil,
              nav: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        let body = library.render(data, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body, "version": version]
        if let rehearsal { layout["rehearsal"] = rehearsal.replacingOccurrences(of: "rehearsal: ", with: "") }
        if let principal {
            var user: [String: Any] = [
                "id": principal.user.id, "name": principal.user.name, "roles": principal.user.roles.map(\.rawValue).sorted().joined(separator: ", "),
                "canAudit": principal.mayReadAudit, "csrf": principal.session?.csrfToken ?? "",
            ]
            if let nav { user["nav" + nav] = true }
            layout["user"] = user
        }
        if let flash { layout["flash"] = ["kind": flash.kind, "text": flash.text] }
        return Responses.html(library.render(layout, withTemplate: "layout") ?? "", status: status)
    }

    func errorPage(_ error: ServerError, principal: Principal?) -> Response {
        let heading: String = switch error.status {
        case .notFound: "Not found"
        case .forbidden: "Not allowed"
        case .conflict: "Not possible any more"
        case .tooManyRequests: "Too many attempts"
        case .badRequest: "Something is missing"
        case .serviceUnavailable: "Not ready yet"
        default: "Something went wrong"
        }
        return page("error", title: heading, data: ["heading": heading, "message": error.message], principal: principal, status: error.status)
    }

    // MARK: - Small view helpers

    /// A template context without absent values: nil and empty strings are dropped, so `{{#key}}` sections
    /// render only for values that are there (Mustache treats an empty string as present).
    static func view(_ pairs: [String: Any?]) -> [String: Any] {
        var result: [String: Any] = [:]
        for (key, value) in pairs {
            guard let value else { continue }
            if let text = value as? String, text.isEmpty { continue }
            result[key] = value
        }
        return result
    }

    static func statusClass(_ status: ChangeStatus) -> String {
        switch status {
        case .ready, .applied: "ok"
        case .waiting, .applying: "warn"
        case .failed, .rolledBack, .rejected: "bad"
        case .superseded, .expired: ""
        }
    }

    static func conditionClass(_ condition: SiteCondition) -> String {
        switch condition {
        case .inSync: "ok"
        case .changesPending: "warn"
        case .drifted, .invalid, .unreachable: "bad"
        }
    }

    /// `Sat 2026-11-28 23:00 CET`, as the schedule texts write plant time.
    static func local(_ date: Date, zone: TimeZone?) -> String {
        SiteTimeZone(zone ?? TimeZone(identifier: "UTC")!).siteTimeText(date)
    }

    /// `2026-11-28 22:00:00Z`
    static func utc(_ date: Date) -> String {
        let text = AuditTimestamp.format(date)
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(8)) + "Z"
    }

    static func diffLines(_ changes: [String]) -> [[String: String]] {
        changes.map { line in
            let kind: String
            if line.hasPrefix("+"), !line.hasPrefix("+++") { kind = "add" }
            else if line.hasPrefix("-"), !line.hasPrefix("---") { kind = "del" }
            else if line.hasPrefix("@@") { kind = "hunk" }
            else { kind = "ctx" }
            return ["kind": kind, "text": line]
        }
    }
}
