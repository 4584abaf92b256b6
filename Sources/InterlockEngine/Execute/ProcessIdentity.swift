import Foundation

/// Who is applying a change, precisely enough to tell later whether they are still alive: host, process id, the
/// kernel's boot id and the process's start time (`host:pid:boot:start`). A reboot (another boot id) or a process id
/// reused by another program (another start time) is recognised, and a renamed host with the same boot id too.
public enum ProcessIdentity {
    public static var current: String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(bootID ?? "-"):\(startTime(of: getpid()).map(String.init) ?? "-")"
    }

    /// The kernel's boot id (Linux), nil elsewhere.
    static let bootID: String? = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines)

    /// The start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`), nil when it is gone.
    static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, so start time (22) is index 19.
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// Whether the process `owner` names is certainly gone.
    public static func isDead(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, let pid = Int32(parts[1]) else { return false }
        if parts.count >= 4, let boot = bootID, parts[2] != "-" {
            if parts[2] != boot { return true }  // the machine rebooted since: every process of that boot is gone
            if pid == getpid(), parts[3] == startTime(of: pid).map(String.init) { return false }
            guard let started = startTime(of: pid) else { return true }
            return parts[3] != "-" && String(started) != parts[3]  // the id now belongs to another process
        }
        // An owner recorded by an older version: host name and process id.
        guard parts[0] == ProcessInfo.processInfo.hostName else { return false }
        if pid == getpid() { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}
