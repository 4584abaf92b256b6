import Foundation
import InterlockModel

/// What kind of change this is and what could go wrong, in a plant manager's words, for the top of the change page:
/// reload or health commands that change, security-relevant settings, drift being reverted, files taken over,
/// resources removed, vendor product or version changes, flows rewired, a first deployment — and, above all, content
/// that was already rolled back or failed at this or another site. Pure: the caller passes the earlier failures.
public struct ChangeRisk: Sendable, Hashable {
    public enum Level: String, Sendable, Hashable {
        case high, notable, info
    }

    public struct Item: Sendable, Hashable {
        public var level: Level
        public var text: String
        /// An earlier change this item is about (one that failed with the same content).
        public var change: String?
    }

    public var items: [Item]
    /// One line: "2 high, 3 notable" or "nothing notable".
    public var headline: String {
        let high = items.filter { $0.level == .high }.count, notable = items.filter { $0.level == .notable }.count
        if high == 0, notable == 0 { return "nothing notable beyond the plan below" }
        return [high > 0 ? "\(high) high" : nil, notable > 0 ? "\(notable) notable" : nil].compactMap { $0 }.joined(separator: ", ")
    }

    /// Words that mark a setting as security-relevant (credentials, listeners, TLS, access control).
    static let securityWords: Set<String> = ["password", "passwd", "secret", "credential", "token", "privatekey", "apikey", "tls", "ssl",
                                             "cert", "certificate", "certfile", "cafile", "keyfile", "listener", "bind", "anonymous", "acl", "auth",
                                             "authentication", "port", "psk", "user", "username"]

    /// Whether a line names a security-relevant setting: one of its words (split at anything not a letter or
    /// digit, so `opcua_port` has `port` but `E_import_T1` has not) is a security word (or its plural).
    static func isSecurityRelevant(_ line: String) -> Bool {
        line.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).contains { word in
            securityWords.contains(String(word)) || (word.hasSuffix("s") && securityWords.contains(String(word.dropLast())))
        }
    }

    /// - Parameters:
    ///   - firstDeployment: nothing was applied at the site before (its rules come from this commit).
    ///   - earlier: changes of any site that ended rolled back or failed, newest first.
    public static func assess(_ change: ChangeRequest, firstDeployment: Bool, earlier: [ChangeRequest]) -> ChangeRisk {
        var items: [Item] = []
        let ops = change.plan.operations
        // The same new content that was rolled back or failed before: it comes back, and says so.
        var seen = Set<String>()
        for old in earlier where old.id != change.id && (old.status == .rolledBack || old.status == .failed) {
            let failedContent = Set(old.plan.operations.compactMap { op in op.afterHash.map { "\(op.path)\u{0}\($0)" } })
            let again = ops.filter { op in op.afterHash.map { failedContent.contains("\(op.path)\u{0}\($0)") } ?? false }.map(\.path)
            guard !again.isEmpty, seen.insert(old.id).inserted else { continue }
            let why = old.statusReason.map { ": \($0.prefix(160))" } ?? ""
            items.append(Item(level: .high, text: "writes content that was \(old.status == .rolledBack ? "rolled back" : "a failed apply") in \(old.id) at \(old.site)\(why) — \(list(again))", change: old.id))
            if seen.count >= 5 { break }
        }
        if firstDeployment {
            items.append(Item(level: .notable, text: "first deployment of \(change.site): nothing was applied here before, and this commit brings the site's own rules"))
        }
        if !change.ruleChanges.isEmpty {
            items.append(Item(level: .high, text: RuleChange.headline(change.ruleChanges) ?? "changes the site's gate rules"))
        }
        var hooks: [String] = [], versions: [String] = [], security: [String] = []
        for op in ops {
            for line in op.changes {
                let lower = line.lowercased()
                if op.kind == .component, lower.hasPrefix("reload") || lower.hasPrefix("health") {
                    hooks.append("\(op.path): \(line.prefix(120))")
                }
                if op.kind == .component, lower.hasPrefix("version ") || lower.hasPrefix("product ") || lower.hasPrefix("vendor ") {
                    versions.append("\(op.path.dropFirst("components/".count)) \(line.prefix(80))")
                }
                if op.kind == .flow, lower.hasPrefix("brick "), lower.contains(" version ") {
                    versions.append("\(op.path) \(line.prefix(100))")
                }
                if !line.hasPrefix("@@"), !line.hasPrefix("+++"), !line.hasPrefix("---"), !line.hasPrefix(" "), isSecurityRelevant(line) {
                    security.append("\(op.path): \(line.prefix(100))")
                }
            }
        }
        if !hooks.isEmpty { items.append(Item(level: .high, text: "reload or health commands change (what runs at the plant after the write): \(list(hooks))")) }
        if !security.isEmpty { items.append(Item(level: .high, text: "security-relevant settings change (credentials, listeners, ports, TLS, access control): \(list(security))")) }
        let reverted = ops.filter(\.revertsDrift).map(\.path)
        if !reverted.isEmpty { items.append(Item(level: .high, text: "overwrites changes made at the plant outside Interlock (drift): \(list(reverted))")) }
        let adopted = ops.filter(\.adoptsUnmanaged).map(\.path)
        if !adopted.isEmpty { items.append(Item(level: .notable, text: "takes over files Interlock did not write: \(list(adopted))")) }
        let removed = ops.filter { $0.action == .delete }.map(\.path)
        if !removed.isEmpty { items.append(Item(level: .notable, text: "removes \(removed.count) resource(s): \(list(removed))")) }
        if !versions.isEmpty { items.append(Item(level: .notable, text: "vendor software changes: \(list(versions))")) }
        var bricks = 0, connections = 0, flows = 0
        for op in ops where op.kind == .flow {
            guard let picture = FlowPicture.compare(old: op.previousContent, new: op.content) else { continue }
            flows += 1
            bricks += picture.touchedBricks
            connections += picture.touchedConnections
        }
        if flows > 0 {
            items.append(Item(level: .info, text: "\(flows) flow(s): \(bricks) brick(s) and \(connections) connection(s) touched"))
        }
        items.append(Item(level: .info, text: "\(change.plan.summary) across \(ops.count) resource(s); gate \(change.gate.rawValue)"))
        return ChangeRisk(items: items)
    }

    static func list(_ items: [String]) -> String {
        let shown = items.prefix(4).joined(separator: "; ")
        return items.count > 4 ? shown + "; and \(items.count - 4) more" : shown
    }
}
