import Foundation
import InterlockEngine

/// What a plant agent sends to report a site of `files` files (issue: a 1,000-file site, target < 2 KB when nothing
/// changed): the JSON body of the full report (every path with its hash; content only where it differs from the
/// desired content), of the fingerprint-only report the agent sends while nothing changed, and of a full report with
/// `changed` files edited at the plant (their content included). The files are real, observed by the files driver.
enum AgentReportBench {
    static func run(work: String, files: Int, changed: Int) throws {
        let root = work + "/site"
        try? FileManager.default.removeItem(atPath: root)
        var generator = SystemRandomNumberGenerator()
        var paths: [String] = []
        for index in 0..<files {
            let path = "files/cells/line-\(index % 8)/cell-\(String(format: "%04d", index)).json"
            let file = root + "/" + FilesDriver.file(forResource: path)
            let directory = (file as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let body = (0..<24).map { "  \"tag\($0)\": \"ns=3;s=Line\(index % 8).Cell\(index).Tag\($0)-\(generator.next() % 1000)\"" }.joined(separator: ",\n")
            try Data("{\n\(body)\n}\n".utf8).write(to: URL(fileURLWithPath: file))
            paths.append(path)
        }
        let driver = FilesDriver(site: "plant-bench", root: root)
        let started = Date()
        let live = try driver.observe(desiredPaths: paths)
        let observeSeconds = Date().timeIntervalSince(started)
        let desired = Dictionary(uniqueKeysWithValues: live.resources.map { ($0.key, $0.value.contentHash) })
        let version = "sha256:" + String(repeating: "ab", count: 32)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let full = try encoder.encode(LiveReport(live: live, desiredVersion: version, desiredHashes: desired))
        let short = try encoder.encode(LiveReport(desiredVersion: version, fingerprint: live.fingerprint, resources: nil, drift: nil))
        for path in paths.prefix(changed) {
            try Data("{\"edited\": \"at the plant\"}\n".utf8).write(to: URL(fileURLWithPath: root + "/" + FilesDriver.file(forResource: path)))
        }
        let drifted = try encoder.encode(LiveReport(live: try driver.observe(desiredPaths: paths), desiredVersion: version, desiredHashes: desired))
        let bytes = paths.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: root + "/" + FilesDriver.file(forResource: $1))[.size] as? Int) ?? 0) }
        print("agent report of a \(files)-file site (\(bytes / 1024) KiB of files; observed in \(String(format: "%.0f", observeSeconds * 1000)) ms):")
        print("  nothing changed since the last accepted report (fingerprint only): \(short.count) bytes")
        print("  full report, nothing differs from desired (hashes only):           \(full.count) bytes")
        print("  full report, \(changed) file(s) edited at the plant (their content):  \(drifted.count) bytes")
        print("BENCH agent-report-short-bytes=\(short.count) agent-report-full-bytes=\(full.count) agent-report-drift-bytes=\(drifted.count)")
    }
}
