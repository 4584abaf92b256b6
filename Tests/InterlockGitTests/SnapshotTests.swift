import Foundation
import InterlockGit
import Testing

@Suite("Reading snapshots")
struct SnapshotTests {
    private func makeTree(_ fixture: GitFixture) throws -> ObjectID {
        try fixture.makeRepository()
        try fixture.write("README.md", "# Plant\n")
        try fixture.write("bin/run.sh", "#!/bin/sh\necho run\n", executable: true)
        try fixture.write("config/app/values.yaml", "replicas: 2\n")
        try fixture.write("config/empty.yaml", "")
        try fixture.write("data/blob.bin", Data([0x00, 0xFF, 0x10, 0x00, 0x7F]))
        try FileManager.default.createSymbolicLink(atPath: fixture.path("repo/link"), withDestinationPath: "README.md")
        return try fixture.commitAll("Tree")
    }

    @Test func snapshotHoldsBytesModesBlobIDsAndTreeIDs() throws {
        let fixture = try GitFixture()
        let head = try makeTree(fixture)
        let repository = try Repository.open(at: fixture.path("repo"))
        let commit = try repository.commit(head)
        let snapshot = try repository.snapshot(of: head)

        #expect(snapshot.commitID == head)
        #expect(Set(snapshot.files.keys)
            == ["README.md", "bin/run.sh", "config/app/values.yaml", "config/empty.yaml", "data/blob.bin", "link"])
        #expect(snapshot.content(at: "README.md") == Data("# Plant\n".utf8))
        #expect(snapshot.content(at: "config/empty.yaml") == Data())
        #expect(snapshot.content(at: "data/blob.bin") == Data([0x00, 0xFF, 0x10, 0x00, 0x7F]))
        #expect(snapshot.files["README.md"]?.mode == 0o100644)
        #expect(snapshot.files["bin/run.sh"]?.mode == 0o100755)
        let link = try #require(snapshot.files["link"])
        #expect(link.mode == 0o120000)
        #expect(link.isSymbolicLink)
        #expect(link.content == Data("README.md".utf8))
        for (path, file) in snapshot.files {
            #expect(file.blobID == (try fixture.revParse("HEAD:\(path)")), "blob id of \(path)")
            #expect(file.rawPath == Array(path.utf8))
            #expect(file.pathIsValidUTF8)
        }

        #expect(Set(snapshot.trees.keys) == ["", "bin", "config", "config/app", "data"])
        #expect(snapshot.trees[""] == commit.treeID)
        for directory in ["bin", "config", "config/app", "data"] {
            #expect(snapshot.trees[directory] == (try fixture.revParse("HEAD:\(directory)")), "tree id of \(directory)")
        }
        #expect(snapshot.paths(under: "config") == ["config/app/values.yaml", "config/empty.yaml"])

        let fromTree = try repository.snapshot(of: commit.treeID)
        #expect(fromTree.commitID == nil)
        #expect(fromTree.files == snapshot.files)
    }

    @Test func packedRepositoryReadsTheSameSnapshot() throws {
        let fixture = try GitFixture()
        _ = try makeTree(fixture)
        for round in 1...3 {
            try fixture.write("config/app/values.yaml", "replicas: \(round)\n" + String(repeating: "x: y\n", count: 50))
            try fixture.write("deploy/round-\(round).yaml", "round: \(round)\n")
            try fixture.commitAll("Round \(round)")
        }
        let head = try fixture.revParse("HEAD")
        let loose = try Repository.open(at: fixture.path("repo")).snapshot(of: head)

        try fixture.git(["gc", "-q", "--aggressive", "--prune=now"])
        let counts = try fixture.git(["count-objects", "-v"])
        #expect(counts.contains("count: 0\n"))  // no loose objects left: everything is in a pack
        #expect(counts.contains("packs: 1"))

        let packed = try Repository.open(at: fixture.path("repo")).snapshot(of: head)
        #expect(packed.files == loose.files)
        #expect(packed.trees == loose.trees)
        #expect(packed.totalBytes == loose.totalBytes)
        #expect(packed.files.count == 9)
    }

    @Test func nonUTF8PathsAndMessageAreReadWithoutLoss() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository()
        let blob = try fixture.git(["hash-object", "-w", "--stdin"], input: Data("value: 1\n".utf8))
        let subtree = try fixture.git(["mktree"], input: Data("100644 blob \(blob)\tf.txt\n".utf8))
        var listing = Data("100644 blob \(blob)\tna".utf8) + Data([0xFF]) + Data("me.yaml\n".utf8)
        listing += Data("100644 blob \(blob)\tok.yaml\n".utf8)
        listing += Data("040000 tree \(subtree)\tdir".utf8) + Data([0xFE]) + Data("\n".utf8)
        let tree = try fixture.git(["mktree"], input: listing)

        let messageBytes: [UInt8] = Array("Bad ".utf8) + [0xFF, 0xFE] + Array(" message\n\nbody\n".utf8)
        // Written by hand: `git commit-tree -F` would re-encode invalid UTF-8 as if it were Latin-1.
        let header = "tree \(tree)\nauthor Jane Doe <jane@example.com> 1700000000 +0000\n"
            + "committer Jane Doe <jane@example.com> 1700000000 +0000\n\n"
        let commitHex = try fixture.git(["hash-object", "-t", "commit", "-w", "--stdin"],
                                        input: Data(header.utf8) + Data(messageBytes))
        try fixture.git(["update-ref", "refs/heads/main", commitHex])
        let commitID = try #require(ObjectID(hex: commitHex))

        let repository = try Repository.open(at: path)
        let commit = try repository.resolve("main")
        #expect(commit.id == commitID)
        #expect(commit.rawMessage == messageBytes)
        #expect(commit.message == "Bad \u{FFFD}\u{FFFD} message\n\nbody\n")
        #expect(commit.summary == "Bad \u{FFFD}\u{FFFD} message")

        let snapshot = try repository.snapshot(of: commitID)
        #expect(snapshot.files.count == 3)
        let oddName: [UInt8] = Array("na".utf8) + [0xFF] + Array("me.yaml".utf8)
        let odd = try #require(snapshot.files.values.first { $0.rawPath == oddName })
        #expect(!odd.pathIsValidUTF8)
        #expect(odd.path == "na\u{FFFD}me.yaml")
        #expect(odd.content == Data("value: 1\n".utf8))
        let nestedName: [UInt8] = Array("dir".utf8) + [0xFE] + Array("/f.txt".utf8)
        let nested = try #require(snapshot.files.values.first { $0.rawPath == nestedName })
        #expect(!nested.pathIsValidUTF8)
        #expect(snapshot.trees["dir\u{FFFD}"] == ObjectID(hex: subtree))
        #expect(snapshot.files["ok.yaml"]?.pathIsValidUTF8 == true)

        let changes = try repository.changedPaths(from: nil, to: commitID)
        #expect(Set(changes.map(\.rawPath)) == [oddName, nestedName, Array("ok.yaml".utf8)])
    }

    /// Reads do not hash objects again (as git does not), so a damaged object must still fail: its zlib stream's
    /// checksum no longer matches. The error names libgit2's function; nothing is returned half-read.
    @Test func damagedLooseObjectIsAnErrorNotWrongContent() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository()
        let text = String(repeating: "setpoint: 72.5\n", count: 40)
        try fixture.write("config/line.yaml", text)
        let head = try fixture.commitAll("Line")
        let blob = try fixture.revParse("HEAD:config/line.yaml")
        let objectPath = fixture.path("repo/.git/objects/\(blob.hex.prefix(2))/\(blob.hex.dropFirst(2))")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: objectPath))
        bytes[bytes.count / 2] ^= 0x5A
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: objectPath)
        try bytes.write(to: URL(fileURLWithPath: objectPath))

        let repository = try Repository.open(at: fixture.path("repo"))
        #expect(throws: GitError.self) { try repository.snapshot(of: head) }
        #expect(throws: GitError.self) { try repository.snapshot(of: head, reusing: Snapshot(files: [:])) }
    }

    /// A tree that lists a directory as a file (mode 100644 naming a tree object) is damage, reported as such.
    @Test func aTreeEntryThatIsNotABlobIsAnError() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository()
        try fixture.write("config/line.yaml", "setpoint: 72.5\n")
        _ = try fixture.commitAll("Line")
        let subtree = try fixture.revParse("HEAD:config")
        var raw = Data("100644 line.yaml\u{0}".utf8)
        let hex = Array(subtree.hex.utf8)
        raw.append(contentsOf: stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! })
        let badTree = try fixture.git(["hash-object", "-w", "-t", "tree", "--literally", "--stdin"], input: raw)
        let commit = try fixture.git(["commit-tree", badTree, "-m", "Damaged"])

        let repository = try Repository.open(at: fixture.path("repo"))
        let id = try repository.resolveID(commit)
        #expect {
            try repository.snapshot(of: id)
        } throws: { error in
            "\(error)".contains("is listed in a tree as a file but is not a blob") && "\(error)".contains("git fsck")
        }
    }
}
