import Foundation

/// Deterministic pseudo-random numbers (SplitMix64): the same seed gives the same repository bytes.
struct SeededRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
}

/// The shape of a generated desired-state repository.
struct DatasetShape: Sendable {
    var name: String
    var sites: Int
    /// Site-specific machine-cell components per site (each renders three files).
    var cellsPerSite: Int
    /// Cells of the flagship site `plant-0000` (about 4 files each: the "1,000-file site").
    var flagshipCells: Int
    /// Site-specific line flows per site (about 10 bricks each).
    var flowsPerSite: Int
    /// Overrides of shared components and flows per site.
    var overridesPerSite: Int
    /// Extra commits after the first, each touching one random file.
    var history: Int

    static func named(_ name: String) -> DatasetShape? {
        switch name {
        case "small": DatasetShape(name: name, sites: 2, cellsPerSite: 80, flagshipCells: 80, flowsPerSite: 30, overridesPerSite: 8, history: 20)
        case "medium": DatasetShape(name: name, sites: 100, cellsPerSite: 80, flagshipCells: 235, flowsPerSite: 30, overridesPerSite: 8, history: 200)
        case "large": DatasetShape(name: name, sites: 1000, cellsPerSite: 80, flagshipCells: 235, flowsPerSite: 30, overridesPerSite: 8, history: 200)
        default: nil
        }
    }
}

/// Writes a valid desired-state repository (format interlock/v1) as a `git fast-import` stream.
struct RepositoryGenerator {
    let shape: DatasetShape
    let seed: UInt64

    static let sharedComponents = [
        "mqtt-broker", "opcua-gateway", "historian", "edge-agent", "alarm-server", "mes-connector",
        "energy-dashboard", "vibration-monitor", "label-printer", "scada-gateway", "backup-agent", "log-shipper",
    ]
    static let sharedFlows = ["energy-monitoring", "predictive-maintenance", "quality-inspection", "oee-tracking", "shift-report", "tool-wear"]
    static let timezones = [
        "Europe/Berlin", "America/New_York", "Asia/Shanghai", "America/Chicago", "Europe/Paris", "Asia/Tokyo",
        "America/Sao_Paulo", "Europe/Warsaw", "Europe/London", "America/Mexico_City", "Europe/Madrid", "UTC",
    ]
    static let vendors = ["Siemens", "Rockwell", "Beckhoff", "Schneider Electric", "Mitsubishi", "Omron", "ABB", "Bosch Rexroth"]

    static func siteName(_ index: Int) -> String { String(format: "plant-%04d", index) }

    /// Every file of the first commit, path → bytes, in a deterministic order.
    func files() -> [(path: String, content: String)] {
        var random = SeededRandom(seed: seed)
        var out: [(String, String)] = []
        out.append(("README.md", "# Generated plant fleet (\(shape.name), seed \(seed))\n\nMade by interlock-bench generate.\n"))
        out.append(("interlock.yaml", repositoryConfig()))
        for (index, name) in Self.sharedComponents.enumerated() {
            out.append(("components/\(name).yaml", sharedComponent(name, index: index, random: &random)))
            out.append(("components/\(name)/main.conf", mainTemplate(name, random: &random)))
            out.append(("components/\(name)/logging.conf", loggingTemplate(name)))
        }
        for (index, name) in Self.sharedFlows.enumerated() {
            out.append(("flows/\(name).yaml", flow(name, bricks: 10 + index % 3, random: &random, siteSpecific: false)))
        }
        for siteIndex in 0..<shape.sites {
            let site = Self.siteName(siteIndex)
            let cells = siteIndex == 0 ? shape.flagshipCells : shape.cellsPerSite
            let overrides = pickOverrides(&random)
            out.append(("sites/\(site)/site.yaml", siteFile(siteIndex, cells: cells, random: &random)))
            for target in overrides {
                out.append(("sites/\(site)/overrides/\(target).yaml", override(target, random: &random)))
            }
            for cell in 1...cells {
                let name = "\(site)-cell-\(String(format: "%03d", cell))"
                out.append(("components/\(name).yaml", cellComponent(name, cell: cell, flagship: siteIndex == 0, random: &random)))
            }
            for line in 1...shape.flowsPerSite {
                let name = "\(site)-line-\(String(format: "%02d", line))"
                out.append(("flows/\(name).yaml", flow(name, bricks: 9 + line % 3, random: &random, siteSpecific: true)))
            }
        }
        return out
    }

    /// The overrides a site has: a seeded subset of shared components and flows.
    private func pickOverrides(_ random: inout SeededRandom) -> [String] {
        var all = Self.sharedComponents.map { "components/\($0)" } + Self.sharedFlows.map { "flows/\($0)" }
        var picked: [String] = []
        while picked.count < min(shape.overridesPerSite, all.count) {
            picked.append(all.remove(at: random.int(0...(all.count - 1))))
        }
        return picked.sorted()
    }

    private func repositoryConfig() -> String {
        var text = """
            # Interlock desired-state repository for a generated plant fleet.
            apiVersion: interlock/v1
            description: Generated fleet of \(shape.sites) plants for benchmarks.
            rollout:
              waves:

            """
        let pilot = min(2, shape.sites)
        text += "    - name: pilot\n      bake: 24h\n      sites: [\((0..<pilot).map(Self.siteName).joined(separator: ", "))]\n"
        if shape.sites > pilot {
            text += "    - name: fleet\n      sites:\n"
            for index in pilot..<shape.sites { text += "        - \(Self.siteName(index))\n" }
        }
        return text
    }

    private func siteFile(_ index: Int, cells: Int, random: inout SeededRandom) -> String {
        let name = Self.siteName(index)
        let tz = random.pick(Self.timezones)
        let net = "10.\(index / 250 + 20).\(index % 250)"
        let lines = random.int(2...6)
        var text = """
            # \(name): generated plant \(index).
            name: \(name)
            displayName: Plant \(index)
            description: >-
              Generated plant number \(index) with \(lines) production lines and \(cells) machine cells.
            timezone: \(tz)
            target:
              driver: files
              root: \(name)
            windows:
              - name: weekend
                start: "0 \(random.int(0...23)) * * SAT"
                duration: \(random.int(2...8))h
              - name: changeover
                start: "30 5 * * MON-FRI"
                duration: 45m
            freezes:
              - name: year-end
                from: 2026-12-\(random.int(18...22))
                to: 2027-01-0\(random.int(3...7))
                reason: Plant holiday shutdown.
            approval:
              required: 1
              approvers: [mgr-\(name), group:\(name)-managers]
            policy:
              - match: "components/*-dashboard"
                gate: window
              - match: "flows/*"
                gate: window
              - match: "*"
                gate: approval+window
            values:
              site_code: XX-\(String(format: "%04d", index))
              company: Example Manufacturing
              lines: \(lines)
              net: \(net)
              opcua: { host: \(net).15, port: 4840, namespace: \(random.int(2...5)) }
              mqtt: { host: mqtt.\(name).example.internal, port: \(random.pick([1883, 8883])), uplink: mqtt-hub.example.com }
              db: { host: \(net).30, name: \(name.replacingOccurrences(of: "-", with: "_"))_mes, pool: \(random.int(4...32)) }
              energy:
                currency: \(random.pick(["EUR", "USD", "CNY", "JPY"]))
                price_per_kwh: 0.\(random.int(100...299))
                peak_kw: \(random.int(800...5000))
              contacts:
                - { role: maintenance, email: maintenance@\(name).example.com }
                - { role: energy, email: energy@\(name).example.com }
            components:

            """
        for component in Self.sharedComponents { text += "  - \(component)\n" }
        for cell in 1...cells { text += "  - \(name)-cell-\(String(format: "%03d", cell))\n" }
        text += "flows:\n"
        for flow in Self.sharedFlows { text += "  - \(flow)\n" }
        for line in 1...shape.flowsPerSite { text += "  - \(name)-line-\(String(format: "%02d", line))\n" }
        return text
    }

    private func sharedComponent(_ name: String, index: Int, random: inout SeededRandom) -> String {
        """
        # Shared component \(name), run by every plant.
        name: \(name)
        vendor: \(Self.vendors[index % Self.vendors.count])
        product: \(name.split(separator: "-").map { $0.capitalized }.joined(separator: " "))
        version: "\(random.int(1...9)).\(random.int(0...20)).\(random.int(0...9))"
        description: >-
          \(name) as deployed at every plant of the fleet; site values fill in hosts, ports and codes.
        config:
          listen_port: \(9000 + index)
          site_code: ${values.site_code}
          database:
            host: ${values.db.host}
            name: ${values.db.name}
            pool: ${values.db.pool}
          mqtt:
            host: ${values.mqtt.host}
            port: ${values.mqtt.port}
            topics: ["plant/${site.name}/\(name)/status", "plant/${site.name}/\(name)/events"]
          retention_days: \(random.int(7...400))
          features:
            tracing: \(random.chance(50))
            metrics: true
            compression: \(random.pick(["zstd", "gzip", "none"]))
        files:
          - path: \(name)/main.conf
            template: main.conf
          - path: \(name)/logging.conf
            template: logging.conf
          - path: \(name)/settings.json
            json:
              site: ${site.name}
              code: ${values.site_code}
              port: ${config.listen_port}
              energy: ${values.energy}
              owners: [ot-\(name), it-\(name)]
          - path: \(name)/acl
            mode: "0640"
            content: |
              # ACL for \(name) at ${site.displayName} (${values.site_code}); managed by Interlock.
              user \(name)
              topic read plant/${site.name}/#
              topic write plant/${site.name}/\(name)/#
        reload:
          command: [systemctl, reload, \(name)]
          timeout: 30s

        """
    }

    private func mainTemplate(_ name: String, random: inout SeededRandom) -> String {
        var text = "# \(name) for ${site.displayName} (${values.site_code}), version ${component.version}\n"
        text += "listen ${config.listen_port}\nsite ${site.name}\ntimezone ${site.timezone}\n"
        text += "database ${config.database.host}/${config.database.name} pool=${config.database.pool}\n"
        text += "mqtt ${config.mqtt.host}:${config.mqtt.port}\nretention ${config.retention_days}d\n"
        for block in 0..<12 {
            text += "\n[section-\(block)]\n"
            for key in 0..<4 { text += "option_\(block)_\(key) = \(random.int(0...100_000))\n" }
        }
        return text
    }

    private func loggingTemplate(_ name: String) -> String {
        "# logging for \(name) at ${site.name}\nlevel info\nfile /var/log/\(name)/\(name).log\nrotate daily\nkeep 14\ncompress true\n"
    }

    private func cellComponent(_ name: String, cell: Int, flagship: Bool, random: inout SeededRandom) -> String {
        var text = """
            # Machine cell \(cell): PLC connection, tags and alarms.
            name: \(name)
            vendor: \(random.pick(Self.vendors))
            product: Cell controller
            version: "\(random.int(1...5)).\(random.int(0...12)).\(random.int(0...30))"
            config:
              line: \(random.int(1...6))
              plc:
                host: ${values.net}.\(100 + cell % 150)
                rack: 0
                slot: \(random.int(1...3))
                protocol: \(random.pick(["s7", "ethernet-ip", "modbus-tcp", "opc-ua"]))
                scan_ms: \(random.pick([100, 250, 500, 1000]))
              tags:

            """
        for tag in 0..<8 {
            text += "    - { name: tag_\(tag), address: DB\(random.int(1...99)).DBD\(tag * 4), type: \(random.pick(["real", "int", "bool", "dint"])), scan: \(random.pick(["1s", "5s", "10s"])) }\n"
        }
        text += """
              alarms:
                temperature: { warn: \(random.int(50...70)), trip: \(random.int(80...95)) }
                vibration: { warn: \(random.int(2...5)).\(random.int(0...9)), trip: \(random.int(6...12)).0 }
            files:
              - path: cells/cell-\(cell)/cell.json
                json:
                  cell: \(cell)
                  site: ${site.name}
                  plc: ${config.plc}
                  alarms: ${config.alarms}
              - path: cells/cell-\(cell)/tags.csv
                content: |
                  name,address,type,scan
                  tag_0,DB1.DBD0,real,1s
                  tag_1,DB1.DBD4,int,5s
              - path: cells/cell-\(cell)/connection.conf
                content: |
                  # ${site.name} cell \(cell)
                  host ${config.plc.host}
                  protocol ${config.plc.protocol}
                  scan ${config.plc.scan_ms}

            """
        if flagship {
            text += """
                  - path: cells/cell-\(cell)/recipe.conf
                    content: |
                      # recipe parameters for cell \(cell) at ${values.site_code}
                      feed \(random.int(100...900))
                      speed \(random.int(1000...9000))

                """
        }
        return text
    }

    private func flow(_ name: String, bricks: Int, random: inout SeededRandom, siteSpecific: Bool) -> String {
        let types = ["modbus-tcp-reader", "opcua-reader", "window-aggregator", "threshold-alert", "mqtt-publisher", "timescaledb-writer", "anomaly-detector", "unit-converter"]
        var text = """
            # Flow \(name): readers → processing → sinks.
            name: \(name)
            description: Generated flow with \(bricks) bricks.
            bricks:

            """
        for brick in 0..<bricks {
            text += """
                  - id: b\(brick)
                    type: \(random.pick(types))
                    version: "\(random.int(1...3)).\(random.int(0...9)).\(random.int(0...9))"
                    config:
                      host: "${values.net}.\(random.int(2...250))"
                      interval: \(random.pick(["1s", "5s", "15s", "1m"]))
                      labels: { line: line-\(random.int(1...6)), site: "${site.name}" }
                      thresholds: [\(random.int(1...50)), \(random.int(51...100)), \(random.int(101...200))]
                    layout: { x: \(80 + 120 * brick), y: \(random.int(40...400)) }

                """
        }
        text += "connections:\n"
        for brick in 1..<bricks { text += "  - { from: b\(brick - 1), to: b\(brick) }\n" }
        if bricks > 4 { text += "  - { from: b0, to: b\(bricks - 1) }\n" }
        return text
    }

    private func override(_ target: String, random: inout SeededRandom) -> String {
        if target.hasPrefix("components/") {
            return """
                # Site-specific settings for \(target).
                config:
                  retention_days: \(random.int(7...90))
                  features:
                    compression: \(random.pick(["zstd", "gzip"]))
                    debug: \(random.chance(20))

                """
        }
        return """
            # Site-specific tuning of \(target).
            bricks:
              b1:
                config:
                  interval: \(random.pick(["2s", "10s", "30s"]))
              b2:
                config:
                  thresholds: [\(random.int(1...50)), \(random.int(51...100))]

            """
    }

    /// One later commit: a seeded small edit of one site value, override or cell file.
    func historyEdit(_ step: Int, files: inout [String: String]) -> (path: String, content: String) {
        var random = SeededRandom(seed: seed &+ UInt64(step) &* 7919)
        let site = Self.siteName(random.int(0...(shape.sites - 1)))
        let path = "components/\(site)-cell-\(String(format: "%03d", random.int(1...shape.cellsPerSite))).yaml"
        let old = files[path] ?? ""
        let kept = old.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("    revision: ") }
        let edited = kept.joined(separator: "\n").replacingOccurrences(of: "    rack: 0\n", with: "    rack: 0\n    revision: \(step)\n")
        files[path] = edited
        return (path, edited)
    }

    /// The whole history as a `git fast-import` stream with fixed dates (so commit ids are reproducible).
    func fastImportStream(to handle: FileHandle) {
        let initial = files()
        var current: [String: String] = [:]
        var buffer = Data()
        func flush(force: Bool = false) {
            if force || buffer.count > 4 << 20 { handle.write(buffer); buffer.removeAll(keepingCapacity: true) }
        }
        func emit(_ text: String) { buffer.append(contentsOf: Array(text.utf8)) }
        func data(_ text: String) {
            let bytes = Array(text.utf8)
            emit("data \(bytes.count)\n")
            buffer.append(contentsOf: bytes)
            emit("\n")
        }
        let start = 1_780_000_000
        emit("commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> \(start) +0000\n")
        data("Generated \(shape.name) fleet (seed \(seed))")
        for file in initial {
            current[file.path] = file.content
            emit("M 100644 inline \(file.path)\n")
            data(file.content)
            flush()
        }
        for step in 1...max(1, shape.history) where shape.history > 0 {
            let edit = historyEdit(step, files: &current)
            emit("commit refs/heads/main\nmark :\(step + 1)\ncommitter Bench <bench@example.com> \(start + step * 60) +0000\n")
            data("Tune \(edit.path) (step \(step))")
            emit("from :\(step)\nM 100644 inline \(edit.path)\n")
            data(edit.content)
            flush()
        }
        flush(force: true)
    }
}
