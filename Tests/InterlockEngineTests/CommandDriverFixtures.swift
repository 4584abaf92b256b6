import Foundation
import InterlockModel
import Testing
@testable import InterlockEngine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A temporary directory removed when the value is dropped, with helpers to write driver scripts into it.
final class ScratchDirectory {
    let url: URL
    var path: String { url.path }

    init(_ label: String = "interlock-command-driver") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes an executable script and returns its absolute path.
    @discardableResult
    func script(_ name: String, _ body: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(body.utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        return file.path
    }
}

enum DriverFixtures {
    /// The repository's `Examples/` directory, found from this file's location.
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Examples")

    static func driver(_ arguments: [String], timeout: Int? = nil, environment: [String: String] = [:], in directory: String? = nil, site: String = "plant-a") -> CommandDriver {
        CommandDriver(site: site, command: CommandSpec(arguments: arguments, timeout: timeout.map(TimeSpan.init(seconds:)), environment: environment), workingDirectory: directory)
    }

    static func json(_ text: String) throws -> Value { try Value.parseJSON(Data(text.utf8)) }

    static func file(_ name: String, _ text: String, mode: UInt32? = nil) -> Resource {
        Resource(kind: .file, name: name, content: Data(text.utf8), mode: mode, sources: [])
    }

    static func flow(_ name: String, _ json: String) -> Resource {
        Resource(kind: .flow, name: name, content: Data(json.utf8), sources: [])
    }

    static func create(_ resource: Resource) -> InterlockEngine.Operation {
        Operation(action: .create, kind: resource.kind, path: resource.path, policyPath: resource.policyPath,
                  beforeHash: nil, afterHash: resource.contentHash, afterMode: resource.mode, content: resource.content)
    }

    static func update(_ resource: Resource, from before: Resource) -> InterlockEngine.Operation {
        Operation(action: .update, kind: resource.kind, path: resource.path, policyPath: resource.policyPath,
                  beforeHash: before.contentHash, afterHash: resource.contentHash, afterMode: resource.mode, content: resource.content)
    }

    static func delete(_ resource: Resource) -> InterlockEngine.Operation {
        Operation(action: .delete, kind: resource.kind, path: resource.path, policyPath: resource.policyPath,
                  beforeHash: resource.contentHash, afterHash: nil, content: nil)
    }

    static func plan(_ operations: [InterlockEngine.Operation], site: String = "plant-a", commit: String = "c0ffee") -> Plan {
        Plan(site: site, commit: commit, liveFingerprint: LiveState.empty.fingerprint, desiredFingerprint: "sha256:test", operations: operations, drift: [])
    }

    /// Runs `body` and returns the `DriverError` it throws, recording an issue when it throws nothing else.
    static func driverError(_ body: () throws -> Void, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> DriverError? {
        do {
            try body()
            Issue.record("expected a DriverError, nothing was thrown", sourceLocation: sourceLocation)
        } catch let error as DriverError {
            return error
        } catch {
            Issue.record("expected a DriverError, got \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    /// Finds a program in PATH or the sbin directories (where Debian puts `mosquitto`).
    static func which(_ program: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/usr/local/sbin:/sbin"
        return path.split(separator: ":").map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// A real Mosquitto broker on a free loopback port, for the example driver's end-to-end test.
final class MosquittoBroker {
    let port: Int
    private let process = Process()
    private let directory: ScratchDirectory

    /// Starts the broker; fails with a message saying what to install when Mosquitto is missing.
    init() throws {
        guard let mosquitto = DriverFixtures.which("mosquitto"),
              DriverFixtures.which("mosquitto_sub") != nil, DriverFixtures.which("mosquitto_pub") != nil
        else {
            throw MissingTool("the MQTT end-to-end test needs the Mosquitto broker and clients: apt-get install mosquitto mosquitto-clients (CI installs them)")
        }
        directory = try ScratchDirectory("interlock-mosquitto")
        port = try MosquittoBroker.freePort()
        let config = directory.url.appendingPathComponent("mosquitto.conf")
        try Data("listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\n".utf8).write(to: config)
        process.executableURL = URL(fileURLWithPath: mosquitto)
        process.arguments = ["-c", config.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        // Started with a clean signal mask (as the driver starts its programs), so SIGTERM stops it.
        try CommandRunner.start(process)
        let deadline = Date().addingTimeInterval(10)
        while !MosquittoBroker.accepts(port: port) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw MissingTool("mosquitto did not start listening on 127.0.0.1:\(port)")
            }
            usleep(50_000)
        }
    }

    deinit { stop() }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { usleep(20_000) }
    }

    /// Publishes (or with `nil`, clears) a retained message, as a person at the site would by hand.
    func publishRetained(_ topic: String, _ payload: String?) throws {
        let pub = Process()
        pub.executableURL = URL(fileURLWithPath: DriverFixtures.which("mosquitto_pub")!)
        pub.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-q", "1", "-r", "-t", topic] + (payload.map { ["-m", $0] } ?? ["-n"])
        try CommandRunner.start(pub)
        while pub.isRunning { usleep(20_000) }
        #expect(pub.terminationStatus == 0)
    }

    struct MissingTool: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    #if os(Linux)
    private static let streamSocket = Int32(SOCK_STREAM.rawValue)
    #else
    private static let streamSocket = SOCK_STREAM
    #endif

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, streamSocket, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw MissingTool("could not find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, streamSocket, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
