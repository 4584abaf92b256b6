import Foundation
import InterlockModel
#if canImport(Glibc)
import Glibc
#endif

/// The `files` driver: the site's software reads its configuration from a directory tree.
///
/// Resources map to files under the root: `files/<p>` → `<p>`, `flows/<name>` → `flows/<name>.json`,
/// `components/<name>` → `.interlock/components/<name>.json`. What Interlock wrote is listed in
/// `.interlock/manifest.json`; files it never wrote are never changed or deleted unless a plan
/// explicitly adopts them. Writes are atomic (temporary file, fsync, rename, fsync of the directory) and
/// every overwritten or deleted file is kept in `.interlock/backups/<plan>/` so the apply can be rolled back.
public struct FilesDriver: SiteDriver {
    public let site: String
    /// Absolute path of the site's root directory.
    public let root: String

    /// The lease's fencing token: every write checks it against the highest one the target has seen
    /// (`.interlock/fence`, see ``fenced(by:)``). Nil: unfenced (a command run by an operator without a queue claim).
    public var fencingToken: Int64?

    public init(site: String, root: String) {
        self.site = site
        self.root = root
    }

    public func fenced(by token: Int64) -> any SiteDriver {
        var driver = self
        driver.fencingToken = token
        return driver
    }

    /// Runs `body` under the fence when the driver holds a token.
    private func guarded<T>(_ files: SafeFiles, _ body: () throws -> T) throws -> T {
        guard let fencingToken else { return try body() }
        return try files.fenced(token: fencingToken, body)
    }

    public func raiseFence() throws {
        let files = SafeFiles(root: root, site: site)
        guard fencingToken != nil, try files.rootExists() else { return }
        try guarded(files) {}
    }

    /// The file, relative to the root, that holds a resource.
    public static func file(forResource path: String) -> String {
        if path.hasPrefix("files/") { return String(path.dropFirst("files/".count)) }
        if path.hasPrefix("flows/") { return Site.flowFile(String(path.dropFirst("flows/".count))) }
        if path.hasPrefix("components/") { return ".interlock/" + path + ".json" }
        return ".interlock/other/" + path
    }

    // MARK: Observe

    public func observe(desired: [Resource]) throws -> LiveState {
        try observe(desiredPaths: desired.map(\.path))
    }

    /// `observe(desired:)` with only the desired resources' paths (what a plant's agent is told).
    public func observe(desiredPaths: [String]) throws -> LiveState {
        let files = SafeFiles(root: root, site: site)
        guard try files.rootExists() else { return .empty }
        let manifest = try readManifest(files)
        var resources: [String: LiveResource] = [:]
        resources.reserveCapacity(max(manifest.entries.count, desiredPaths.count))
        var drift: [Drift] = []
        for entry in manifest.entries.values {
            guard let observed = try files.read(entry.file) else {
                drift.append(Drift(path: entry.resource, kind: .vanished, expectedHash: entry.hash, actualHash: nil, appliedByPlan: entry.plan, appliedCommit: entry.commit))
                continue
            }
            let live = LiveResource(path: entry.resource, content: observed.content, mode: observed.mode, managed: true)
            resources[entry.resource] = live
            if live.contentHash != entry.hash {
                drift.append(Drift(path: entry.resource, kind: .modified, expectedHash: entry.hash, actualHash: live.contentHash, appliedByPlan: entry.plan, appliedCommit: entry.commit))
            } else if observed.mode != entry.mode {
                drift.append(Drift(path: entry.resource, kind: .modeChanged, expectedHash: entry.hash, actualHash: live.contentHash, appliedByPlan: entry.plan, appliedCommit: entry.commit))
            }
        }
        for path in desiredPaths where manifest.entries[path] == nil {
            if let observed = try files.read(Self.file(forResource: path)) {
                resources[path] = LiveResource(path: path, content: observed.content, mode: observed.mode, managed: false)
            }
        }
        return LiveState(resources: resources, drift: drift)
    }

    private func readManifest(_ files: SafeFiles) throws -> FilesManifest {
        guard let data = try files.read(FilesManifest.relativePath)?.content else { return FilesManifest(site: site) }
        do {
            return try FilesManifest(parsing: data, site: site)
        } catch {
            throw DriverError(
                .failed, site: site, "the manifest \(root)/\(FilesManifest.relativePath) cannot be read: \(error)",
                hint: "restore it from .interlock/backups or from a backup of the target; Interlock will not guess what it manages")
        }
    }

    // MARK: Apply

    public func apply(_ plan: Plan) throws -> ApplyReceipt {
        let files = SafeFiles(root: root, site: site)
        try files.createRoot()
        var manifest = try readManifest(files)
        let backup = ".interlock/backups/\(plan.shortID)-\(Self.timestamp())"
        var undo: [Value] = []
        var applied: [String] = []
        let now = ISO8601DateFormatter().string(from: Date())

        let marker = Value.object(["plan": .string(plan.id), "backup": .string(backup), "started": .string(now)])
        try guarded(files) { try files.write(Self.inProgressPath, Data(marker.prettyJSONBytes), mode: 0o600) }
        do {
            for operation in plan.operations { try guarded(files) {
                let file = Self.file(forResource: operation.path)
                let previousEntry = manifest.entries[operation.path]
                if operation.action == .delete, previousEntry == nil {
                    throw DriverError(.refused, site: site, "refusing to delete \(file): Interlock did not write it", hint: "re-plan; only managed files are deleted")
                }
                let previous = try files.read(file)
                let currentHash = previous.map { Resource.hash($0.content) }
                if currentHash != operation.beforeHash {
                    throw DriverError(
                        .refused, site: site,
                        "\(file) changed since the plan was computed (expected \(operation.beforeHash ?? "no file"), found \(currentHash ?? "no file"))",
                        hint: "nothing unseen is overwritten; re-plan and review the new plan")
                }
                if let previous {
                    try files.write(backup + "/files/" + file, previous.content, mode: previous.mode)
                }
                undo.append(.object([
                    "resource": .string(operation.path), "file": .string(file), "existed": .bool(previous != nil),
                    "mode": previous.map { .int(Int($0.mode)) } ?? .null,
                    "entry": previousEntry.map { FilesManifest(site: site, entries: [operation.path: $0]).value } ?? .null,
                ]))
                try files.write(backup + "/undo.json", Data(Value.array(undo).prettyJSONBytes), mode: 0o600)

                switch operation.action {
                case .create, .update:
                    guard let content = operation.content else {
                        throw DriverError(.failed, site: site, "operation \(operation.action.rawValue) \(operation.path) has no content")
                    }
                    let mode = operation.afterMode ?? 0o644
                    try files.write(file, content, mode: mode)
                    manifest.entries[operation.path] = FilesManifest.Entry(
                        resource: operation.path, file: file, hash: Resource.hash(content), mode: mode, commit: plan.commit, plan: plan.id, appliedAt: now)
                case .delete:
                    try files.remove(file)
                    manifest.entries[operation.path] = nil
                }
                try files.write(FilesManifest.relativePath, Data(manifest.value.prettyJSONBytes), mode: 0o644)
                applied.append(operation.path)
                }
                Self.pauseForCrashTests()
                CrashPoint.reached("operation", applied.count)
            }
        } catch let error as DriverError where error.code == .fenced {
            // The site belongs to another process now: it rolls back or finishes from the journal, not this one.
            throw error
        } catch {
            let partial = ApplyReceipt(site: site, planID: plan.id, applied: applied, undo: ["backup": backup])
            var message = "applying plan \(plan.shortID) stopped after \(applied.count) of \(plan.operations.count) operation(s): \(error)"
            do {
                try rollback(partial)
                message += "; the \(applied.count) applied operation(s) were rolled back"
            } catch {
                message += "; ROLLBACK FAILED: \(error) — restore from \(root)/\(backup)"
            }
            throw DriverError(.failed, site: site, message)
        }
        // The journal stays until the executor has recorded the outcome (``finishApply(planID:)``).
        return ApplyReceipt(site: site, planID: plan.id, applied: applied, undo: ["backup": backup])
    }

    public func finishApply(planID: String) throws {
        let files = SafeFiles(root: root, site: site)
        guard try files.rootExists() else { return }
        try guarded(files) {
            guard let data = try files.read(Self.inProgressPath)?.content,
                  let marker = try? Value.parseJSON(data).objectValue, marker["plan"]?.stringValue == planID else { return }
            try files.remove(Self.inProgressPath)
        }
    }

    /// Test hook: `INTERLOCK_TEST_PAUSE_AFTER_OPERATION_MS` makes every operation take that long, so a test
    /// can kill the process in the middle of a multi-file apply.
    private static func pauseForCrashTests() {
        guard let text = ProcessInfo.processInfo.environment["INTERLOCK_TEST_PAUSE_AFTER_OPERATION_MS"], let ms = UInt32(text) else { return }
        usleep(ms * 1000)
    }

    /// Present while an apply runs: names the plan and its backup, so a crash can be rolled back.
    static let inProgressPath = ".interlock/apply-in-progress.json"

    public func rollBackInterruptedApply(planID: String) throws -> Bool {
        let files = SafeFiles(root: root, site: site)
        guard try files.rootExists(), let data = try files.read(Self.inProgressPath)?.content,
              let marker = try? Value.parseJSON(data).objectValue, marker["plan"]?.stringValue == planID else { return false }
        return try recoverInterruptedApply() != nil
    }

    public func recoverInterruptedApply() throws -> String? {
        let files = SafeFiles(root: root, site: site)
        guard try files.rootExists() else { return nil }
        return try guarded(files) { try recoverInterruptedApply(files) }
    }

    private func recoverInterruptedApply(_ files: SafeFiles) throws -> String? {
        guard let data = try files.read(Self.inProgressPath)?.content else { return nil }
        guard let marker = try? Value.parseJSON(data).objectValue, let plan = marker["plan"]?.stringValue,
              let backup = marker["backup"]?.stringValue
        else {
            throw DriverError(.failed, site: site, "\(root)/\(Self.inProgressPath) is unreadable", hint: "inspect .interlock/backups and restore by hand")
        }
        let steps = (try? files.read(backup + "/undo.json")?.content).flatMap { try? Value.parseJSON($0).arrayValue } ?? []
        if !steps.isEmpty {
            try rollback(ApplyReceipt(site: site, planID: plan, applied: [], undo: ["backup": backup]), files)
        }
        // A write interrupted between creating its temporary file and the rename leaves that file behind.
        for file in steps.compactMap({ $0.objectValue?["file"]?.stringValue }) + [FilesManifest.relativePath] {
            try files.removeTemporarySiblings(of: file)
        }
        try files.remove(Self.inProgressPath)
        return "rolled back \(steps.count) operation(s) of plan \(plan.replacingOccurrences(of: "sha256:", with: "").prefix(12)) from \(backup)"
    }

    // MARK: Rollback

    public func rollback(_ receipt: ApplyReceipt) throws {
        let files = SafeFiles(root: root, site: site)
        try guarded(files) { try rollback(receipt, files) }
    }

    private func rollback(_ receipt: ApplyReceipt, _ files: SafeFiles) throws {
        guard let backup = receipt.undo["backup"] else {
            throw DriverError(.failed, site: site, "the receipt of plan \(receipt.planID) has no backup to roll back from")
        }
        guard let data = try files.read(backup + "/undo.json")?.content, let steps = try Value.parseJSON(data).arrayValue else {
            throw DriverError(.failed, site: site, "the backup \(backup) has no undo.json", hint: "restore the files by hand from \(root)/\(backup)")
        }
        var manifest = try readManifest(files)
        for step in steps.reversed() {
            guard let object = step.objectValue, let resource = object["resource"]?.stringValue, let file = object["file"]?.stringValue else { continue }
            if object["existed"] == .bool(true) {
                guard let saved = try files.read(backup + "/files/" + file) else {
                    throw DriverError(.failed, site: site, "the backup of \(file) is missing from \(backup)")
                }
                let mode: UInt32 = if case .int(let m)? = object["mode"] { UInt32(m) } else { saved.mode }
                try files.write(file, saved.content, mode: mode)
            } else {
                try files.remove(file)
            }
            if let entryData = object["entry"], entryData != .null,
               let previous = try? FilesManifest(parsing: Data(entryData.canonicalJSONBytes), site: site).entries[resource] {
                manifest.entries[resource] = previous
            } else {
                manifest.entries[resource] = nil
            }
            try files.write(FilesManifest.relativePath, Data(manifest.value.prettyJSONBytes), mode: 0o644)
            CrashPoint.reached("rollback")
        }
    }

    private static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        return formatter.string(from: Date())
    }
}
