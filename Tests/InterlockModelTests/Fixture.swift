import Foundation
import InterlockGit
import Testing
@testable import InterlockModel

/// A small, valid desired-state repository held as text, which tests change one file at a time.
struct Fixture {
    var files: [String: String] = [
        "interlock.yaml": """
            apiVersion: interlock/v1
            rollout:
              waves:
                - name: pilot
                  sites: [plant-a]
                  bake: 24h
                - name: fleet
                  sites: [plant-b]
            """,
        "sites/plant-a/site.yaml": """
            name: plant-a
            displayName: Plant A
            timezone: Europe/Berlin
            target: { driver: files, root: plant-a }
            windows:
              - { name: weekend, start: "0 22 * * SAT", duration: 6h }
            freezes:
              - { name: year-end, from: 2026-12-20, to: 2027-01-06 }
            approval: { required: 1, approvers: [mgr-a, group:managers-a] }
            policy:
              - { match: "flows/*", gate: window }
              - { match: "*", gate: approval+window }
            values:
              opcua_host: 10.1.2.3
              lines: 4
              broker: { port: 1883 }
            components: [broker]
            flows: [energy]
            """,
        "sites/plant-b/site.yaml": """
            name: plant-b
            timezone: America/New_York
            target: { driver: files, root: plant-b }
            values:
              opcua_host: 10.4.0.9
              lines: 3
              broker: { port: 8883 }
            approval: { required: 1, approvers: [mgr-b] }
            components: [broker]
            flows: [energy]
            """,
        "components/broker.yaml": """
            name: broker
            vendor: Eclipse Foundation
            product: Mosquitto
            version: "2.0.11"
            config:
              port: ${values.broker.port}
              persistence: true
              max_connections: 100
              retained: { enabled: true, limit: 5 }
            files:
              - path: mosquitto/mosquitto.conf
                template: mosquitto.conf
              - path: mosquitto/acl
                content: "topic read plant/${site.name}/#"
                mode: "0640"
              - path: mosquitto/settings.json
                json: { lines: "${values.lines}", host: "opc.tcp://${values.opcua_host}:4840" }
            reload: { command: [systemctl, reload, mosquitto], timeout: 30s }
            """,
        "components/broker/mosquitto.conf": """
            listener ${config.port}
            persistence ${config.persistence}
            max_connections ${config.max_connections}
            # literal: $${not.interpolated}
            """,
        "flows/energy.yaml": """
            name: energy
            bricks:
              - id: meter-1
                type: modbus-tcp-reader
                version: 1.4.0
                config: { host: "${values.opcua_host}", interval: 5s }
                layout: { x: 10, y: 20 }
              - id: meter-2
                type: modbus-tcp-reader
                version: 1.4.0
                config: { host: "${values.opcua_host}", interval: 5s }
              - id: aggregator
                type: window-aggregate
                version: "2.1"
                inputs: [in]
                outputs: [out, late]
                config: { window: 15m }
              - id: dashboard
                type: dashboard-sink
                version: 1.0.0
                outputs: []
            connections:
              - { from: meter-1.out, to: aggregator.in }
              - { from: meter-2, to: aggregator }
              - { from: aggregator.out, to: dashboard.in }
            """,
        "sites/plant-b/overrides/flows/energy.yaml": """
            bricks:
              meter-2: null
              aggregator:
                config: { window: 5m }
            connections:
              - { from: meter-1.out, to: aggregator.in }
              - { from: aggregator.out, to: dashboard.in }
            """,
        "sites/plant-b/overrides/components/broker.yaml": """
            config:
              max_connections: 250
              retained: null
            """,
    ]

    var snapshot: Snapshot {
        Snapshot(files: files.mapValues { _ in Snapshot.File(rawPath: [], blobID: nil, mode: 0o100644, content: Data()) }
            .reduce(into: [:]) { result, entry in
                result[entry.key] = Snapshot.File(
                    rawPath: Array(entry.key.utf8), blobID: nil, mode: 0o100644, content: Data(files[entry.key]!.utf8))
            })
    }

    /// Validates the fixture and returns its diagnostics (errors and warnings). Every call also checks that
    /// working site by site (`DesiredStateOutline`) reports exactly the same problems as loading everything at once.
    func validate() -> [Diagnostic] {
        let whole = DesiredState.validate(snapshot)
        do {
            let bySite = try DesiredStateOutline(snapshot).validate()
            #expect(bySite.diagnostics == whole.diagnostics, "the outline's validation differs from the full load's")
            #expect(bySite.sites.map(\.name) == whole.sites.map(\.site.name))
            #expect(bySite.sites.map(\.fingerprint) == whole.sites.map(\.fingerprint))
        } catch {
            Issue.record("the outline could not validate: \(error)")
        }
        return whole.diagnostics
    }

    func errors() -> [Diagnostic] { validate().filter { $0.severity == .error } }

    /// Compiles a site of the fixture, checking that the outline compiles it to the same resources.
    func compile(_ site: String) -> DesiredState.Compilation {
        let compilation = DesiredState.load(from: snapshot).state.compile(siteNamed: site)!
        let outline = DesiredStateOutline(snapshot)
        if let outlined = outline.site(named: site) {
            let bySite = try? outline.compile(outlined)
            #expect(bySite?.site == compilation.site, "the outline compiles \(site) differently")
            #expect(Set(compilation.diagnostics).isSubset(of: Set(bySite?.diagnostics ?? [])))
        }
        return compilation
    }

    /// Replaces `old` with `new` in `file`; fails loudly if `old` is not there, so tests cannot silently pass.
    mutating func edit(_ file: String, replacing old: String, with new: String) {
        guard let text = files[file], text.contains(old) else {
            fatalError("fixture file \(file) does not contain \(old)")
        }
        files[file] = text.replacingOccurrences(of: old, with: new)
    }
}
