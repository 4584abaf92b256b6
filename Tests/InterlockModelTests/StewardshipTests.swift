import Foundation
import Testing
@testable import InterlockModel

/// Who owns a component and what it and a flow's bricks affect on the floor: read, checked and compiled into content.
@Suite struct StewardshipTests {
    static let owner = """
        owner:
          name: OT infrastructure team
          kind: in-house
          contact: ot-infra@plants.example
          contract: SR-2291
        affects:
          lines: [Line 1, Line 2, Line 1]
          areas: [Shop floor network]
        config:
        """

    @Test func ownerAndAffectsAreCompiledIntoTheComponent() throws {
        var f = Fixture()
        f.edit("components/broker.yaml", replacing: "config:", with: Self.owner)
        f.edit("flows/energy.yaml", replacing: "    layout: { x: 10, y: 20 }", with: "    layout: { x: 10, y: 20 }\n    affects: { assets: [Feeder meter L1] }")
        #expect(f.errors().isEmpty, "\(f.errors())")
        let site = f.compile("plant-a").site
        let component = try #require(site.resources.first { $0.path == "components/broker" }?.structured?.objectValue)
        let owner = try #require(Ownership(value: component["owner"]))
        #expect(owner == Ownership(name: "OT infrastructure team", kind: .inHouse, contact: "ot-infra@plants.example", contract: "SR-2291"))
        // A repeated name is listed once.
        #expect(Affects(value: component["affects"]) == Affects(lines: ["Line 1", "Line 2"], areas: ["Shop floor network"]))
        #expect(owner.line == "OT infrastructure team (in-house) · ot-infra@plants.example · contract SR-2291")
        let flow = try #require(site.resources.first { $0.path == "flows/energy" }?.structured?.objectValue)
        let meter = try #require(flow["bricks"]?.arrayValue?.compactMap(\.objectValue).first { $0["id"]?.stringValue == "meter-1" })
        #expect(Affects(value: meter["affects"]).assets == ["Feeder meter L1"])
    }

    @Test func withoutTheFieldsTheContentIsUnchanged() throws {
        // Adding the fields is optional: a repository without them keeps its content hashes (no plan appears).
        let site = Fixture().compile("plant-a").site
        let component = try #require(site.resources.first { $0.path == "components/broker" }?.structured?.objectValue)
        #expect(component["owner"] == nil)
        #expect(component["affects"] == nil)
    }

    @Test func anUnknownKindOfOwnerNamesTheFieldAndTheChoices() throws {
        var f = Fixture()
        f.edit("components/broker.yaml", replacing: "config:", with: "owner: { name: Vendor support, kind: supplier }\nconfig:")
        let e = try #require(f.errors().first { $0.code == "bad-owner-kind" })
        #expect(e.location.file == "components/broker.yaml")
        #expect(e.field == "owner.kind")
        #expect(e.hint?.contains("in-house") == true && e.hint?.contains("vendor") == true)
    }

    @Test func anOwnerNeedsAName() throws {
        var f = Fixture()
        f.edit("components/broker.yaml", replacing: "config:", with: "owner: { kind: vendor, contact: x@y.example }\nconfig:")
        let e = try #require(f.errors().first { $0.code == "missing-field" })
        #expect(e.field == "owner.name")
    }

    @Test func aMisspelledFieldInsideOwnerIsSuggested() throws {
        var f = Fixture()
        f.edit("components/broker.yaml", replacing: "config:", with: "owner: { name: A, kind: vendor, contract_no: 7 }\nconfig:")
        let e = try #require(f.errors().first { $0.code == "unknown-field" })
        #expect(e.field == "owner.contract_no")
        #expect(e.hint?.contains("contract") == true)
    }

    @Test func affectsThatNamesNothingIsAnError() throws {
        var f = Fixture()
        f.edit("flows/energy.yaml", replacing: "    layout: { x: 10, y: 20 }", with: "    layout: { x: 10, y: 20 }\n    affects: {}")
        let e = try #require(f.errors().first { $0.code == "empty-affects" })
        #expect(e.location.file == "flows/energy.yaml")
        #expect(e.field == "bricks[0].affects")
    }

    @Test func affectsMustBeAMapOfLists() throws {
        var f = Fixture()
        f.edit("components/broker.yaml", replacing: "config:", with: "affects: Line 1\nconfig:")
        let e = try #require(f.errors().first { $0.code == "wrong-type" })
        #expect(e.field == "affects")
        var g = Fixture()
        g.edit("components/broker.yaml", replacing: "config:", with: "affects: { line: [Line 1] }\nconfig:")
        let u = try #require(g.errors().first { $0.code == "unknown-field" })
        #expect(u.hint?.contains("did you mean 'lines'") == true)
    }
}
