import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File access confined to one root directory: every path is relative, no component may be a symbolic
/// link that leads out of the root, and writes are atomic and durable.
struct SafeFiles {
    let root: String
    let site: String
    /// Directories (relative to the root) that reads through this value have already checked.
    private let checkedForReading = CheckedDirectories()

    struct Observed {
        var content: Data
        var mode: UInt32
    }

    /// Whether the root exists (false: nothing deployed yet). A root that is not a directory is an error.
    func rootExists() throws -> Bool {
        var info = stat()
        guard lstat(root, &info) == 0 else {
            if errno == ENOENT { return false }
            throw unreachable("cannot access the target root \(root): \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFLNK {
            var target = stat()
            guard stat(root, &target) == 0, (target.st_mode & S_IFMT) == S_IFDIR else {
                throw unreachable("the target root \(root) is a symbolic link that does not lead to a directory")
            }
            return true
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw unreachable("the target root \(root) is not a directory") }
        return true
    }

    func createRoot() throws {
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw unreachable("cannot create the target root \(root): \(error.localizedDescription)")
        }
    }

    /// Reads a file; nil when it does not exist.
    ///
    /// Observing a site reads hundreds of files in a few directories: each directory on the way is checked once per
    /// `SafeFiles` value (one observation) instead of once per file. Writes check every time.
    func read(_ relative: String) throws -> Observed? {
        let path = try checked(relative, remembering: checkedForReading)
        // O_NOFOLLOW refuses a link in the last component; O_NONBLOCK keeps a FIFO from hanging the open.
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            switch errno {
            case ENOENT, ENOTDIR: return nil
            case ELOOP: throw refused("\(path) is a symbolic link; Interlock does not follow links in a target")
            default: throw unreachable("cannot read \(path): \(String(cString: strerror(errno)))")
            }
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw unreachable("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw refused("\(path) is not a regular file") }
        var content = Data(count: Int(info.st_size) + 1)  // one spare byte: the read that sees the end needs no growth
        var filled = 0
        while true {
            let count = content.count
            if filled == count { content.count += max(4096, count) }  // the file grew since fstat
            let got = content.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw unreachable("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            filled += got
        }
        content.count = filled
        return Observed(content: content, mode: UInt32(info.st_mode & 0o7777))
    }

    /// Writes atomically: temporary file in the same directory, fsync, rename, fsync the directory. The directories on
    /// the way are walked from the root with `openat(O_NOFOLLOW)`, created with `mkdirat`, and the file is created and
    /// renamed relative to its directory's descriptor: a symbolic link swapped into the target during an apply is
    /// refused, never followed out of the root.
    func write(_ relative: String, _ content: Data, mode: UInt32) throws {
        let path = try checked(relative)
        let (directory, name) = try openDirectory(of: relative, creating: true)
        defer { close(directory) }
        var info = stat()
        if fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
            throw refused("\(path) is a symbolic link; Interlock does not write through links in a target")
        }
        let temporary = "." + name + ".interlock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode & 0o7777))
        guard fd >= 0 else { throw failed("cannot create a temporary file next to \(path): \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            if !ok { unlinkat(directory, temporary, 0) }
        }
        let written = content.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        guard written, fchmod(fd, mode_t(mode & 0o7777)) == 0, fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw failed("cannot write \(path): \(reason)")
        }
        close(fd)
        guard renameat(directory, temporary, directory, name) == 0 else { throw failed("cannot rename into \(path): \(String(cString: strerror(errno)))") }
        ok = true
        fsync(directory)
    }

    /// Runs `body` holding the target's fence (`.interlock/fence`, locked with flock): refused with
    /// ``DriverError/Code/fenced`` when the target has seen a higher fencing token than `token`, else `token` is
    /// stored as the highest first. Writes of an applier whose lease was taken over stop at the next step; the
    /// lock keeps one step of the old holder from interleaving with the new holder's.
    static let fenceWait: TimeInterval = 10

    func fenced<T>(token: Int64, _ body: () throws -> T) throws -> T {
        let relative = ".interlock/fence"
        let path = try checked(relative)
        let (directory, name) = try openDirectory(of: relative, creating: true)
        let fd = openat(directory, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        let openError = errno
        close(directory)
        guard fd >= 0 else {
            if openError == ELOOP { throw refused("\(path) is a symbolic link; Interlock does not write through links in a target") }
            throw failed("cannot open the fence \(path): \(String(cString: strerror(openError)))")
        }
        defer { close(fd) }
        // Bounded: a process frozen while it holds the lock (one write) must not stop the new holder for good.
        let deadline = Date().addingTimeInterval(SafeFiles.fenceWait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw failed("cannot lock the fence \(path): \(String(cString: strerror(errno)))") }
            guard Date() < deadline else {
                throw DriverError(.unreachable, site: site, "the fence \(path) stayed locked for \(Int(SafeFiles.fenceWait)) s: another process is in the middle of a write",
                                  hint: "it is tried again on the next pass")
            }
            usleep(20_000)
        }
        defer { flock(fd, LOCK_UN) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count >= 0 else { throw failed("cannot read the fence \(path): \(String(cString: strerror(errno)))") }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let highest: Int64
        if text.isEmpty {
            highest = 0
        } else if let stored = Int64(text) {
            highest = stored
        } else {
            throw failed("the fence \(path) holds '\(text.prefix(20))', not a fencing token; restore it with the highest token of the site's changes or remove it while no apply runs")
        }
        if highest > token {
            throw DriverError(.fenced, site: site, "another process took this site over (fencing token \(highest) at \(path), this process holds \(token)): nothing more is written by this process",
                              hint: "the process now holding the site finishes or rolls back the change")
        }
        if highest < token {
            let bytes = Array("\(token)\n".utf8)
            guard ftruncate(fd, 0) == 0, pwrite(fd, bytes, bytes.count, 0) == bytes.count, fsync(fd) == 0 else {
                throw failed("cannot write the fence \(path): \(String(cString: strerror(errno)))")
            }
        }
        return try body()
    }

    /// Removes a file (missing is fine), relative to its directory opened without following links.
    func remove(_ relative: String) throws {
        let path = try checked(relative)
        let directory: Int32, name: String
        do {
            (directory, name) = try openDirectory(of: relative, creating: false)
        } catch let missing as MissingDirectory {
            _ = missing
            return
        }
        defer { close(directory) }
        guard unlinkat(directory, name, 0) == 0 || errno == ENOENT else { throw failed("cannot delete \(path): \(String(cString: strerror(errno)))") }
        fsync(directory)
    }

    private struct MissingDirectory: Error {}

    /// Opens the directory `relative` lies in, walking from the root one component at a time with `O_NOFOLLOW`
    /// (creating missing ones when `creating`); returns its descriptor and the file's name.
    private func openDirectory(of relative: String, creating: Bool) throws -> (Int32, String) {
        var components = relative.split(separator: "/").map(String.init)
        let name = components.removeLast()
        var current = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard current >= 0 else { throw unreachable("cannot open the target root \(root): \(String(cString: strerror(errno)))") }
        var walked = root
        for component in components {
            walked += "/" + component
            if creating, mkdirat(current, component, 0o755) != 0, errno != EEXIST {
                let reason = String(cString: strerror(errno))
                close(current)
                throw failed("cannot create directory \(walked): \(reason)")
            }
            let next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let error = errno
            close(current)
            guard next >= 0 else {
                if !creating, error == ENOENT { throw MissingDirectory() }
                if error == ELOOP || error == ENOTDIR {
                    throw refused("\(walked) is a symbolic link or not a directory; Interlock does not write through links in a target")
                }
                throw failed("cannot open directory \(walked): \(String(cString: strerror(error)))")
            }
            current = next
        }
        return (current, name)
    }

    /// Removes temporary files that an interrupted `write` of `relative` left next to it.
    func removeTemporarySiblings(of relative: String) throws {
        let path = try checked(relative)
        let directory = (path as NSString).deletingLastPathComponent
        let prefix = "." + (path as NSString).lastPathComponent + ".interlock-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard unlink(directory + "/" + name) == 0 || errno == ENOENT else {
                throw failed("cannot remove the leftover \(directory)/\(name): \(String(cString: strerror(errno)))")
            }
        }
    }

    private func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// The absolute path of `relative`, after checking that no existing directory on the way is a link
    /// leading out of the root. Directories found in `remembered` are not checked again; those checked are added.
    private func checked(_ relative: String, remembering remembered: CheckedDirectories? = nil) throws -> String {
        var directoryEnds: [String.Index] = []
        var componentStart = relative.startIndex
        var plain = !relative.isEmpty
        for index in relative.utf8.indices where relative.utf8[index] == UInt8(ascii: "/") {
            if Self.isSpecial(relative[componentStart..<index]) { plain = false; break }
            directoryEnds.append(index)
            componentStart = relative.utf8.index(after: index)
        }
        guard plain, !Self.isSpecial(relative[componentStart...]) else {
            throw refused("'\(relative)' is not a plain relative path inside the target root")
        }
        for end in directoryEnds {
            let directory = relative[..<end]
            if let remembered, remembered.contains(directory) { continue }
            let current = root + "/" + directory
            var info = stat()
            guard lstat(current, &info) == 0 else { break }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                let realRoot = resolved(root) ?? root
                guard let target = resolved(current), target == realRoot || target.hasPrefix(realRoot + "/") else {
                    throw refused("\(current) is a symbolic link leading out of the target root \(root)")
                }
            }
            remembered?.insert(directory)
        }
        return root + "/" + relative
    }

    /// An empty, `.` or `..` path component.
    private static func isSpecial(_ component: Substring) -> Bool {
        component.isEmpty || component == "." || component == ".."
    }

    private func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    private func unreachable(_ message: String) -> DriverError {
        DriverError(.unreachable, site: site, message, hint: "check that the target root exists and Interlock may read and write it")
    }

    private func refused(_ message: String) -> DriverError { DriverError(.refused, site: site, message) }

    private func failed(_ message: String) -> DriverError { DriverError(.failed, site: site, message) }
}

/// Directories already checked by one `SafeFiles` value's reads (a reference, so copies of the value share it).
private final class CheckedDirectories: @unchecked Sendable {
    private let lock = NSLock()
    private var directories = Set<Substring>()

    func contains(_ directory: Substring) -> Bool { lock.withLock { directories.contains(directory) } }
    func insert(_ directory: Substring) { lock.withLock { _ = directories.insert(directory) } }
}
