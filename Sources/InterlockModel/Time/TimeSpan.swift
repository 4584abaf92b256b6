import Foundation

/// A length of time as written in the repository: `6h`, `45m`, `1h30m`, `2d`, `90s`.
public struct TimeSpan: Sendable, Hashable, Comparable, CustomStringConvertible {
    public struct ParseError: Error, Sendable {}

    public var seconds: Int

    public init(seconds: Int) { self.seconds = seconds }

    /// Parses one or more `<number><unit>` parts, units `d`, `h`, `m`, `s`, largest first.
    public init(parsing text: String) throws {
        let units: [Character: Int] = ["d": 86_400, "h": 3_600, "m": 60, "s": 1]
        let order: [Character] = ["d", "h", "m", "s"]
        var total = 0
        var number = ""
        var lastUnitIndex = -1
        for character in text.trimmingCharacters(in: .whitespaces) {
            if character.isASCII, character.isNumber {
                number.append(character)
            } else if let factor = units[character], let value = Int(number),
                      let index = order.firstIndex(of: character), index > lastUnitIndex
            {
                let (product, overflow) = value.multipliedReportingOverflow(by: factor)
                guard !overflow else { throw ParseError() }
                total += product
                number = ""
                lastUnitIndex = index
            } else {
                throw ParseError()
            }
        }
        guard number.isEmpty, lastUnitIndex >= 0, total > 0 else { throw ParseError() }
        seconds = total
    }

    /// The shortest form, e.g. `1h30m`.
    public var description: String {
        var rest = seconds
        var text = ""
        for (unit, factor) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= factor {
            text += "\(rest / factor)\(unit)"
            rest %= factor
        }
        return text.isEmpty ? "0s" : text
    }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.seconds < rhs.seconds }
}
