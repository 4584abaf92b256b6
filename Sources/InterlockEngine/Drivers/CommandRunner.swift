import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs one program to completion: feeds it `input` on stdin, collects stdout and the tail of stderr
/// concurrently (a chatty program never blocks on a full pipe), and stops it when the time is up.
///
/// On expiry the whole process group gets SIGTERM, then SIGKILL after `killGrace`. Foundation's `Process`
/// on Linux starts every child in its own process group, so a driver's own children (a `mosquitto_sub` a
/// Python script started) are stopped with it instead of holding the pipes open.
struct CommandRunner: Sendable {
    /// Absolute path of the program.
    var executable: String
    /// `argv[1...]`.
    var arguments: [String]
    var environment: [String: String]
    var workingDirectory: String?
    var timeout: TimeInterval
    var killGrace: TimeInterval = 5
    /// Stdout beyond this is dropped and reported (`stdoutTruncated`).
    var stdoutLimit = 256 << 20
    /// Only the last bytes of stderr are kept.
    var stderrLimit = 64 << 10

    struct Outcome: Sendable {
        enum Termination: Sendable, Equatable {
            case exited(Int32)
            case signalled(Int32)
        }
        var termination: Termination
        var stdout: Data
        var stdoutTruncated: Bool
        /// The last `stderrLimit` bytes of stderr.
        var stderr: Data
        /// Set when the program outlived its timeout; it was then stopped.
        var timedOut: TimedOut?
    }

    enum TimedOut: Sendable, Equatable {
        /// Stopped by SIGTERM.
        case terminated
        /// Ignored SIGTERM for `killGrace` and was killed.
        case killed
    }

    /// The program could not be started at all (`posix_spawn` refused it).
    struct LaunchError: Error, Sendable {
        var reason: String
    }

    func run(input: Data) throws(LaunchError) -> Outcome {
        let (process, stdinPipe, stdoutPipe, stderrPipe, exited) = try launch()
        let pid = process.processIdentifier

        let stdout = OutputCollector(limit: stdoutLimit, keep: .head)
        let stderr = OutputCollector(limit: stderrLimit, keep: .tail)
        let streams = DispatchGroup()
        CommandRunner.drain(stdoutPipe.fileHandleForReading, into: stdout, group: streams)
        CommandRunner.drain(stderrPipe.fileHandleForReading, into: stderr, group: streams)
        CommandRunner.feed(input, to: stdinPipe.fileHandleForWriting, group: streams)

        var timedOut: TimedOut?
        var ended = CommandRunner.waitForExit(pid: pid, exited: exited, until: .now() + timeout)
        if ended == nil {
            CommandRunner.send(SIGTERM, pid: pid)
            timedOut = .terminated
            ended = CommandRunner.waitForExit(pid: pid, exited: exited, until: .now() + killGrace)
            if ended == nil {
                CommandRunner.send(SIGKILL, pid: pid)
                timedOut = .killed
                ended = CommandRunner.waitForExit(pid: pid, exited: exited, until: .distantFuture)
            }
        }
        // The program has exited; its pipes close unless something it left behind still holds them.
        // Whatever still holds them after that is killed; if even that does not close them (something left
        // the process group), the reader threads are abandoned and what was read so far is used.
        if streams.wait(timeout: .now() + 2) == .timedOut {
            CommandRunner.send(SIGKILL, pid: pid)
            _ = streams.wait(timeout: .now() + 2)
        }

        let termination: Outcome.Termination
        if case .observed(let seen)? = ended {
            termination = seen
        } else {
            exited.wait()
            termination = process.terminationReason == .uncaughtSignal ? .signalled(process.terminationStatus) : .exited(process.terminationStatus)
        }
        let (out, truncated) = stdout.contents
        return Outcome(termination: termination, stdout: out, stdoutTruncated: truncated, stderr: stderr.contents.data, timedOut: timedOut)
    }

    /// How the program's exit was seen: by `waitid` (with its status), or by `Process` having reaped it.
    enum ExitSeen {
        case observed(Outcome.Termination)
        case reaped
    }

    /// Waits until the program has exited or `deadline` passes (nil then). The exit is seen with `waitid(WNOWAIT)`,
    /// which leaves the process to `Process` to reap: `Process` itself may report the exit only once its output
    /// pipes close, which a child the program left behind can put off for as long as it lives.
    static func waitForExit(pid: Int32, exited: DispatchSemaphore, until deadline: DispatchTime) -> ExitSeen? {
        while true {
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid == pid {
                let status = info._sifields._sigchld.si_status
                return .observed(info.si_code == Int32(CLD_EXITED) ? .exited(status) : .signalled(status))
            }
            if exited.wait(timeout: .now() + .milliseconds(10)) == .success {
                exited.signal()  // stays signalled for any later wait
                return .reaped
            }
            if DispatchTime.now() >= deadline { return nil }
        }
    }

    private typealias Launched = (Process, Pipe, Pipe, Pipe, DispatchSemaphore)

    /// Starts the program. A script that another thread of this process has just written can be briefly
    /// "text file busy" (a child spawned concurrently inherited the writer's descriptor): that is retried.
    private func launch() throws(LaunchError) -> Launched {
        var attempt = 0
        while true {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = environment
            if let workingDirectory {
                process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory, isDirectory: true)
            }
            let stdinPipe = Pipe(), stdoutPipe = Pipe(), stderrPipe = Pipe()
            process.standardInput = stdinPipe
            process.standardOutput = stdoutPipe
            process.standardError = stderrPipe
            let exited = DispatchSemaphore(value: 0)
            process.terminationHandler = { _ in exited.signal() }
            do {
                try CommandRunner.start(process)
                return (process, stdinPipe, stdoutPipe, stderrPipe, exited)
            } catch {
                for handle in [stdinPipe.fileHandleForWriting, stdoutPipe.fileHandleForReading, stderrPipe.fileHandleForReading] {
                    try? handle.close()
                }
                let cause = CommandRunner.posixCause(of: error)
                attempt += 1
                if cause?.code == Int(ETXTBSY), attempt < 10 {
                    usleep(UInt32(20_000 * attempt))
                    continue
                }
                throw LaunchError(reason: cause?.localizedDescription ?? (error as NSError).localizedDescription)
            }
        }
    }

    /// Starts the process from a fresh thread with no blocked signals. A child inherits its parent thread's
    /// signal mask through `posix_spawn`, and `Process` does not reset it: started from a Dispatch or Swift
    /// concurrency worker thread (which block nearly every signal) the program would run with SIGTERM
    /// blocked and could not be stopped on timeout.
    static func start(_ process: Process) throws {
        let started = DispatchSemaphore(value: 0)
        let failure = LaunchFailure()
        Thread.detachNewThread {
            var nothing = sigset_t()
            sigemptyset(&nothing)
            pthread_sigmask(SIG_SETMASK, &nothing, nil)
            do {
                try process.run()
            } catch {
                failure.error = error
            }
            started.signal()
        }
        started.wait()
        if let error = failure.error { throw error }
    }

    /// Foundation wraps spawn failures in a Cocoa error; the POSIX error underneath says what happened.
    private static func posixCause(of error: any Error) -> NSError? {
        var current: NSError? = error as NSError
        while let error = current {
            if error.domain == NSPOSIXErrorDomain { return error }
            current = error.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        return nil
    }

    /// Signals the program's process group (falling back to the program alone where it has none of its own).
    private static func send(_ signal: Int32, pid: Int32) {
        if kill(-pid, signal) != 0 { _ = kill(pid, signal) }
    }

    private static func drain(_ handle: FileHandle, into collector: OutputCollector, group: DispatchGroup) {
        group.enter()
        Thread.detachNewThread {
            let fd = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    collector.append(buffer[0..<count])
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            try? handle.close()
            group.leave()
        }
    }

    /// Writes the request on its own thread with SIGPIPE blocked there: a program that exits without reading
    /// makes `write` fail with EPIPE instead of killing us, and the host's SIGPIPE disposition (which
    /// children inherit) stays as it was.
    private static func feed(_ input: Data, to handle: FileHandle, group: DispatchGroup) {
        group.enter()
        Thread.detachNewThread {
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            defer {
                // Consume the SIGPIPE an EPIPE left pending on this thread.
                var pending = sigset_t()
                sigpending(&pending)
                if sigismember(&pending, SIGPIPE) == 1 {
                    var zero = timespec(tv_sec: 0, tv_nsec: 0)
                    _ = sigtimedwait(&pipeSignal, nil, &zero)
                }
            }
            let fd = handle.fileDescriptor
            input.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        break  // EPIPE: the program closed stdin or exited; its exit status tells the rest.
                    }
                }
            }
            try? handle.close()
            group.leave()
        }
    }
}

/// The error `Process.run()` threw on the spawning thread.
private final class LaunchFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?

    var error: (any Error)? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); defer { lock.unlock() }; stored = newValue }
    }
}
