import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why the test cluster could not do what was asked.
public struct ClusterError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A real PostgreSQL server for the tests: `Tests/postgres/cluster.sh` starts a throwaway cluster the first time a
/// test asks (stopped when the test process exits), and every test gets a new, empty database of its own.
public final class PostgresCluster: @unchecked Sendable {
    public static let shared = PostgresCluster(name: "shared")

    public let directory: String

    /// A cluster of its own (a test that restarts the server must not disturb the others).
    public init(name: String) {
        directory = "/tmp/interlock-test-pg-\(getpid())-\(name)"
    }

    deinit {
        if self !== PostgresCluster.shared, started != nil { try? script("stop", directory) }
    }
    private let lock = NSLock()
    private var started: Result<String, any Error>?

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("postgres/cluster.sh").path
    }

    /// Runs the cluster script and returns what it printed.
    @discardableResult
    public func script(_ arguments: String...) throws -> String {
        // Output goes to files, as in the command-line tests: the server the script starts must hold no pipe of ours.
        let output = NSTemporaryDirectory() + "cluster-\(UUID().uuidString).out"
        let errors = output + ".err"
        FileManager.default.createFile(atPath: output, contents: nil)
        FileManager.default.createFile(atPath: errors, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: output)
            try? FileManager.default.removeItem(atPath: errors)
        }
        // posix_spawn and waitpid, not Foundation's Process: its wait missed the exit of this script in the test
        // runner (the child stayed a zombie and waitUntilExit never returned).
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_TRUNC, 0o600)
        let argv = (["/bin/bash", PostgresCluster.script] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ)
        guard spawned == 0 else { throw ClusterError(message: "cannot run cluster.sh: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let exitStatus = (status >> 8) & 0xff
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status & 0x7f == 0, exitStatus == 0 else {
            throw ClusterError(message: "cluster.sh \(arguments.joined(separator: " ")) failed (status \(status)): \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        }
        return printed.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts the cluster once per test process.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        if started == nil {
            started = Result { try script("start", directory) }
            if self === PostgresCluster.shared {
                atexit { try? PostgresCluster.shared.script("stop", PostgresCluster.shared.directory) }
            }
        }
        _ = try started!.get()
    }

    /// A new, empty database on the cluster: its URL (postgres://interlock:…@127.0.0.1:PORT/NAME).
    public func freshDatabaseURL() throws -> String {
        try start()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        return try script("createdb", directory, String(name))
    }

    /// Restarts the server at once, as a crash would.
    public func restart() throws { try script("restart", directory) }
}


/// The stores every conformance test runs against.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres
    public var description: String { rawValue }
}
