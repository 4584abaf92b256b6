import Foundation
import InterlockModel

/// A flow change drawn: the union of the flow before and after, every brick and connection marked added, removed,
/// changed or unchanged — by a glyph and a line style as well as by colour, so it reads without colour (colour-blind
/// viewers, a black-and-white print). Unchanged bricks stay where they were.
///
/// Layout: when every brick of the union has a `layout` (its position in the flow editor), those positions are used
/// (the new one, else the old one), so the picture looks like the flow the engineers know. Otherwise a layered layout
/// computed here: a brick's column is the longest path to it from a brick nothing feeds, its row the order of ids in
/// that column. Written here rather than calling Graphviz: flows are small graphs of tens of bricks, the server has no
/// extra package to run, and the output is deterministic (golden files test it byte for byte).
public struct FlowPicture: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        case added, removed, changed, unchanged

        /// The glyph shown with the element: `+`, `−`, `~`, nothing.
        public var glyph: String {
            switch self {
            case .added: "+"
            case .removed: "−"
            case .changed: "~"
            case .unchanged: ""
            }
        }
    }

    public struct Brick: Sendable, Hashable {
        public var id: String
        public var type: String
        public var version: String
        public var description: String
        /// The lines, assets and areas the brick touches (`line Line 2 · asset Press P-07`), empty when not given.
        public var affects: String = ""
        public var state: State
        /// What changed in the brick (`config.interval 5s → 1s`, `version 2.3.1 → 2.4.0`).
        public var changes: [String]
        public var x: Int
        public var y: Int
    }

    public struct Connection: Sendable, Hashable {
        public var from: String
        public var to: String
        public var state: State
        var fromBrick: String { String(from.split(separator: ".", maxSplits: 1).first ?? Substring(from)) }
        var toBrick: String { String(to.split(separator: ".", maxSplits: 1).first ?? Substring(to)) }
    }

    public var name: String
    public var description: String
    public var bricks: [Brick]
    public var connections: [Connection]

    /// Counts for the text beside the picture and the risk summary.
    public var touchedBricks: Int { bricks.filter { $0.state != .unchanged }.count }
    public var touchedConnections: Int { connections.filter { $0.state != .unchanged }.count }

    static let brickWidth = 190, brickHeight = 62, margin = 24

    /// The picture of a flow operation: `old` is the live flow (nil when the flow is created), `new` the desired one
    /// (nil when it is deleted). Nil when neither is a flow document.
    public static func compare(old: Data?, new: Data?) -> FlowPicture? {
        let before = old.flatMap { try? Value.parseJSON($0) }?.objectValue
        let after = new.flatMap { try? Value.parseJSON($0) }?.objectValue
        guard before != nil || after != nil else { return nil }
        func connections(_ flow: [String: Value]?) -> [String: (String, String)] {
            var result: [String: (String, String)] = [:]
            for c in flow?["connections"]?.arrayValue ?? [] {
                if let o = c.objectValue, let from = o["from"]?.stringValue, let to = o["to"]?.stringValue { result["\(from)\u{0}\(to)"] = (from, to) }
            }
            return result
        }
        let a = bricks(before), b = bricks(after)
        var list: [Brick] = []
        var positions: [String: (Int, Int)] = [:]
        for id in Set(a.keys).union(b.keys).sorted() {
            let old = a[id], new = b[id]
            let shown = new ?? old ?? [:]
            var state = State.unchanged
            var changes: [String] = []
            switch (old, new) {
            case (nil, _?): state = .added
            case (_?, nil): state = .removed
            case (let x?, let y?):
                var x = x, y = y
                x["layout"] = nil
                y["layout"] = nil
                changes = StructuredDiff.changes(from: .object(x), to: .object(y)).map(\.description)
                if !changes.isEmpty { state = .changed }
            default: break
            }
            if let layout = (new?["layout"] ?? old?["layout"])?.objectValue, let x = number(layout["x"]), let y = number(layout["y"]) {
                positions[id] = (x, y)
            }
            list.append(Brick(id: id, type: shown["type"]?.stringValue ?? "?", version: shown["version"]?.stringValue ?? "",
                              description: shown["description"]?.stringValue ?? "", affects: Affects(value: shown["affects"]).line,
                              state: state, changes: changes, x: 0, y: 0))
        }
        let ca = connections(before), cb = connections(after)
        let links: [Connection] = Set(ca.keys).union(cb.keys).sorted().map { key in
            let (from, to) = cb[key] ?? ca[key]!
            return Connection(from: from, to: to, state: ca[key] == nil ? .added : cb[key] == nil ? .removed : .unchanged)
        }
        if !list.isEmpty, positions.count == list.count {
            // The editor's positions, shifted so the picture starts at the margin.
            let minX = positions.values.map(\.0).min() ?? 0, minY = positions.values.map(\.1).min() ?? 0
            for index in list.indices {
                let (x, y) = positions[list[index].id]!
                list[index].x = x - minX + margin
                list[index].y = y - minY + margin
            }
        } else {
            layered(&list, links)
        }
        let shown = after ?? before ?? [:]
        return FlowPicture(name: shown["name"]?.stringValue ?? "flow", description: shown["description"]?.stringValue ?? "",
                           bricks: list, connections: links)
    }

    /// A flow document's bricks by id.
    static func bricks(_ flow: [String: Value]?) -> [String: [String: Value]] {
        var result: [String: [String: Value]] = [:]
        for brick in flow?["bricks"]?.arrayValue ?? [] {
            if let b = brick.objectValue, let id = b["id"]?.stringValue { result[id] = b }
        }
        return result
    }

    private static func number(_ value: Value?) -> Int? {
        switch value {
        case .int(let n)?: n
        case .double(let d)?: Int(d.rounded())
        default: nil
        }
    }

    /// Columns by longest path from the sources (cycles cut after as many rounds as there are bricks), rows by id.
    private static func layered(_ bricks: inout [Brick], _ links: [Connection]) {
        var column: [String: Int] = Dictionary(uniqueKeysWithValues: bricks.map { ($0.id, 0) })
        for _ in 0..<bricks.count {
            var moved = false
            for link in links where column[link.fromBrick] != nil && column[link.toBrick] != nil && link.fromBrick != link.toBrick {
                let wanted = column[link.fromBrick]! + 1
                if wanted > column[link.toBrick]!, wanted < bricks.count {
                    column[link.toBrick] = wanted
                    moved = true
                }
            }
            if !moved { break }
        }
        var rows: [Int: Int] = [:]
        for index in bricks.indices {
            let c = column[bricks[index].id] ?? 0
            let r = rows[c, default: 0]
            rows[c] = r + 1
            bricks[index].x = margin + c * (brickWidth + 70)
            bricks[index].y = margin + r * (brickHeight + 34)
        }
    }

    // MARK: - SVG

    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters are not allowed in XML 1.0.
                if let scalar = ch.unicodeScalars.first, scalar.value < 0x20, ch != "\n", ch != "\t" { continue }
                out.append(ch)
            }
        }
        return out
    }

    static func clip(_ text: String, _ length: Int) -> String { text.count <= length ? text : String(text.prefix(length - 1)) + "…" }

    /// Stroke colour, stroke width and dash pattern of each state (colour is never the only mark: glyph and dash too).
    static func stroke(_ state: State) -> (color: String, width: String, dash: String?) {
        switch state {
        case .added: ("#13703a", "3", nil)
        case .removed: ("#b0261c", "2.5", "7 5")
        case .changed: ("#8a5a00", "3", "2 3")
        case .unchanged: ("#7a8394", "1.2", nil)
        }
    }

    /// The size the picture needs.
    public var size: (width: Int, height: Int) {
        let width = (bricks.map { $0.x + Self.brickWidth }.max() ?? 0) + Self.margin
        let height = (bricks.map { $0.y + Self.brickHeight }.max() ?? 0) + Self.margin + 34
        return (max(width, 420), max(height, 120))
    }

    /// The picture as an `<svg>` element (no script, no style attributes: presentation attributes only, so it passes
    /// the console's Content-Security-Policy). `id` makes the element ids unique on a page with several pictures.
    public func svg(id: String, standalone: Bool = false) -> String {
        let (width, height) = size
        var out = ""
        let titleID = "\(id)-title", descID = "\(id)-desc"
        let summary = "\(touchedBricks) brick(s) and \(touchedConnections) connection(s) change: "
            + bricks.filter { $0.state != .unchanged }.map { "\($0.id) \($0.state.rawValue)" }.joined(separator: ", ")
        out += "<svg\(standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "") class=\"flow-picture\" id=\"\(Self.escape(id))\" role=\"img\" aria-labelledby=\"\(titleID) \(descID)\" "
        out += "width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\">\n"
        out += "<title id=\"\(titleID)\">Flow \(Self.escape(name))</title>\n"
        out += "<desc id=\"\(descID)\">\(Self.escape(summary))</desc>\n"
        out += "<defs>\n"
        for state in [State.added, .removed, .changed, .unchanged] {
            out += "<marker id=\"\(id)-arrow-\(state.rawValue)\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"11\" markerHeight=\"11\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"\(Self.stroke(state).color)\"/></marker>\n"
        }
        out += "</defs>\n"
        let at = Dictionary(uniqueKeysWithValues: bricks.map { ($0.id, $0) })
        for link in connections {
            guard let from = at[link.fromBrick], let to = at[link.toBrick] else { continue }
            let (color, width, dash) = Self.stroke(link.state)
            let x1 = from.x + Self.brickWidth, y1 = from.y + Self.brickHeight / 2
            let x2 = to.x, y2 = to.y + Self.brickHeight / 2
            let bend = max(30, abs(x2 - x1) / 2)
            let path = "M\(x1),\(y1) C\(x1 + bend),\(y1) \(x2 - bend),\(y2) \(x2),\(y2)"
            out += "<g class=\"connection \(link.state.rawValue)\"><title>\(Self.escape("\(link.from) → \(link.to)"))\(link.state == .unchanged ? "" : " (\(link.state.rawValue))")</title>"
            out += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") marker-end=\"url(#\(id)-arrow-\(link.state.rawValue))\"/>"
            if link.state != .unchanged {
                let mx = (x1 + x2) / 2, my = (y1 + y2) / 2
                out += "<circle cx=\"\(mx)\" cy=\"\(my)\" r=\"9\" fill=\"#fff\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
                out += "<text x=\"\(mx)\" y=\"\(my + 5)\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\" fill=\"\(color)\">\(link.state.glyph)</text>"
            }
            out += "</g>\n"
        }
        for brick in bricks {
            let (color, width, dash) = Self.stroke(brick.state)
            let fill = brick.state == .removed ? "#fdf1f0" : brick.state == .added ? "#eefaf2" : brick.state == .changed ? "#fff7e6" : "#ffffff"
            var tip = "\(brick.id) — \(brick.type) \(brick.version)"
            if !brick.description.isEmpty { tip += " — \(brick.description)" }
            if !brick.affects.isEmpty { tip += " — affects \(brick.affects)" }
            tip += " (\(brick.state.rawValue))"
            if !brick.changes.isEmpty { tip += ": " + brick.changes.joined(separator: "; ") }
            out += "<g class=\"brick \(brick.state.rawValue)\" transform=\"translate(\(brick.x),\(brick.y))\"><title>\(Self.escape(tip))</title>"
            out += "<rect width=\"\(Self.brickWidth)\" height=\"\(Self.brickHeight)\" rx=\"8\" fill=\"\(fill)\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>"
            if brick.state != .unchanged {
                out += "<text x=\"\(Self.brickWidth - 12)\" y=\"20\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\" fill=\"\(color)\">\(brick.state.glyph)</text>"
            }
            out += "<text x=\"10\" y=\"24\" font-size=\"13\" font-weight=\"bold\" fill=\"#1d2430\"\(brick.state == .removed ? " text-decoration=\"line-through\"" : "")>\(Self.escape(Self.clip(brick.id, 22)))</text>"
            out += "<text x=\"10\" y=\"44\" font-size=\"11\" fill=\"#5b6575\">\(Self.escape(Self.clip("\(brick.type) \(brick.version)", 28)))</text>"
            out += "</g>\n"
        }
        // The legend: each state with its glyph and line style.
        let legendY = height - 16
        var x = Self.margin
        for state in [State.added, .removed, .changed, .unchanged] {
            let (color, width, dash) = Self.stroke(state)
            out += "<g class=\"legend\"><line x1=\"\(x)\" y1=\"\(legendY - 4)\" x2=\"\(x + 26)\" y2=\"\(legendY - 4)\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>"
            out += "<text x=\"\(x + 32)\" y=\"\(legendY)\" font-size=\"12\" fill=\"#1d2430\">\(state.glyph.isEmpty ? "" : state.glyph + " ")\(state.rawValue)</text></g>\n"
            x += 110
        }
        out += "</svg>"
        return out
    }

    /// Several pictures as one SVG document, one under the other, each with its flow's name.
    public static func document(_ pictures: [(title: String, picture: FlowPicture)]) -> String {
        var y = 0
        var parts: [String] = []
        var width = 420
        for (index, item) in pictures.enumerated() {
            let (w, h) = item.picture.size
            width = max(width, w)
            parts.append("<text x=\"\(margin)\" y=\"\(y + 22)\" font-family=\"sans-serif\" font-size=\"16\" font-weight=\"bold\" fill=\"#1d2430\">\(escape(item.title))</text>")
            parts.append("<g transform=\"translate(0,\(y + 32))\">" + item.picture.svg(id: "flow-\(index + 1)") + "</g>")
            y += h + 48
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(max(y, 40))\" viewBox=\"0 0 \(width) \(max(y, 40))\" role=\"img\" aria-label=\"Changed flows\">\n"
            + parts.joined(separator: "\n") + "\n</svg>\n"
    }
}
