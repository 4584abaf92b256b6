import Foundation
import Testing
@testable import InterlockEngine

/// Pins `TextDiff.unified` to what `/usr/bin/diff -u` prints for the same files (headers aside).
struct TextDiffTests {
    private static func lines(_ range: ClosedRange<Int>, _ prefix: String = "line") -> String {
        range.map { "\(prefix) \($0)\n" }.joined()
    }

    static let cases: [(name: String, old: String, new: String)] = [
        ("identical", lines(1...20), lines(1...20)),
        ("insert at start", lines(1...10), "new first\nnew second\n" + lines(1...10)),
        ("insert at end", lines(1...10), lines(1...10) + "appended\n"),
        ("delete all", lines(1...5), ""),
        ("empty old", "", lines(1...4)),
        ("empty both", "", ""),
        ("replace middle", lines(1...20), lines(1...8) + "changed 9\nchanged 10\n" + lines(11...20)),
        ("multiple hunks", lines(1...40), lines(1...2) + "x 3\n" + lines(4...20) + lines(22...36) + "y 37\ny 37b\n" + lines(38...40)),
        ("hunks merged when contexts touch", lines(1...20), lines(1...4) + "a 5\n" + lines(6...11) + "b 12\n" + lines(13...20)),
        ("hunks apart by seven lines", lines(1...20), lines(1...4) + "a 5\n" + lines(6...12) + "b 13\n" + lines(14...20)),
        ("no trailing newline added", "a\nb\nc", "a\nb\nc\n"),
        ("no trailing newline removed", "a\nb\nc\n", "a\nb\nc"),
        ("no trailing newline on both, last line changed", "a\nb\nc", "a\nb\nd"),
        ("no trailing newline, change elsewhere", lines(1...10) + "last", "changed\n" + lines(2...10) + "last"),
        ("single line, no newline, to empty", "only", ""),
        ("carriage returns are part of the line", "a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n"),
        ("unicode", "grüße\nnaïve\n", "grüße\nnaive\n"),
    ]

    @Test(arguments: 0..<cases.count)
    func unifiedDiffMatchesDiffU(index: Int) throws {
        let (name, old, new) = Self.cases[index]
        for context in [3, 1, 0] {
            let expected = try Self.systemDiff(old: old, new: new, context: context)
            let ours = TextDiff.unified(old: old, new: new, oldLabel: "a/file", newLabel: "b/file", context: context)
            #expect(Self.body(ours) == expected, "case \(name), context \(context)\nours:\n\(ours)\ndiff -u:\n\(expected)")
            if !ours.isEmpty { #expect(ours.hasPrefix("--- a/file\n+++ b/file\n@@ ")) }
        }
    }

    @Test func identicalTextsGiveNoDiff() {
        #expect(TextDiff.unified(old: "a\nb\n", new: "a\nb\n", oldLabel: "x", newLabel: "y") == "")
        #expect(TextDiff.lineChanges(old: "a\nb\n", new: "a\nb\n") == (0, 0))
    }

    @Test func lineChangesCountAddedAndRemovedLines() {
        let counts = TextDiff.lineChanges(old: Self.lines(1...10), new: Self.lines(1...3) + "new\n" + Self.lines(6...10) + "tail\n")
        #expect(counts.added == 2)
        #expect(counts.removed == 2)
        #expect(TextDiff.lineChanges(old: "", new: "a\nb\n") == (2, 0))
        #expect(TextDiff.lineChanges(old: "a\nb", new: "a\nb\n") == (1, 1))
    }

    @Test func tenThousandLineFilesWithScatteredEditsMatchDiffU() throws {
        let old = Self.lines(1...10_000)
        var newLines = (1...10_000).map { "line \($0)" }
        for i in stride(from: 137, to: 10_000, by: 211) { newLines[i] = "edited \(i)" }
        newLines.insert(contentsOf: ["inserted a", "inserted b"], at: 5_000)
        newLines.removeSubrange(8_000..<8_040)
        let new = newLines.map { $0 + "\n" }.joined()
        let ours = TextDiff.unified(old: old, new: new, oldLabel: "a", newLabel: "b")
        #expect(Self.body(ours) == (try Self.systemDiff(old: old, new: new, context: 3)))
    }

    @Test func tenThousandLineFilesThatShareNothingCountEveryLine() {
        let old = Self.lines(1...10_000, "old")
        let new = Self.lines(1...10_000, "new")
        let counts = TextDiff.lineChanges(old: old, new: new)
        #expect(counts == (10_000, 10_000))
    }

    @Test func pathologicalTenThousandLineInputsStayCorrect() {
        let old = (1...10_000).map { "l\($0)\n" }.joined()
        let reversed = (1...10_000).reversed().map { "l\($0)\n" }.joined()
        let repetitive = (1...10_000).map { "l\(($0 * 7) % 50)\n" }.joined()
        let oldRepetitive = (1...10_000).map { "l\($0 % 50)\n" }.joined()
        for (before, after) in [(old, reversed), (oldRepetitive, repetitive)] {
            let diff = TextDiff.unified(old: before, new: after, oldLabel: "a", newLabel: "b")
            #expect(Self.apply(diff, to: before) == after)
        }
    }

    @Test func shuffledLinesGiveAMinimalScriptThatRebuildsTheNewText() {
        var generator = SplitMix(seed: 7)
        for _ in 0..<30 {
            let old = (0..<Int.random(in: 0...40, using: &generator)).map { _ in "v\(Int.random(in: 0...6, using: &generator))\n" }.joined()
            let new = (0..<Int.random(in: 0...40, using: &generator)).map { _ in "v\(Int.random(in: 0...6, using: &generator))\n" }.joined()
            let diff = TextDiff.unified(old: old, new: new, oldLabel: "a", newLabel: "b", context: 2)
            #expect(Self.apply(diff, to: old) == new, "diff:\n\(diff)")
            let counts = TextDiff.lineChanges(old: old, new: new)
            let lcs = Self.lcsLength(old.split(separator: "\n"), new.split(separator: "\n"))
            #expect(counts.removed == old.split(separator: "\n").count - lcs)
            #expect(counts.added == new.split(separator: "\n").count - lcs)
        }
    }

    // MARK: Helpers

    /// `diff -U<context>` of two temp files, without its `---`/`+++` header lines.
    static func systemDiff(old: String, new: String, context: Int) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("textdiff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = directory.appendingPathComponent("old"), b = directory.appendingPathComponent("new")
        try Data(old.utf8).write(to: a)
        try Data(new.utf8).write(to: b)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/diff")
        process.arguments = ["-U\(context)", a.path, b.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus <= 1, "diff failed")
        return body(String(decoding: output, as: UTF8.self))
    }

    static func body(_ diff: String) -> String {
        diff.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("--- ") && !$0.hasPrefix("+++ ") }
            .joined(separator: "\n")
    }

    /// Applies a unified diff (as we print it) to `old`.
    static func apply(_ diff: String, to old: String) -> String {
        guard !diff.isEmpty else { return old }
        let oldLines = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast()
        var result: [String] = []
        var cursor = 0
        for line in diff.split(separator: "\n").dropFirst(2) {
            if line.hasPrefix("@@") {
                let oldStart = Int(line.dropFirst(4).prefix { $0.isNumber })!
                let start = max(0, oldStart - 1)
                let oldRange = line.dropFirst(4).prefix { $0 != " " }
                let emptyRange = oldRange.hasSuffix(",0")
                let target = emptyRange ? oldStart : start
                while cursor < target { result.append(oldLines[cursor]); cursor += 1 }
            } else if line.hasPrefix(" ") || line.hasPrefix("-") {
                if line.hasPrefix(" ") { result.append(String(line.dropFirst())) }
                cursor += 1
            } else if line.hasPrefix("+") {
                result.append(String(line.dropFirst()))
            }
        }
        while cursor < oldLines.count { result.append(oldLines[cursor]); cursor += 1 }
        return result.map { $0 + "\n" }.joined()
    }

    static func lcsLength(_ a: [Substring], _ b: [Substring]) -> Int {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 1...a.count {
            for j in 1...b.count {
                table[i][j] = a[i - 1] == b[j - 1] ? table[i - 1][j - 1] + 1 : max(table[i - 1][j], table[i][j - 1])
            }
        }
        return table[a.count][b.count]
    }
}

/// A small seeded generator, so the randomised test is the same on every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
