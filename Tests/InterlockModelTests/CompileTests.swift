import Foundation
import Testing
@testable import InterlockModel

/// Compile pins merge-patch and interpolation behaviour and the stability of content hashes.
@Suite struct CompileTests {
    func spec(_ compilation: DesiredState.Compilation, _ path: String) throws -> [String: Value] {
        try #require(compilation.site.resource(at: path)?.structured?.objectValue, "no resource \(path)")
    }

    func text(_ compilation: DesiredState.Compilation, _ path: String) throws -> String {
        String(decoding: try #require(compilation.site.resource(at: path)?.content), as: UTF8.self)
    }

    @Test func compilesComponentsFilesAndFlows() throws {
        let a = Fixture().compile("plant-a")
        #expect(a.isValid)
        #expect(a.site.resources.map(\.path) == [
            "components/broker", "files/mosquitto/acl", "files/mosquitto/mosquitto.conf", "files/mosquitto/settings.json", "flows/energy",
        ])
        let acl = try #require(a.site.resource(at: "files/mosquitto/acl"))
        #expect(acl.mode == 0o640)
        #expect(acl.owner == "components/broker")
        #expect(acl.policyPath == "components/broker")
    }

    /// Templates are interpolated line by line: lines without a reference, empty lines, a final newline and
    /// non-ASCII text come through byte for byte; a bad reference is reported on its line and left as written.
    @Test func templateTextIsInterpolatedLineByLine() {
        let interpolator = Interpolator(scope: ["values": .object(["port": .int(1883), "name": .string("Linie 3 · Süd")])], siteName: "plant-a")
        var diagnostics = Diagnostics()
        let text = "# Größe\nport ${values.port}\n\nname=${values.name} $${literal}\nbad ${values.nope}\n"
        let output = interpolator.apply(text: text, file: "components/x/t.conf", field: "", diagnostics: &diagnostics)
        #expect(output == "# Größe\nport 1883\n\nname=Linie 3 · Süd ${literal}\nbad ${values.nope}\n")
        #expect(diagnostics.all.map(\.location.line) == [5])
        #expect(diagnostics.all.first?.code == "undefined-value")
        #expect(interpolator.apply(text: "no references\n", file: "f", field: "", diagnostics: &diagnostics) == "no references\n")
        #expect(interpolator.apply(text: "${values.port}", file: "f", field: "", diagnostics: &diagnostics) == "1883")
    }

    @Test func valuesAreInterpolatedPerSite() throws {
        let a = Fixture().compile("plant-a"), b = Fixture().compile("plant-b")
        #expect(try text(a, "files/mosquitto/acl") == "topic read plant/plant-a/#")
        #expect(try text(b, "files/mosquitto/acl") == "topic read plant/plant-b/#")
        #expect(try text(a, "files/mosquitto/mosquitto.conf") == "listener 1883\npersistence true\nmax_connections 100\n# literal: ${not.interpolated}")
        #expect(try text(b, "files/mosquitto/mosquitto.conf").hasPrefix("listener 8883\n"))
    }

    @Test func wholeReferenceKeepsTheValueType() throws {
        let a = Fixture().compile("plant-a")
        #expect(try spec(a, "components/broker")["config"]?.objectValue?["port"] == .int(1883))
        let settings = try text(a, "files/mosquitto/settings.json")
        #expect(settings == "{\n  \"host\": \"opc.tcp://10.1.2.3:4840\",\n  \"lines\": 4\n}\n")
    }

    @Test func overrideMergesMapsAndDeletesKeysWithNull() throws {
        let a = try spec(Fixture().compile("plant-a"), "components/broker")["config"]?.objectValue
        let b = try spec(Fixture().compile("plant-b"), "components/broker")["config"]?.objectValue
        #expect(a?["max_connections"] == .int(100))
        #expect(a?["retained"] != nil)
        #expect(b?["max_connections"] == .int(250))
        #expect(b?["retained"] == nil, "null in the override deletes the key")
        #expect(b?["persistence"] == .bool(true), "keys the override does not mention stay")
    }

    @Test func bricksWrittenAsMapMergePerIDAndNullRemovesABrick() throws {
        let flow = try spec(Fixture().compile("plant-b"), "flows/energy")
        let bricks = try #require(flow["bricks"]?.arrayValue).compactMap(\.objectValue)
        #expect(bricks.map { $0["id"]?.stringValue } == ["aggregator", "dashboard", "meter-1"])
        let aggregator = try #require(bricks.first { $0["id"] == .string("aggregator") })
        #expect(aggregator["config"]?.objectValue?["window"] == .string("5m"))
        #expect(aggregator["type"] == .string("window-aggregate"), "fields not in the patch stay")
        #expect(flow["connections"]?.arrayValue?.count == 2, "a list in the patch replaces the list")
    }

    @Test func overrideAddingABrickByID() throws {
        var f = Fixture()
        f.files["sites/plant-b/overrides/flows/energy.yaml"] = """
            bricks:
              meter-9: { type: modbus-tcp-reader, version: 1.4.0 }
            """
        let flow = try spec(f.compile("plant-b"), "flows/energy")
        let ids = flow["bricks"]?.arrayValue?.compactMap { $0.objectValue?["id"]?.stringValue }
        #expect(ids?.contains("meter-9") == true)
        #expect(ids?.count == 5)
    }

    @Test func overrideListOfBricksReplacesAllBricks() throws {
        var f = Fixture()
        f.files["sites/plant-b/overrides/flows/energy.yaml"] = """
            bricks:
              - { id: only, type: t, version: "1" }
            connections: null
            """
        let flow = try spec(f.compile("plant-b"), "flows/energy")
        #expect(flow["bricks"]?.arrayValue?.count == 1)
        #expect(flow["connections"] == .array([]))
    }

    @Test func overrideErrorsPointAtTheOverrideFile() throws {
        var f = Fixture()
        f.files["sites/plant-b/overrides/flows/energy.yaml"] = "bricks:\n  aggregator:\n    colour: red\n"
        let errors = f.errors()
        let e = try #require(errors.first { $0.code == "unknown-field" })
        #expect(e.location.file == "sites/plant-b/overrides/flows/energy.yaml")
        #expect(e.location.line == 3)
    }

    @Test func fileRemovedThroughOverrideIsNotRendered() {
        var f = Fixture()
        f.files["sites/plant-b/overrides/components/broker.yaml"] = "files:\n  mosquitto/acl: null\n"
        let b = f.compile("plant-b")
        #expect(b.isValid)
        #expect(b.site.resource(at: "files/mosquitto/acl") == nil)
        #expect(b.site.resource(at: "files/mosquitto/mosquitto.conf") != nil)
    }

    @Test func layoutOrderAndKeyOrderDoNotChangeTheHash() throws {
        var f = Fixture()
        let before = f.compile("plant-a").site
        f.edit("components/broker.yaml", replacing: "persistence: true\n  max_connections: 100", with: "max_connections: 100\n  persistence: true")
        f.edit("flows/energy.yaml", replacing: "config: { host: \"${values.opcua_host}\", interval: 5s }\n    layout", with: "config: { interval: 5s, host: \"${values.opcua_host}\" }\n    layout")
        let after = f.compile("plant-a").site
        #expect(before.fingerprint == after.fingerprint)
        #expect(before.resources.map(\.contentHash) == after.resources.map(\.contentHash))
    }

    @Test func hashesAreStableAcrossRunsAndPinned() throws {
        let acl = try #require(Fixture().compile("plant-a").site.resource(at: "files/mosquitto/acl"))
        // sha256 of "topic read plant/plant-a/#", as `printf %s … | sha256sum` prints it.
        #expect(acl.contentHash == "sha256:ec81b823f68f324cfa52cc35c5c22834762489c3c0ae42c319c89944203f8822")
        let flow = try #require(Fixture().compile("plant-a").site.resource(at: "flows/energy"))
        #expect(String(decoding: flow.content, as: UTF8.self).hasPrefix("{\"bricks\":[{\"config\":{\"window\":\"15m\"},\"id\":\"aggregator\""))
    }

    @Test func changedValueChangesOnlyTheAffectedResources() {
        var f = Fixture()
        let before = Dictionary(uniqueKeysWithValues: f.compile("plant-a").site.resources.map { ($0.path, $0.contentHash) })
        f.edit("sites/plant-a/site.yaml", replacing: "opcua_host: 10.1.2.3", with: "opcua_host: 10.1.2.4")
        let after = Dictionary(uniqueKeysWithValues: f.compile("plant-a").site.resources.map { ($0.path, $0.contentHash) })
        let changed = Set(before.keys.filter { before[$0] != after[$0] })
        #expect(changed == ["files/mosquitto/settings.json", "flows/energy", "components/broker"])
    }

    @Test func interpolationEscapesAndPlainDollars() throws {
        let interpolator = Interpolator(scope: ["values": .object(["a": .int(1), "b": .object(["c": .string("x")])])], siteName: "s")
        #expect(try interpolator.interpolate("${values.a}") == .int(1))
        #expect(try interpolator.interpolate("n=${values.a}") == .string("n=1"))
        #expect(try interpolator.interpolate("${values.b.c}${values.a}") == .string("x1"))
        #expect(try interpolator.interpolate("$${values.a}") == .string("${values.a}"))
        #expect(try interpolator.interpolate("$SYS/broker/#") == .string("$SYS/broker/#"))
        #expect(try interpolator.interpolate("${values.b}") == .object(["c": .string("x")]))
        #expect(throws: Interpolator.Failure.self) { try interpolator.interpolate("${values.missing}") }
        #expect(throws: Interpolator.Failure.self) { try interpolator.interpolate("${values.a") }
        #expect(throws: Interpolator.Failure.self) { try interpolator.interpolate("${secrets.a}") }
    }
}
