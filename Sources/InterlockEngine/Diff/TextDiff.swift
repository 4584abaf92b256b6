import Foundation

/// Line diffs of text files, in the unified format of `diff -u`.
///
/// Lines are compared byte for byte (no Unicode normalisation, `\r` is part of the line). The edit script
/// is a minimal one, found with Myers' O(ND) algorithm in its linear-space form after trimming the common
/// head and tail and setting aside lines that occur on one side only, so large files with few changes and
/// files that share nothing are both fast. Pathological inputs (more than `LineMatcher.costLimit` edits in
/// one region) get a correct but possibly longer script, as with GNU diff.
public enum TextDiff {
    /// A unified diff from `old` to `new`; empty when they are equal. Hunks whose context would overlap or
    /// touch are merged, and a last line without a newline is marked `\ No newline at end of file`.
    public static func unified(old: String, new: String, oldLabel: String, newLabel: String, context: Int = 3) -> String {
        let a = TextLines(old), b = TextLines(new)
        let (aIDs, bIDs) = TextLines.intern(a, b)
        let changes = LineMatcher(aIDs, bIDs).changes()
        let hunks = Hunk.group(changes, oldCount: a.count, newCount: b.count, context: max(0, context))
        guard !hunks.isEmpty else { return "" }
        var out = "--- \(oldLabel)\n+++ \(newLabel)\n"
        for hunk in hunks {
            out += "@@ -\(range(hunk.oldStart, hunk.oldCount)) +\(range(hunk.newStart, hunk.newCount)) @@\n"
            for line in hunk.lines {
                switch line {
                case .context(let i): append(" ", a, i, to: &out)
                case .removed(let i): append("-", a, i, to: &out)
                case .added(let j): append("+", b, j, to: &out)
                }
            }
        }
        return out
    }

    /// How many lines a unified diff from `old` to `new` adds and removes.
    public static func lineChanges(old: String, new: String) -> (added: Int, removed: Int) {
        let a = TextLines(old), b = TextLines(new)
        let (aIDs, bIDs) = TextLines.intern(a, b)
        let changes = LineMatcher(aIDs, bIDs).changes()
        return (changes.newChanged.filter { $0 }.count, changes.oldChanged.filter { $0 }.count)
    }

    /// `start,count` as `diff -u` writes it: 1-based; `count` left out when 1; for an empty range the line before it.
    private static func range(_ start: Int, _ count: Int) -> String {
        switch count {
        case 0: "\(start),0"
        case 1: "\(start + 1)"
        default: "\(start + 1),\(count)"
        }
    }

    private static func append(_ prefix: String, _ lines: TextLines, _ index: Int, to out: inout String) {
        out += prefix
        out += lines.text(index)
        out += "\n"
        if index == lines.count - 1, !lines.endsWithNewline { out += "\\ No newline at end of file\n" }
    }
}

/// A text split into lines at `\n`, each line interned as an integer for fast comparison.
struct TextLines {
    private let lines: [ArraySlice<UInt8>]
    /// False when the text is non-empty and its last line has no `\n`.
    let endsWithNewline: Bool

    init(_ text: String) {
        let bytes = Array(text.utf8)
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        endsWithNewline = bytes.last.map { $0 == UInt8(ascii: "\n") } ?? true
        if lines.last?.isEmpty == true { lines.removeLast() }
        self.lines = lines
    }

    var count: Int { lines.count }

    func text(_ index: Int) -> String { String(decoding: lines[index], as: UTF8.self) }

    /// One integer per line of each text, equal integers for equal lines across both. A last line without a
    /// newline differs from the same text with one, as in `diff`.
    static func intern(_ a: TextLines, _ b: TextLines) -> ([Int], [Int]) {
        var table: [Key: Int] = [:]
        func id(_ lines: TextLines, _ index: Int) -> Int {
            let key = Key(bytes: lines.lines[index], unterminated: index == lines.count - 1 && !lines.endsWithNewline)
            if let id = table[key] { return id }
            table[key] = table.count
            return table.count - 1
        }
        let aIDs = (0..<a.count).map { id(a, $0) }
        let bIDs = (0..<b.count).map { id(b, $0) }
        return (aIDs, bIDs)
    }

    private struct Key: Hashable {
        var bytes: ArraySlice<UInt8>
        var unterminated: Bool
    }
}
