import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The little of Unix-domain stream sockets the signing helper and its client need: one request line, one answer
/// line per connection, bounded in size and time.
enum UnixSocket {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ text: String) { description = text }
        static func errno(_ what: String) -> Failure { Failure("\(what): \(String(cString: strerror(Glibc.errno)))") }
    }

    #if os(Linux)
    static let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    static let streamType = SOCK_STREAM
    #endif

    /// Fills a `sockaddr_un` for `path`; fails when the path does not fit (108 bytes on Linux).
    static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw Failure("the socket path \(path) is \(bytes.count) bytes long; a Unix socket path must be shorter than \(capacity)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    static func connect(_ path: String, timeout: TimeInterval) throws -> Int32 {
        var address = try address(path)
        let fd = socket(AF_UNIX, streamType, 0)
        guard fd >= 0 else { throw Failure.errno("cannot create a socket") }
        setTimeouts(fd, timeout)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let failure = Failure.errno("cannot connect to the signing helper at \(path)")
            close(fd)
            throw failure
        }
        return fd
    }

    /// A listening socket at `path` with permissions `mode`. A socket file left by an earlier run is replaced; any
    /// other file at that path is an error (never removed).
    static func listen(_ path: String, mode: mode_t) throws -> Int32 {
        var address = try address(path)
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else { throw Failure("\(path) exists and is not a socket; remove it or choose another --socket") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, streamType, 0)
        guard fd >= 0 else { throw Failure.errno("cannot create a socket") }
        // The socket is created with no access for anyone, then opened to `mode`: no moment in which others may connect.
        let previous = umask(0o777)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previous)
        guard bound == 0 else {
            let failure = Failure.errno("cannot bind the socket \(path)")
            close(fd)
            throw failure
        }
        guard chmod(path, mode) == 0, Glibc.listen(fd, 16) == 0 else {
            let failure = Failure.errno("cannot listen on \(path)")
            close(fd)
            throw failure
        }
        return fd
    }

    static func setTimeouts(_ fd: Int32, _ seconds: TimeInterval) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: __suseconds_t((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The user id of the process at the other end (SO_PEERCRED), nil where unavailable.
    static func peerUID(_ fd: Int32) -> uid_t? {
        #if os(Linux)
        var credentials = (pid: Int32(0), uid: UInt32(0), gid: UInt32(0))
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return credentials.uid
        #else
        return nil
        #endif
    }

    static func writeAll(_ fd: Int32, _ data: Data) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0, Glibc.errno == EINTR { continue }
                guard n > 0 else { throw Failure.errno("cannot write to the signing socket") }
                offset += n
            }
        }
    }

    /// Reads up to the first newline; fails past `limit` bytes, at end of input before a newline, or on a timeout.
    static func readLine(_ fd: Int32, limit: Int, within seconds: TimeInterval? = nil) throws -> Data {
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = seconds.map { Date().addingTimeInterval($0) }
        while true {
            if let deadline {
                // The whole line within the deadline, however slowly it trickles in.
                let remaining = deadline.timeIntervalSinceNow
                guard remaining > 0 else { throw Failure("the request did not arrive within \(Int(seconds!)) seconds") }
                setTimeouts(fd, max(remaining, 0.001))
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, Glibc.errno == EINTR { continue }
            if n < 0 {
                if Glibc.errno == EAGAIN || Glibc.errno == EWOULDBLOCK { throw Failure("the signing socket timed out") }
                throw Failure.errno("cannot read from the signing socket")
            }
            guard n > 0 else { throw Failure("the signing socket closed before a whole line was read") }
            if let newline = chunk[0..<n].firstIndex(of: 0x0A) {
                buffer.append(contentsOf: chunk[0..<newline])
                guard buffer.count <= limit else { throw Failure("a line on the signing socket exceeds \(limit) bytes") }
                return buffer
            }
            buffer.append(contentsOf: chunk[0..<n])
            guard buffer.count <= limit else { throw Failure("a line on the signing socket exceeds \(limit) bytes") }
        }
    }
}
