import Foundation
import GRDB
import Testing
@testable import InterlockStore

/// A temporary state directory, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "interlock-store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var databasePath: String { path + "/" + SQLiteStore.fileName }
}

/// A clock that starts at a fixed instant and advances by `step` on every reading.
final class SteppingClock: AuditClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    private let step: TimeInterval

    init(start: Date = Date(timeIntervalSince1970: 1_772_366_400), step: TimeInterval = 1) {  // 2026-03-01T12:00:00Z
        current = start
        self.step = step
    }

    func now() -> Date {
        lock.lock()
        defer { lock.unlock() }
        let value = current
        current += step
        return value
    }

    func set(_ date: Date) {
        lock.lock()
        current = date
        lock.unlock()
    }
}

enum Fixture {
    static let manager = AuditActor(id: "mgr-plant-a", name: "Maria Keller", role: "plant manager", authentication: "local-password")
    static let engineer = AuditActor(id: "jdoe", name: "Jane Doe", role: "flow manager", authentication: "api-token")
    static let source = AuditSource(host: "edge-01", process: "interlock", pid: 4242)

    /// A varied stream of realistic entries: validation failures, plans, drift, approvals.
    static func entry(_ n: Int) -> AuditEntry {
        let site = n % 2 == 0 ? "plant-a" : "plant-b"
        switch n % 4 {
        case 0:
            return AuditEntry(actor: engineer, source: source, category: .configuration, action: "validate.failed",
                              commit: "c0ffee\(n)", result: .failure, error: "3 validation errors", details: ["errors": "3", "file": "sites/\(site)/site.yaml"])
        case 1:
            return AuditEntry(actor: .system, source: source, category: .plan, action: "plan.computed", site: site,
                              changeID: "chg-\(n / 4)", planID: "plan-\(n)", commit: "c0ffee\(n)", details: ["operations": "\(n % 7)"])
        case 2:
            return AuditEntry(actor: .system, source: source, category: .drift, action: "drift.detected", site: site,
                              resource: "components/mqtt-broker", before: "sha256:aaa\(n)", after: "sha256:bbb\(n)")
        default:
            return AuditEntry(actor: manager, source: source, category: .approval, action: "change.approved", site: site,
                              changeID: "chg-\(n / 4)", planID: "plan-\(n - 2)", reason: "approved as plant manager")
        }
    }

    static func entries(_ count: Int, from start: Int = 0) -> [AuditEntry] { (start..<(start + count)).map(entry) }

    /// A raw connection to the database file, as an attacker with file access would have.
    static func attacker(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    static func dropTriggers(_ db: Database) throws {
        for trigger in ["audit_record_no_update", "audit_record_no_delete", "audit_checkpoint_no_update", "audit_checkpoint_no_delete"] {
            try db.execute(sql: "DROP TRIGGER IF EXISTS \(trigger)")
        }
    }

    /// The package root, found from this file's path (Tests/InterlockStoreTests/Fixtures.swift).
    static let packageRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// The `audit-stress` helper built next to the test binary.
    static func stressBinary() throws -> String {
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates: [String] = []
        var directory = argv0.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("audit-stress").path)
            directory = directory.deletingLastPathComponent()
        }
        for configuration in ["debug", "release"] {
            candidates.append(packageRoot + "/.build/\(configuration)/audit-stress")
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HelperMissing(message: "the audit-stress helper was not built (looked in \(candidates.joined(separator: ", "))); run 'swift build' first")
        }
        return found
    }

    struct HelperMissing: Error, CustomStringConvertible { var message: String; var description: String { message } }

    /// Starts a program with standard output and error going to `outputPath` (a file, not a pipe: reading pipes
    /// through Foundation can fail with EINTR while child processes come and go).
    static func spawn(_ executable: String, _ arguments: [String], outputPath: String) throws -> Process {
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try #require(FileHandle(forWritingAtPath: outputPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try output.close()
        return process
    }

    /// Waits until the file at `path` contains `text` (or `timeout` passes).
    static func waitFor(_ text: String, in path: String, timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let content = try? String(contentsOfFile: path, encoding: .utf8), content.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    /// Runs a program to completion; returns exit status and its output (standard output and error).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "interlock-run-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let process = try spawn(executable, arguments, outputPath: outputPath)
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }
}
