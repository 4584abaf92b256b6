import Foundation
import InterlockGit

/// A temporary directory holding repositories made with the git CLI, removed when the fixture is released.
///
/// Identity, default branch and signing are passed with `-c` flags and dates through
/// `GIT_AUTHOR_DATE`/`GIT_COMMITTER_DATE`, so object ids do not depend on the machine.
final class GitFixture {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A commit date and zone as git writes it, e.g. `(1_700_000_000, "+0100")`.
    struct When {
        var seconds: Int
        var zone: String = "+0000"
    }

    static let authorName = "Jane Doe"
    static let authorEmail = "jane@example.com"

    let root: URL
    private var clock = 1_700_000_000

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("interlock-git-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// The absolute path of `relative` inside the fixture directory.
    func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    /// Creates a repository with `git init` (main as default branch) and returns its path.
    @discardableResult
    func makeRepository(_ name: String = "repo", bare: Bool = false) throws -> String {
        try git(["init", "-q"] + (bare ? ["--bare"] : []) + [path(name)], in: nil)
        return path(name)
    }

    /// Writes a file below `repository` (creating directories); `executable` sets mode 0755.
    func write(_ relative: String, _ contents: String, in repository: String = "repo", executable: Bool = false) throws {
        try write(relative, Data(contents.utf8), in: repository, executable: executable)
    }

    func write(_ relative: String, _ contents: Data, in repository: String = "repo", executable: Bool = false) throws {
        let url = root.appendingPathComponent(repository).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try contents.write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: executable ? 0o755 : 0o644], ofItemAtPath: url.path)
    }

    /// Stages everything and commits it; returns the new commit's id.
    @discardableResult
    func commitAll(
        _ message: String, in repository: String = "repo", when: When? = nil,
        author: (name: String, email: String)? = nil, committer: (name: String, email: String)? = nil
    ) throws -> ObjectID {
        try git(["add", "-A"], in: repository)
        var environment: [String: String] = [:]
        if let author {
            environment["GIT_AUTHOR_NAME"] = author.name
            environment["GIT_AUTHOR_EMAIL"] = author.email
        }
        if let committer {
            environment["GIT_COMMITTER_NAME"] = committer.name
            environment["GIT_COMMITTER_EMAIL"] = committer.email
        }
        try git(["commit", "-q", "--allow-empty", "-m", message], in: repository, when: when, environment: environment)
        return try revParse("HEAD", in: repository)
    }

    /// `git rev-parse` as an ObjectID.
    func revParse(_ revision: String, in repository: String = "repo") throws -> ObjectID {
        let hex = try git(["rev-parse", revision], in: repository)
        guard let id = ObjectID(hex: hex) else { throw Failure(description: "git rev-parse \(revision) gave '\(hex)'") }
        return id
    }

    /// Runs git with a fixed identity and date in `repository` (nil: the fixture root) and returns its
    /// trimmed standard output. Without `when`, each call moves a private clock forward by a minute.
    @discardableResult
    func git(
        _ arguments: [String], in repository: String? = "repo", when: When? = nil,
        environment extra: [String: String] = [:], input: Data? = nil
    ) throws -> String {
        let output = try gitData(arguments, in: repository, when: when, environment: extra, input: input)
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func gitData(
        _ arguments: [String], in repository: String? = "repo", when: When? = nil,
        environment extra: [String: String] = [:], input: Data? = nil
    ) throws -> Data {
        clock += 60
        let date = when ?? When(seconds: clock)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.currentDirectoryURL = repository.map { root.appendingPathComponent($0) } ?? root
        process.arguments = [
            "-c", "user.name=\(Self.authorName)", "-c", "user.email=\(Self.authorEmail)",
            "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
            "-c", "gc.auto=0",
        ] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        environment["GIT_CONFIG_GLOBAL"] = "/dev/null"
        environment["GIT_AUTHOR_DATE"] = "@\(date.seconds) \(date.zone)"
        environment["GIT_COMMITTER_DATE"] = "@\(date.seconds) \(date.zone)"
        environment.merge(extra) { $1 }
        process.environment = environment

        let stdout = Pipe()
        let stderrURL = root.appendingPathComponent(".git-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stderr = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? stderr.close()
            try? FileManager.default.removeItem(at: stderrURL)
        }
        process.standardOutput = stdout
        process.standardError = stderr
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            throw Failure(description: "git \(arguments.joined(separator: " ")) failed: \(message)")
        }
        return output
    }
}
