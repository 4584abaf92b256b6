import Foundation

/// Wall-clock seconds since an arbitrary point (monotonic).
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Times `body` once, in seconds.
@discardableResult
func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return now() - start
}

/// Peak resident set size of this process in KiB (VmHWM), or 0 when /proc is unavailable.
func peakRSSKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
    }
    return 0
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// One measured operation, as a child process reports it (one JSON line on stdout).
struct Measurement: Codable {
    var operation: String
    var dataset: String
    var times: [Double]
    /// Items processed per run (files, resources or records) and what they are.
    var items: Int
    var unit: String
    /// Bytes processed per run.
    var bytes: Int
    var peakRSSKiB: Int
    var note: String = ""
    /// A peer's median for the same work, and its name, when one ran.
    var peer: String? = nil
    var peerTimes: [Double]? = nil

    var medianTime: Double { median(times) }
}

func formatSeconds(_ s: Double) -> String {
    if s.isNaN { return "-" }
    if s < 0.001 { return String(format: "%.0f µs", s * 1e6) }
    if s < 1 { return String(format: "%.1f ms", s * 1e3) }
    return String(format: "%.2f s", s)
}

func formatRate(_ value: Double) -> String {
    if value.isNaN || value.isInfinite { return "-" }
    if value >= 1e6 { return String(format: "%.2fM", value / 1e6) }
    if value >= 1e4 { return String(format: "%.0fk", value / 1e3) }
    if value >= 1e3 { return String(format: "%.1fk", value / 1e3) }
    return String(format: "%.0f", value)
}

/// Prints the table: one row per measurement, peers and ratios beside it.
func printTable(_ rows: [Measurement]) {
    let header = ["operation", "dataset", "runs", "median", "items/s", "MB/s", "peak RSS", "peer", "peer median", "ratio"]
    var lines: [[String]] = [header]
    for row in rows {
        let t = row.medianTime
        let peerMedian = row.peerTimes.map(median)
        lines.append([
            row.operation, row.dataset, "\(row.times.count)", formatSeconds(t),
            row.items > 0 ? "\(formatRate(Double(row.items) / t)) \(row.unit)/s" : "-",
            row.bytes > 0 ? String(format: "%.1f", Double(row.bytes) / t / 1e6) : "-",
            row.peakRSSKiB > 0 ? String(format: "%.0f MB", Double(row.peakRSSKiB) / 1024) : "-",
            row.peer ?? "", peerMedian.map(formatSeconds) ?? "",
            peerMedian.map { t / $0 < 0.01 ? String(format: "1/%.0f", $0 / t) : String(format: "%.2f×", t / $0) } ?? "",
        ])
    }
    var widths = Array(repeating: 0, count: header.count)
    for line in lines { for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for (n, line) in lines.enumerated() {
        print(line.enumerated().map { i, cell in
            i == 0 || i == 1 || i == 7 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[i] - cell.count) + cell
        }.joined(separator: "  "))
        if n == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
    }
    print("ratio = Interlock median / peer median (below 1: Interlock is faster). items are files, resources or records as the operation says.")
    for row in rows where !row.note.isEmpty { print("  \(row.operation) [\(row.dataset)]: \(row.note)") }
}

/// Runs a program, returning its standard output; throws when it exits non-zero.
@discardableResult
func run(_ arguments: [String], input: Data? = nil, stdout: FileHandle? = nil, environment: [String: String]? = nil) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let output = Pipe()
    process.standardOutput = stdout ?? output
    let inputPipe = input.map { _ in Pipe() }
    if let inputPipe { process.standardInput = inputPipe }
    try process.run()
    if let input, let inputPipe {
        inputPipe.fileHandleForWriting.write(input)
        try inputPipe.fileHandleForWriting.close()
    }
    let data = stdout == nil ? output.fileHandleForReading.readDataToEndOfFile() : Data()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchError("\(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
    }
    return data
}

/// Runs a shell command and returns its wall time (output discarded).
func timeShell(_ command: String) throws -> Double {
    try timed { try run(["sh", "-c", command + " > /dev/null"]) }
}

/// Whether a program is on PATH.
func available(_ program: String) -> Bool {
    (try? run(["sh", "-c", "command -v \(program)"])) != nil
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
