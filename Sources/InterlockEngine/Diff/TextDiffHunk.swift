/// One `@@ … @@` section of a unified diff: a run of changes with the unchanged lines around them.
struct Hunk: Equatable {
    enum Line: Equatable {
        case context(Int)
        case removed(Int)
        case added(Int)
    }

    /// 0-based first line of each side and the number of lines of each side the hunk covers.
    var oldStart: Int, oldCount: Int
    var newStart: Int, newCount: Int
    var lines: [Line]

    /// Splits the changes into hunks with `context` unchanged lines around each change; changes separated by
    /// at most `2 * context` unchanged lines share a hunk (their contexts would overlap or touch).
    static func group(_ changes: LineChanges, oldCount n: Int, newCount m: Int, context: Int) -> [Hunk] {
        let blocks = changeBlocks(changes, n, m)
        var hunks: [Hunk] = []
        var first = 0
        while first < blocks.count {
            var last = first
            while last + 1 < blocks.count, blocks[last + 1].oldStart - blocks[last].oldEnd <= 2 * context { last += 1 }
            let before = min(context, blocks[first].oldStart)
            let after = min(context, n - blocks[last].oldEnd)
            var hunk = Hunk(oldStart: blocks[first].oldStart - before, oldCount: 0, newStart: blocks[first].newStart - before, newCount: 0, lines: [])
            var i = hunk.oldStart
            for block in blocks[first...last] {
                while i < block.oldStart { hunk.lines.append(.context(i)); i += 1 }
                for k in block.oldStart..<block.oldEnd { hunk.lines.append(.removed(k)) }
                for k in block.newStart..<block.newEnd { hunk.lines.append(.added(k)) }
                i = block.oldEnd
            }
            for k in i..<(i + after) { hunk.lines.append(.context(k)) }
            hunk.oldCount = blocks[last].oldEnd + after - hunk.oldStart
            hunk.newCount = blocks[last].newEnd + after - hunk.newStart
            hunks.append(hunk)
            first = last + 1
        }
        return hunks
    }

    private struct Block {
        var oldStart: Int, oldEnd: Int, newStart: Int, newEnd: Int
    }

    /// Maximal runs of removed and added lines between unchanged ones.
    private static func changeBlocks(_ changes: LineChanges, _ n: Int, _ m: Int) -> [Block] {
        var blocks: [Block] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, !changes.oldChanged[i], !changes.newChanged[j] {
                i += 1
                j += 1
                continue
            }
            let i0 = i, j0 = j
            while i < n, changes.oldChanged[i] { i += 1 }
            while j < m, changes.newChanged[j] { j += 1 }
            guard i > i0 || j > j0 else { preconditionFailure("unchanged lines do not pair up") }
            blocks.append(Block(oldStart: i0, oldEnd: i, newStart: j0, newEnd: j))
        }
        return blocks
    }
}
