/// Which lines of two sequences are not part of a longest common subsequence: the minimal edit script of
/// Myers' "An O(ND) Difference Algorithm and Its Variations" (1986), in its linear-space divide-and-conquer
/// form (the "middle snake"), so memory stays O(N + M) however different the inputs are.
///
/// Like GNU diff, the search gives up on minimality when a region needs more than `costLimit` edits (a
/// file reversed, thousands of shuffled repeated lines): it then splits at the furthest point reached,
/// which still yields a correct script, in O((N + M) · costLimit) time instead of O((N + M) · D).
struct LineMatcher {
    static let costLimit = 1024

    private let a: [Int]
    private let b: [Int]

    /// Lines as interned ids: equal ids are equal lines.
    init(_ a: [Int], _ b: [Int]) {
        self.a = a
        self.b = b
    }

    func changes() -> LineChanges {
        var result = LineChanges(oldChanged: [Bool](repeating: false, count: a.count), newChanged: [Bool](repeating: false, count: b.count))
        // A line that occurs on one side only can never be matched: set it aside before the search. This keeps
        // the edit script minimal and makes files that share little (a rewrite, a regenerated file) cheap.
        let inA = Set(a), inB = Set(b)
        let keptA = a.indices.filter { inB.contains(a[$0]) }
        let keptB = b.indices.filter { inA.contains(b[$0]) }
        for i in a.indices where !inB.contains(a[i]) { result.oldChanged[i] = true }
        for j in b.indices where !inA.contains(b[j]) { result.newChanged[j] = true }

        var search = MiddleSnakeSearch(a: keptA.map { a[$0] }, b: keptB.map { b[$0] })
        search.run()
        for (k, changed) in search.oldChanged.enumerated() where changed { result.oldChanged[keptA[k]] = true }
        for (k, changed) in search.newChanged.enumerated() where changed { result.newChanged[keptB[k]] = true }
        return result
    }
}

/// Per line of each side: true when the line is removed (old) or added (new).
struct LineChanges: Sendable, Equatable {
    var oldChanged: [Bool]
    var newChanged: [Bool]
}

private struct MiddleSnakeSearch {
    let a: [Int]
    let b: [Int]
    var oldChanged: [Bool]
    var newChanged: [Bool]
    /// Furthest-reaching x per diagonal, forward and backward, offset by `offset`; reused by every step.
    private var forward: [Int]
    private var backward: [Int]
    private let offset: Int

    init(a: [Int], b: [Int]) {
        self.a = a
        self.b = b
        oldChanged = [Bool](repeating: false, count: a.count)
        newChanged = [Bool](repeating: false, count: b.count)
        offset = (a.count + b.count + 1) / 2 + 1
        forward = [Int](repeating: 0, count: 2 * offset + 1)
        backward = forward
    }

    mutating func run() {
        var regions = [(0, a.count, 0, b.count)]
        while let (aStart, aEnd, bStart, bEnd) = regions.popLast() {
            var aLo = aStart, aHi = aEnd, bLo = bStart, bHi = bEnd
            while aLo < aHi, bLo < bHi, a[aLo] == b[bLo] { aLo += 1; bLo += 1 }
            while aLo < aHi, bLo < bHi, a[aHi - 1] == b[bHi - 1] { aHi -= 1; bHi -= 1 }
            if aLo == aHi {
                for j in bLo..<bHi { newChanged[j] = true }
            } else if bLo == bHi {
                for i in aLo..<aHi { oldChanged[i] = true }
            } else {
                // Both sides non-empty and differing at both ends: at least two edits, so each half is smaller.
                let (x, y, u, v) = middleSnake(aLo, aHi, bLo, bHi)
                regions.append((u, aHi, v, bHi))
                regions.append((aLo, x, bLo, y))
            }
        }
    }

    /// The snake in the middle of a shortest edit path through the region: from (x, y) to (u, v).
    private mutating func middleSnake(_ aLo: Int, _ aHi: Int, _ bLo: Int, _ bHi: Int) -> (Int, Int, Int, Int) {
        let n = aHi - aLo, m = bHi - bLo
        let delta = n - m
        let odd = delta & 1 != 0
        let maxD = (n + m + 1) / 2
        let off = offset
        let a = self.a, b = self.b
        return forward.withUnsafeMutableBufferPointer { vf in
            backward.withUnsafeMutableBufferPointer { vb in
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        vf[off + 1] = 0
                        vb[off + 1] = 0
                        for d in 0...maxD {
                            for k in stride(from: -d, through: d, by: 2) {
                                var x = (k == -d || (k != d && vf[off + k - 1] < vf[off + k + 1])) ? vf[off + k + 1] : vf[off + k - 1] + 1
                                var y = x - k
                                let x0 = x, y0 = y
                                while x < n, y < m, a[aLo + x] == b[bLo + y] { x += 1; y += 1 }
                                vf[off + k] = x
                                if odd, abs(k - delta) <= d - 1, x + vb[off + delta - k] >= n {
                                    return (aLo + x0, bLo + y0, aLo + x, bLo + y)
                                }
                            }
                            for c in stride(from: -d, through: d, by: 2) {
                                var x = (c == -d || (c != d && vb[off + c - 1] < vb[off + c + 1])) ? vb[off + c + 1] : vb[off + c - 1] + 1
                                var y = x - c
                                let x0 = x, y0 = y
                                while x < n, y < m, a[aHi - 1 - x] == b[bHi - 1 - y] { x += 1; y += 1 }
                                vb[off + c] = x
                                if !odd, abs(delta - c) <= d, x + vf[off + delta - c] >= n {
                                    return (aLo + n - x, bLo + m - y, aLo + n - x0, bLo + m - y0)
                                }
                            }
                            if d >= LineMatcher.costLimit {
                                // Too expensive: split at the point, forward or backward, that got furthest.
                                var best = (progress: 0, x: 0, y: 0)
                                for k in stride(from: -d, through: d, by: 2) {
                                    let x = vf[off + k], y = vf[off + k] - k
                                    if x <= n, y >= 0, y <= m, x + y > best.progress, x + y < n + m { best = (x + y, x, y) }
                                    let xb = vb[off + k], yb = vb[off + k] - k
                                    if xb <= n, yb >= 0, yb <= m, xb + yb > best.progress, xb + yb < n + m { best = (xb + yb, n - xb, m - yb) }
                                }
                                if best.progress > 0 {
                                    return (aLo + best.x, bLo + best.y, aLo + best.x, bLo + best.y)
                                }
                            }
                        }
                        preconditionFailure("Myers search passed the largest possible edit distance")
                    }
                }
            }
        }
    }
}
