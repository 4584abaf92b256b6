/// A Titan-style flow: a network of bricks, each integrating exactly one system, joined by connections
/// from an output port of one brick to an input port of another.
public struct Flow: Sendable, Hashable {
    public var name: String
    public var description: String?
    public var bricks: [Brick]
    public var connections: [Connection]
}

/// One brick of a flow.
public struct Brick: Sendable, Hashable {
    public static let defaultInputs = ["in"]
    public static let defaultOutputs = ["out"]

    public var id: String
    public var type: String
    public var version: String
    public var description: String?
    /// The lines, assets and areas it touches (optional).
    public var affects: Affects?
    public var inputs: [String]
    public var outputs: [String]
    public var allowSelfConnection: Bool
    /// Structured parameters (an object), after interpolation.
    public var config: Value
    /// Editor layout (`x`, `y`, …); carries no behaviour.
    public var layout: Value?
    public var location: SourceLocation
}

/// A wire from `from` (brick output port) to `to` (brick input port).
public struct Connection: Sendable, Hashable, CustomStringConvertible {
    public var from: Endpoint
    public var to: Endpoint
    public var location: SourceLocation

    public var description: String { "\(from) → \(to)" }

    public struct Endpoint: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var brick: String
        public var port: String
        public var description: String { "\(brick).\(port)" }
        public static func < (a: Endpoint, b: Endpoint) -> Bool { (a.brick, a.port) < (b.brick, b.port) }
    }
}

extension Flow {
    static let fields = ["name", "description", "bricks", "connections"]
    static let brickFields = ["id", "type", "version", "description", "affects", "inputs", "outputs", "allowSelfConnection", "config", "layout"]

    /// Reads and checks a (merged, interpolated) flow: brick ids, ports and connections.
    static func read(_ node: YAMLNode, expectedName: String, reader: FieldReader) -> Flow? {
        let what = "flow '\(expectedName)'"
        guard let fields = reader.mapping(node, path: "", allowed: fields, what: what) else { return nil }
        let name = reader.string(fields, "name", required: true, what: what, hint: "add 'name: \(expectedName)'") ?? expectedName
        if name != expectedName {
            reader.diagnostics.error(
                "flow-name-mismatch", at: fields["name"]?.location ?? node.location, field: "name",
                "the flow is named '\(name)' but its file is flows/\(expectedName).yaml", hint: "make 'name' equal the file name '\(expectedName)'")
        }
        var bricks: [Brick] = []
        var byID: [String: Brick] = [:]
        let brickNodes = reader.list(fields, "bricks", required: true, what: what, hint: "add a 'bricks:' list")
        if fields["bricks"] != nil, brickNodes.isEmpty {
            reader.diagnostics.error("empty-flow", at: fields["bricks"]!.location, field: "bricks", "the flow has no bricks", hint: "add at least one brick")
        }
        for (index, brickNode) in brickNodes.enumerated() {
            let path = "bricks[\(index)]"
            guard let brick = readBrick(brickNode, path: path, reader: reader) else { continue }
            if let first = byID[brick.id] {
                reader.diagnostics.error(
                    "duplicate-brick", at: brickNode["id"]?.location ?? brickNode.location, field: "\(path).id",
                    "the brick id '\(brick.id)' is used twice in this flow (first at line \(first.location.line ?? 0))",
                    hint: "give every brick a unique id")
                continue
            }
            byID[brick.id] = brick
            bricks.append(brick)
        }

        var connections: [Connection] = []
        var seen = Set<[String]>()
        for (index, connectionNode) in reader.list(fields, "connections", what: what).enumerated() {
            let path = "connections[\(index)]"
            guard let connection = reader.mapping(connectionNode, path: path, allowed: ["from", "to"], what: "a connection") else { continue }
            let fromText = reader.string(connection, "from", required: true, what: "a connection", hint: "add 'from: <brick>.<output port>'")
            let toText = reader.string(connection, "to", required: true, what: "a connection", hint: "add 'to: <brick>.<input port>'")
            guard let fromText, let toText else { continue }
            let from = endpoint(fromText, output: true, bricks: byID, at: connection["from"]!.location, field: "\(path).from", reader: reader)
            let to = endpoint(toText, output: false, bricks: byID, at: connection["to"]!.location, field: "\(path).to", reader: reader)
            guard let from, let to else { continue }
            if from.brick == to.brick, !(byID[from.brick]?.allowSelfConnection ?? false) {
                reader.diagnostics.error(
                    "self-connection", at: connectionNode.location, field: path,
                    "brick '\(from.brick)' is connected to itself (\(from) → \(to))",
                    hint: "connect it to another brick, or set 'allowSelfConnection: true' on the brick if the loop is intended")
                continue
            }
            if !seen.insert([from.brick, from.port, to.brick, to.port]).inserted {
                reader.diagnostics.error("duplicate-connection", at: connectionNode.location, field: path, "the connection \(from) → \(to) is listed twice", hint: "remove one")
                continue
            }
            connections.append(Connection(from: from, to: to, location: connectionNode.location))
        }
        return Flow(name: name, description: reader.string(fields, "description", what: what), bricks: bricks, connections: connections)
    }

    private static func readBrick(_ node: YAMLNode, path: String, reader: FieldReader) -> Brick? {
        let what = "a brick"
        guard let fields = reader.mapping(node, path: path, allowed: brickFields, what: what) else { return nil }
        guard let id = reader.string(fields, "id", required: true, what: what, hint: "add 'id: <unique name>'", acceptScalars: true) else { return nil }
        let validID = !id.isEmpty && id.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
        }
        if !validID {
            reader.diagnostics.error(
                "bad-brick-id", at: fields["id"]!.location, field: "\(path).id", "'\(id)' is not a valid brick id",
                hint: "use letters, digits, '-' and '_' (no dots: a dot separates brick and port in connections)")
        }
        let type = reader.string(fields, "type", required: true, what: "brick '\(id)'", hint: "add the brick type, e.g. 'type: modbus-tcp-reader'")
        let version = reader.string(fields, "version", required: true, what: "brick '\(id)'", hint: "add 'version: \"1.0.0\"'", acceptScalars: true)
        func ports(_ key: String, default defaults: [String]) -> [String] {
            guard fields[key] != nil else { return defaults }
            var names: [String] = []
            for (port, location) in reader.stringList(fields, key, what: "brick '\(id)'") {
                if port.isEmpty || port.contains(".") {
                    reader.diagnostics.error("bad-port", at: location, field: "\(path).\(key)", "'\(port)' is not a valid port name", hint: "use a name without dots")
                } else if names.contains(port) {
                    reader.diagnostics.error("duplicate-port", at: location, field: "\(path).\(key)", "the port '\(port)' is listed twice", hint: "list each port once")
                } else {
                    names.append(port)
                }
            }
            return names
        }
        let inputs = ports("inputs", default: Brick.defaultInputs)
        let outputs = ports("outputs", default: Brick.defaultOutputs)
        let config = reader.freeMap(fields, "config")?.value ?? .object([:])
        let layout = reader.freeMap(fields, "layout")?.value
        let affects = fields["affects"].flatMap { $0.isNull ? nil : Affects.read($0, field: "\(path).affects", what: "brick '\(id)'", reader: reader) }
        guard let type, let version, validID else { return nil }
        return Brick(
            id: id, type: type, version: version, description: reader.string(fields, "description", what: what), affects: affects,
            inputs: inputs, outputs: outputs, allowSelfConnection: reader.bool(fields, "allowSelfConnection") ?? false,
            config: config, layout: layout, location: node.location)
    }

    private static func endpoint(
        _ text: String, output: Bool, bricks: [String: Brick], at location: SourceLocation, field: String, reader: FieldReader
    ) -> Connection.Endpoint? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let brickID = parts[0]
        let direction = output ? "output" : "input"
        guard let brick = bricks[brickID] else {
            var hint = "known bricks: \(bricks.keys.sorted().joined(separator: ", "))"
            if let guess = Spelling.closest(to: brickID, in: Array(bricks.keys)) { hint = "did you mean '\(guess)'? (\(hint))" }
            reader.diagnostics.error("unknown-brick", at: location, field: field, "the connection names an unknown brick '\(brickID)'", hint: hint)
            return nil
        }
        let available = output ? brick.outputs : brick.inputs
        guard parts.count == 2 else {
            guard let first = available.first else {
                reader.diagnostics.error(
                    "unknown-port", at: location, field: field, "brick '\(brickID)' has no \(direction) port",
                    hint: "connect a brick that has \(direction)s, or declare '\(output ? "outputs" : "inputs")' on '\(brickID)'")
                return nil
            }
            return Connection.Endpoint(brick: brickID, port: first)
        }
        guard available.contains(parts[1]) else {
            let list = available.isEmpty ? "none" : available.joined(separator: ", ")
            reader.diagnostics.error(
                "unknown-port", at: location, field: field, "brick '\(brickID)' has no \(direction) port '\(parts[1])'",
                hint: "its \(direction) ports are: \(list)")
            return nil
        }
        return Connection.Endpoint(brick: brickID, port: parts[1])
    }
}
