import Foundation
import Testing
@testable import InterlockEngine
import InterlockModel
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The flow picture of a change: states from the two flow documents, positions from the editor's layout (or a layered
/// layout when a brick has none), and the SVG byte for byte against golden files
/// (`INTERLOCK_UPDATE_GOLDEN=1 swift test --filter FlowPictureTests` rewrites them after a deliberate change).
@Suite struct FlowPictureTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path

    static let before = """
        {"name": "energy-monitoring", "description": "Meters to the dashboard & <alerts>",
         "bricks": [
           {"id": "meter-line-1", "type": "modbus-tcp-reader", "version": "2.3.1", "description": "Line 1 feeder meter", "config": {"interval": "5s"}, "layout": {"x": 80, "y": 60}},
           {"id": "meter-line-4", "type": "modbus-tcp-reader", "version": "2.3.1", "config": {"interval": "5s"}, "layout": {"x": 80, "y": 160}},
           {"id": "aggregate", "type": "window-aggregator", "version": "1.5.2", "layout": {"x": 360, "y": 110}},
           {"id": "alert-mail", "type": "smtp-notifier", "version": "1.1.0", "layout": {"x": 640, "y": 160}}
         ],
         "connections": [
           {"from": "meter-line-1", "to": "aggregate"}, {"from": "meter-line-4", "to": "aggregate"},
           {"from": "aggregate.alerts", "to": "alert-mail.in"}
         ]}
        """

    static let after = """
        {"name": "energy-monitoring", "description": "Meters to the dashboard & <alerts>",
         "bricks": [
           {"id": "meter-line-1", "type": "modbus-tcp-reader", "version": "2.4.0", "description": "Line 1 feeder meter", "config": {"interval": "2s"}, "layout": {"x": 80, "y": 60}},
           {"id": "aggregate", "type": "window-aggregator", "version": "1.5.2", "layout": {"x": 360, "y": 110}},
           {"id": "alert-mqtt", "type": "mqtt-publisher", "version": "1.6.3", "description": "Alerts to the \\"plant\\" broker", "layout": {"x": 640, "y": 60}}
         ],
         "connections": [
           {"from": "meter-line-1", "to": "aggregate"}, {"from": "aggregate.alerts", "to": "alert-mqtt.in"}
         ]}
        """

    func states(_ picture: FlowPicture) -> [String: FlowPicture.State] {
        Dictionary(uniqueKeysWithValues: picture.bricks.map { ($0.id, $0.state) })
    }

    @Test func addedRemovedChangedAndUnchangedBricksAndConnectionsAreTold() throws {
        let picture = try #require(FlowPicture.compare(old: Data(Self.before.utf8), new: Data(Self.after.utf8)))
        #expect(states(picture) == ["meter-line-1": .changed, "meter-line-4": .removed, "aggregate": .unchanged, "alert-mail": .removed, "alert-mqtt": .added])
        let links = Dictionary(uniqueKeysWithValues: picture.connections.map { ("\($0.from) → \($0.to)", $0.state) })
        #expect(links == ["meter-line-1 → aggregate": .unchanged, "meter-line-4 → aggregate": .removed,
                          "aggregate.alerts → alert-mail.in": .removed, "aggregate.alerts → alert-mqtt.in": .added])
        let changed = try #require(picture.bricks.first { $0.id == "meter-line-1" })
        #expect(changed.changes.contains { $0.contains("2.3.1") && $0.contains("2.4.0") } && changed.changes.contains { $0.contains("5s") && $0.contains("2s") })
        // Where the editor put them (shifted to the margin): unchanged bricks stay where they were.
        let aggregate = try #require(picture.bricks.first { $0.id == "aggregate" })
        #expect(aggregate.x == 360 - 80 + 24 && aggregate.y == 110 - 60 + 24)
        #expect(picture.touchedBricks == 4 && picture.touchedConnections == 3)
    }

    @Test func theSVGMatchesItsGoldenFileAndEscapesEveryText() throws {
        let picture = try #require(FlowPicture.compare(old: Data(Self.before.utf8), new: Data(Self.after.utf8)))
        let svg = picture.svg(id: "flow-1", standalone: true)
        try Self.compareGolden(svg, "flow-change.svg")
        #expect(svg.contains("Alerts to the &quot;plant&quot; broker") && !svg.contains("<alerts>"))
        #expect(!svg.contains("style=") && !svg.contains("<script"), "presentation attributes only: the console's CSP forbids inline styles")
        // Every state has its own glyph and dash, not only a colour.
        #expect(svg.contains("stroke-dasharray=\"7 5\"") && svg.contains("stroke-dasharray=\"2 3\""))
        #expect(svg.contains(">+</text>") && svg.contains(">−</text>") && svg.contains(">~</text>"))
        // A well-formed XML document.
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
    }

    @Test func withoutALayoutForEveryBrickTheFlowIsLaidOutInLayersAndACreatedFlowIsAllAdded() throws {
        let created = try #require(FlowPicture.compare(old: nil, new: Data(Self.after.replacingOccurrences(of: #", "layout": {"x": 640, "y": 60}"#, with: "").utf8)))
        #expect(created.bricks.allSatisfy { $0.state == .added } && created.connections.allSatisfy { $0.state == .added })
        let column = Dictionary(uniqueKeysWithValues: created.bricks.map { ($0.id, $0.x) })
        #expect(column["meter-line-1"]! < column["aggregate"]! && column["aggregate"]! < column["alert-mqtt"]!, "sources left, sinks right: \(column)")
        try Self.compareGolden(FlowPicture.document([("plant-a: + flows/energy-monitoring", created)]), "flow-created-document.svg")
        let deleted = try #require(FlowPicture.compare(old: Data(Self.before.utf8), new: nil))
        #expect(deleted.bricks.allSatisfy { $0.state == .removed })
        // A cycle does not loop forever, and a document that is not a flow draws nothing.
        let cycle = #"{"name": "c", "bricks": [{"id": "a"}, {"id": "b"}], "connections": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}"#
        #expect(FlowPicture.compare(old: nil, new: Data(cycle.utf8))?.bricks.count == 2)
        #expect(FlowPicture.compare(old: Data("not json".utf8), new: nil) == nil)
    }

    static func compareGolden(_ text: String, _ name: String) throws {
        let path = golden + "/" + name
        if ProcessInfo.processInfo.environment["INTERLOCK_UPDATE_GOLDEN"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == expected, "\(name) differs from its golden file; after a deliberate change run with INTERLOCK_UPDATE_GOLDEN=1")
    }
}
