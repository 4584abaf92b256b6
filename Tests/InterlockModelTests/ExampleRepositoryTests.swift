import Foundation
import InterlockGit
import Testing
@testable import InterlockModel

/// The shipped Examples/ directory, committed into real git repositories and read back through libgit2.
@Suite struct ExampleRepositoryTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Examples").path

    /// A temporary directory with a copy of Examples/ committed as a git repository.
    final class ExampleRepo {
        let root: String
        var path: String { root + "/repo" }
        var state: String { root + "/state" }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("interlock-examples-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: ExampleRepositoryTests.examples, toPath: path)
            try git("init", "-q")
            try commit("Initial desired state")
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func git(_ arguments: String..., in directory: String? = nil) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["git", "-c", "user.name=Flow Manager", "-c", "user.email=flows@example.com",
                                 "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory ?? path)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw SnapshotError(message: "git \(arguments) failed") }
        }

        func commit(_ message: String) throws {
            try git("add", "-A")
            try git("commit", "-q", "-m", message)
        }

        func write(_ relative: String, _ text: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/" + relative))
        }

        func read(_ relative: String) throws -> String {
            try String(contentsOfFile: path + "/" + relative, encoding: .utf8)
        }
    }

    @Test func examplesValidateFromAGitCommit() throws {
        let repo = try ExampleRepo()
        let (snapshot, commit) = try RepositorySource(repo.path).read(revision: "HEAD", stateDirectory: repo.state)
        #expect(commit?.summary == "Initial desired state")
        let result = DesiredState.validate(snapshot)
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics.map(\.description))")
        #expect(result.state.sites.map(\.name) == ["plant-a", "plant-b"])
        #expect(Set(result.state.sites.map(\.timezone)).count == 2, "the two plants are in different time zones")
        #expect(result.sites.allSatisfy { $0.commitID == commit?.id.hex })
    }

    @Test func plantBOverridesDifferFromPlantA() throws {
        let repo = try ExampleRepo()
        let (snapshot, _) = try RepositorySource(repo.path).read(revision: "main", stateDirectory: repo.state)
        let state = DesiredState.load(from: snapshot).state
        let a = try #require(state.compile(siteNamed: "plant-a")).site
        let b = try #require(state.compile(siteNamed: "plant-b")).site
        let bricksA = a.resource(at: "flows/energy-monitoring")?.structured?.objectValue?["bricks"]?.arrayValue?.count ?? 0
        let bricksB = b.resource(at: "flows/energy-monitoring")?.structured?.objectValue?["bricks"]?.arrayValue?.count ?? 0
        #expect(bricksB == bricksA - 1, "Plant B has one line less")
        #expect(a.fingerprint != b.fingerprint)
        #expect(state.overriddenPaths(of: "plant-b").contains("flows/energy-monitoring"))
    }

    @Test func brokenCommitIsReportedAndTheLastGoodCommitStillReads() throws {
        let repo = try ExampleRepo()
        let site = try repo.read("sites/plant-b/site.yaml")
        try repo.write("sites/plant-b/site.yaml", site.replacingOccurrences(of: "timezone: America/New_York", with: "timezone: America/Nowhere"))
        try repo.write("flows/broken.yaml", "name: broken\nbricks: [\n")
        try repo.commit("Break things")
        let source = RepositorySource(repo.path)
        let broken = DesiredState.validate(try source.read(revision: "HEAD", stateDirectory: repo.state).snapshot)
        let files = Set(broken.diagnostics.filter { $0.severity == .error }.map(\.location.file))
        #expect(files == ["sites/plant-b/site.yaml", "flows/broken.yaml"])
        #expect(broken.diagnostics.allSatisfy { $0.location.line != nil })
        let good = DesiredState.validate(try source.read(revision: "HEAD~1", stateDirectory: repo.state).snapshot)
        #expect(good.diagnostics.isEmpty)
    }

    @Test func remoteRepositoryIsMirroredIntoTheStateDirectoryAndFetchedAgain() throws {
        let repo = try ExampleRepo()
        let source = RepositorySource("file://" + repo.path)
        #expect(source == .remote(url: "file://" + repo.path))
        let first = try source.read(revision: "main", stateDirectory: repo.state)
        #expect(FileManager.default.fileExists(atPath: RepositorySource.mirrorDirectory(for: "file://" + repo.path, stateDirectory: repo.state)))

        let site = try repo.read("sites/plant-a/site.yaml")
        try repo.write("sites/plant-a/site.yaml", site.replacingOccurrences(of: "displayName: Plant A", with: "displayName: Plant A (Stuttgart)"))
        try repo.commit("Rename Plant A")
        let second = try source.read(revision: "main", stateDirectory: repo.state)
        #expect(second.commit?.summary == "Rename Plant A")
        #expect(second.commit?.parents == [first.commit!.id])
        #expect(DesiredState.load(from: second.snapshot).state.site(named: "plant-a")?.displayName == "Plant A (Stuttgart)")
    }

    @Test func workTreeModeReadsUncommittedFiles() throws {
        let repo = try ExampleRepo()
        try repo.write("flows/extra.yaml", "name: extra\nbricks:\n  - { id: a, type: t, version: '1', colour: red }\n")
        let committed = DesiredState.validate(try RepositorySource(repo.path).read(revision: "HEAD", stateDirectory: repo.state).snapshot)
        #expect(committed.diagnostics.isEmpty, "uncommitted files are not part of HEAD")
        let onDisk = DesiredState.validate(try RepositorySource(repo.path, workTree: true).read(revision: "HEAD", stateDirectory: repo.state).snapshot)
        #expect(onDisk.diagnostics.contains { $0.code == "unknown-field" && $0.location.file == "flows/extra.yaml" && $0.location.line == 3 })
    }

    @Test func missingRevisionAndMissingRepositoryFailClearly() throws {
        let repo = try ExampleRepo()
        #expect {
            _ = try RepositorySource(repo.path).read(revision: "release-9", stateDirectory: repo.state)
        } throws: { error in
            "\(error)".contains("release-9")
        }
        #expect {
            _ = try RepositorySource(repo.root + "/nothing-here").read(revision: "HEAD", stateDirectory: repo.state)
        } throws: { error in
            "\(error)".contains("nothing-here")
        }
    }
}
