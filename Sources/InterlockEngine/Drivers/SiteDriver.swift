import Foundation
import InterlockModel

/// Observes a site's live state and changes it. One driver instance serves one site.
///
/// Drivers are synchronous and may block (file I/O, a child process); callers run them off the main
/// thread when that matters. A driver never decides *whether* to apply — the plan and its gates do.
public protocol SiteDriver: Sendable {
    /// Reads the live state. `desired` lists the resources Interlock wants at the site, so a driver can
    /// also report unmanaged resources already sitting at those paths.
    func observe(desired: [Resource]) throws -> LiveState

    /// Applies the operations of a plan, in order. Returns what is needed to undo them.
    func apply(_ plan: Plan) throws -> ApplyReceipt

    /// Undoes an earlier `apply` (restores previous contents, removes created resources).
    func rollback(_ receipt: ApplyReceipt) throws

    /// Finishes what an apply interrupted by a crash left behind, by rolling it back. Returns a
    /// description of what was restored, or nil when no interrupted apply was found.
    func recoverInterruptedApply() throws -> String?

    /// Forgets the journal of an apply of `planID` (its outcome has been recorded): until then a crash leaves the
    /// journal for recovery, so that a rollback can still be finished.
    func finishApply(planID: String) throws

    /// Rolls back, from its journal, an apply of `planID` that did not finish (a crash, or a failure the executor
    /// found after the fact). False when the driver keeps no journal of that plan.
    func rollBackInterruptedApply(planID: String) throws -> Bool

    /// This driver, writing only while `token` is the highest fencing token the target has seen (see
    /// ``LeaseFence``): a process whose lease was taken over can no longer change the site.
    func fenced(by token: Int64) -> any SiteDriver

    /// Makes the target remember this driver's fencing token as the highest, so an earlier holder's next write is
    /// refused (a process taking a site over does this before it observes). No-op without a token.
    func raiseFence() throws
}

extension SiteDriver {
    /// Drivers that keep no journal cannot tell what an interrupted apply did.
    public func recoverInterruptedApply() throws -> String? { nil }
    public func finishApply(planID: String) throws {}
    public func rollBackInterruptedApply(planID: String) throws -> Bool { false }
    /// Drivers whose target cannot check a token are fenced only in the database.
    public func fenced(by token: Int64) -> any SiteDriver { self }
    public func raiseFence() throws {}
}

/// What an apply did, with enough to roll it back.
public struct ApplyReceipt: Sendable, Hashable, Codable {
    public var site: String
    public var planID: String
    /// Resource paths changed, in the order they were applied.
    public var applied: [String]
    /// Driver-specific undo information (the files driver: a backup directory; the command driver: the
    /// program's rollback token).
    public var undo: [String: String]

    public init(site: String, planID: String, applied: [String], undo: [String: String]) {
        self.site = site
        self.planID = planID
        self.applied = applied
        self.undo = undo
    }
}

/// A driver could not observe or change the site. Says which site, what failed and what to do.
public struct DriverError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unreachable
        case refused
        case failed
        case timeout
        case badResponse = "bad-response"
        /// Another process holds the site now (a higher fencing token was seen at the target): nothing more was written.
        case fenced
    }

    public var code: Code
    public var site: String
    public var message: String
    public var hint: String?
    /// Output the target produced (a command driver's stderr), kept for the record.
    public var detail: String?

    public init(_ code: Code, site: String, _ message: String, hint: String? = nil, detail: String? = nil) {
        self.code = code
        self.site = site
        self.message = message
        self.hint = hint
        self.detail = detail
    }

    public var description: String {
        var text = "site \(site): \(message)"
        if let hint { text += " — \(hint)" }
        if let detail, !detail.isEmpty { text += "\n" + detail.split(separator: "\n").suffix(20).map { "    | \($0)" }.joined(separator: "\n") }
        return text
    }
}

/// Builds the driver a site's `target` names.
public enum DriverFactory {
    /// - Parameters:
    ///   - targetBase: the directory relative `files` roots resolve against.
    ///   - workingDirectory: the directory relative command paths resolve against (the repository, typically).
    public static func driver(for site: Site, targetBase: String, workingDirectory: String? = nil) -> any SiteDriver {
        if site.reach == .agent { return AgentReachedDriver(site: site.name) }
        switch site.target {
        case .files(let root):
            let resolved = root.hasPrefix("/") ? root : URL(fileURLWithPath: targetBase).appendingPathComponent(root).path
            return FilesDriver(site: site.name, root: resolved)
        case .command(let spec):
            return CommandDriver(site: site.name, command: spec, workingDirectory: workingDirectory)
        }
    }
}
