/// A place in the desired-state repository: a file and, where known, a line and column (both 1-based).
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    // Every node of a parsed document carries a location, so they are kept small: 0 means unknown.
    private var storedLine: UInt32
    private var storedColumn: UInt32

    public var line: Int? {
        get { storedLine == 0 ? nil : Int(storedLine) }
        set { storedLine = SourceLocation.store(newValue) }
    }

    public var column: Int? {
        get { storedColumn == 0 ? nil : Int(storedColumn) }
        set { storedColumn = SourceLocation.store(newValue) }
    }

    public init(file: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        storedLine = SourceLocation.store(line)
        storedColumn = SourceLocation.store(column)
    }

    /// Positions beyond 4 billion are clamped: no desired-state file comes close.
    private static func store(_ value: Int?) -> UInt32 {
        guard let value, value > 0 else { return 0 }
        return UInt32(clamping: value)
    }

    /// `file:line:column`, as compilers print it, so editors can jump there.
    public var description: String {
        var text = file
        if let line {
            text += ":\(line)"
            if let column { text += ":\(column)" }
        }
        return text
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        if lhs.file != rhs.file { return lhs.file < rhs.file }
        if (lhs.line ?? 0) != (rhs.line ?? 0) { return (lhs.line ?? 0) < (rhs.line ?? 0) }
        return (lhs.column ?? 0) < (rhs.column ?? 0)
    }
}
