import Foundation

extension Snapshot {
    /// Reads every regular file and symbolic link below `root` (skipping `.git`) into a snapshot, so that
    /// a working tree can be checked before it is committed. No commit or tree ids are set.
    public static func directory(at root: String) throws -> Snapshot {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SnapshotError(message: "'\(root)' is not a directory")
        }
        let base = URL(fileURLWithPath: root).standardizedFileURL
        var files: [String: File] = [:]
        var pending = [""]
        while let relative = pending.popLast() {
            let directory = relative.isEmpty ? base.path : base.path + "/" + relative
            let names: [String]
            do {
                names = try manager.contentsOfDirectory(atPath: directory)
            } catch {
                throw SnapshotError(message: "cannot list '\(directory)': \(error.localizedDescription)")
            }
            for name in names where !(relative.isEmpty && name == ".git") {
                let path = relative.isEmpty ? name : relative + "/" + name
                let full = base.path + "/" + path
                let attributes = try manager.attributesOfItem(atPath: full)
                let type = attributes[.type] as? FileAttributeType
                if type == .typeDirectory {
                    pending.append(path)
                } else if type == .typeSymbolicLink {
                    let destination = try manager.destinationOfSymbolicLink(atPath: full)
                    files[path] = File(rawPath: Array(path.utf8), blobID: nil, mode: 0o120000, content: Data(destination.utf8))
                } else if type == .typeRegular {
                    guard let content = manager.contents(atPath: full) else {
                        throw SnapshotError(message: "cannot read '\(full)'")
                    }
                    let permissions = (attributes[.posixPermissions] as? NSNumber)?.uint32Value ?? 0o644
                    let mode: UInt32 = permissions & 0o111 != 0 ? 0o100755 : 0o100644
                    files[path] = File(rawPath: Array(path.utf8), blobID: nil, mode: mode, content: content)
                }
            }
        }
        return Snapshot(commitID: nil, files: files)
    }
}

/// A directory could not be read into a snapshot.
public struct SnapshotError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
