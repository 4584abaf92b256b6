/// A shell-style pattern for resource paths: `*` (any run of characters, `/` included), `?` (one character)
/// and `[abc]` / `[a-z]` / `[!a]` classes.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let characters: [Character]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.characters = Array(pattern)
    }

    public var description: String { pattern }

    /// Whether a bracket expression is closed everywhere it is opened.
    public var isWellFormed: Bool {
        var index = 0
        while index < characters.count {
            if characters[index] == "[" {
                guard let close = closingBracket(from: index) else { return false }
                index = close
            }
            index += 1
        }
        return true
    }

    public func matches(_ text: String) -> Bool {
        let subject = Array(text)
        var p = 0, s = 0
        var starP = -1, starS = 0
        while s < subject.count {
            if p < characters.count {
                let c = characters[p]
                if c == "*" {
                    starP = p
                    starS = s
                    p += 1
                    continue
                }
                if c == "?" {
                    p += 1
                    s += 1
                    continue
                }
                if c == "[", let close = closingBracket(from: p) {
                    if classMatches(subject[s], characters[(p + 1)..<close]) {
                        p = close + 1
                        s += 1
                        continue
                    }
                } else if c == subject[s] {
                    p += 1
                    s += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            p = starP + 1
            starS += 1
            s = starS
        }
        while p < characters.count, characters[p] == "*" { p += 1 }
        return p == characters.count
    }

    private func closingBracket(from open: Int) -> Int? {
        var index = open + 1
        if index < characters.count, characters[index] == "!" { index += 1 }
        if index < characters.count, characters[index] == "]" { index += 1 }
        while index < characters.count {
            if characters[index] == "]" { return index }
            index += 1
        }
        return nil
    }

    private func classMatches(_ character: Character, _ body: ArraySlice<Character>) -> Bool {
        var items = body
        var negate = false
        if items.first == "!" {
            negate = true
            items = items.dropFirst()
        }
        var matched = false
        var index = items.startIndex
        while index < items.endIndex {
            let low = items[index]
            if index + 2 < items.endIndex, items[index + 1] == "-" {
                let high = items[index + 2]
                if low <= character && character <= high { matched = true }
                index += 3
            } else {
                if low == character { matched = true }
                index += 1
            }
        }
        return matched != negate
    }
}
