import Foundation
import InterlockEngine
import InterlockStore

/// How a site reached through its agent stands, from its agent's last contact (a hello, poll, report, claim, lease
/// renewal or result; real time):
/// online, offline when silent for three of the longest polls, or without an agent at all. A change its agent had
/// started while it is offline is shown as *unknown* — never as applied or failed, which only the agent can say.
public struct AgentPresence: Sendable, Equatable {
    public enum State: String, Sendable {
        case online = "agent online"
        case offline = "agent offline"
        case none = "no agent"
    }

    /// Three polls of the longest wait without a contact.
    public static let offlineAfter: TimeInterval = 3 * AgentListener.maximumWait

    public var state: State
    public var lastContact: Date?
    public var serial: String?

    /// The site's presence from its certificates that are neither revoked nor expired (the most recent contact of any).
    public static func of(site: String, certificates: [AgentCertificate], now: Date = Date()) -> AgentPresence {
        let current = certificates.filter { $0.site == site && $0.revokedAt == nil && $0.notAfter > now }
        guard !current.isEmpty else { return AgentPresence(state: .none) }
        let latest = current.filter { $0.lastContact != nil }.max { $0.lastContact! < $1.lastContact! }
        guard let latest, let contact = latest.lastContact else { return AgentPresence(state: .offline, serial: current.first?.serial) }
        return AgentPresence(state: now.timeIntervalSince(contact) > offlineAfter ? .offline : .online, lastContact: contact, serial: latest.serial)
    }

    public init(state: State, lastContact: Date? = nil, serial: String? = nil) {
        self.state = state
        self.lastContact = lastContact
        self.serial = serial
    }

    /// "agent online — last contact 12 s ago (2026-…Z)", for the console.
    public func text(now: Date = Date()) -> String {
        guard let lastContact else {
            return state == .none ? "no agent enrolled: 'interlock agent enrol --site …'" : "\(state.rawValue) — no contact yet"
        }
        let seconds = Int(max(0, now.timeIntervalSince(lastContact)))
        let ago = seconds < 120 ? "\(seconds) s" : seconds < 7200 ? "\(seconds / 60) min" : "\(seconds / 3600) h"
        let silent = state == .offline ? ", silent for more than three polls" : ""
        return "\(state.rawValue) — last contact \(ago) ago (\(AuditTimestamp.format(lastContact)))\(silent)"
    }

    /// What the console shows for a change of this site: `unknown` while its agent, which started it, is offline.
    public func displayStatus(of change: ChangeRequest) -> (status: String, note: String?)? {
        guard change.status == .applying, state != .online else { return nil }
        let since = lastContact.map { " since \(AuditTimestamp.format($0))" } ?? ""
        return ("unknown", "The agent of \(change.site) started this change and has been silent\(since): whether it was applied is unknown "
                    + "until the agent reports (it recovers from its journal and reports what it finds; nothing is assumed).")
    }
}
