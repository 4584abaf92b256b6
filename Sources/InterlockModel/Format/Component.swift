/// A piece of vendor software at a site (an Ignition gateway, a Mosquitto broker, a Litmus Edge device):
/// what it is, its structured configuration, the files it renders, and how to reload and health-check it.
/// This is the definition after a site's override and values have been applied.
public struct Component: Sendable, Hashable {
    public var name: String
    public var vendor: String
    public var product: String
    public var version: String
    public var description: String?
    /// Who is accountable for it (optional).
    public var owner: Ownership?
    /// The lines, assets and areas it touches (optional).
    public var affects: Affects?
    /// Structured configuration (an object), after interpolation.
    public var config: Value
    public var files: [ComponentFile]
    public var reload: CommandSpec?
    public var health: CommandSpec?
}

/// A file a component renders into the site's target.
public struct ComponentFile: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        /// A template file under `components/<name>/`, path relative to that directory.
        case template(String)
        case content(String)
        /// A structured value rendered as pretty JSON with sorted keys.
        case json(Value)
    }

    /// Relative path inside the target root.
    public var path: String
    public var source: Source
    /// Unix permission bits, default `0o644`.
    public var mode: UInt32
    public var location: SourceLocation
}

extension Component {
    static let fields = ["name", "vendor", "product", "version", "description", "owner", "affects", "config", "files", "reload", "health"]

    /// Reads a (merged, interpolated) component definition. `config` is passed in already interpolated.
    static func read(_ node: YAMLNode, expectedName: String, config: Value, reader: FieldReader) -> Component? {
        let what = "component '\(expectedName)'"
        guard let fields = reader.mapping(node, path: "", allowed: fields, what: what) else { return nil }
        let name = reader.string(fields, "name", required: true, what: what, hint: "add 'name: \(expectedName)'") ?? expectedName
        if name != expectedName {
            reader.diagnostics.error(
                "component-name-mismatch", at: fields["name"]?.location ?? node.location, field: "name",
                "the component is named '\(name)' but its file is components/\(expectedName).yaml",
                hint: "make 'name' equal the file name '\(expectedName)'")
        }
        let vendor = reader.string(fields, "vendor", required: true, what: what, hint: "add 'vendor: <software maker>'")
        let product = reader.string(fields, "product", required: true, what: what, hint: "add 'product: <product name>'")
        let version = reader.string(fields, "version", required: true, what: what, hint: "add 'version: \"1.2.3\"'", acceptScalars: true)
        if fields["config"] != nil { _ = reader.freeMap(fields, "config") }

        var files: [ComponentFile] = []
        var seenPaths: [String: SourceLocation] = [:]
        for (index, fileNode) in reader.list(fields, "files", what: what).enumerated() {
            let path = "files[\(index)]"
            guard let file = reader.mapping(fileNode, path: path, allowed: ["path", "template", "content", "json", "mode"], what: "a component file")
            else { continue }
            guard let filePath = reader.string(file, "path", required: true, what: "a component file", hint: "add 'path: <relative path in the target>'")
            else { continue }
            if let problem = TargetPath.problem(with: filePath) {
                reader.diagnostics.error(
                    "path-escapes-root", at: file["path"]!.location, field: "\(path).path", "'\(filePath)' \(problem)",
                    hint: "use a relative path inside the site's target root, e.g. mosquitto/mosquitto.conf")
                continue
            }
            if let first = seenPaths[filePath] {
                reader.diagnostics.error(
                    "duplicate-file", at: file["path"]!.location, field: "\(path).path",
                    "'\(filePath)' is rendered twice by this component (first at line \(first.line ?? 0))", hint: "render each path once")
                continue
            }
            seenPaths[filePath] = file["path"]!.location
            let given = ["template", "content", "json"].filter { file[$0] != nil }
            guard given.count == 1 else {
                reader.diagnostics.error(
                    "file-source", at: fileNode.location, field: path,
                    given.isEmpty ? "the file '\(filePath)' has no content" : "the file '\(filePath)' sets \(given.joined(separator: " and ")) — only one is allowed",
                    hint: "give exactly one of 'template' (a file under components/\(expectedName)/), 'content' (inline text) or 'json' (structured data)")
                continue
            }
            let source: ComponentFile.Source
            switch given[0] {
            case "template":
                guard let template = reader.string(file, "template", what: "a component file") else { continue }
                if let problem = TargetPath.problem(with: template) {
                    reader.diagnostics.error(
                        "path-escapes-root", at: file["template"]!.location, field: "\(path).template", "'\(template)' \(problem)",
                        hint: "name a file under components/\(expectedName)/ by its relative path")
                    continue
                }
                source = .template(template)
            case "content":
                guard let content = reader.string(file, "content", what: "a component file", acceptScalars: true) else { continue }
                source = .content(content)
            default:
                source = .json(file["json"]!.value)
            }
            var mode: UInt32 = 0o644
            if let modeNode = file["mode"], let text = reader.string(modeNode, field: "\(path).mode", acceptScalars: true) {
                if let parsed = UInt32(text.hasPrefix("0o") ? String(text.dropFirst(2)) : text, radix: 8), parsed <= 0o7777 {
                    mode = parsed
                } else {
                    reader.diagnostics.error(
                        "bad-mode", at: modeNode.location, field: "\(path).mode", "'\(text)' is not an octal file mode",
                        hint: "write the mode in quotes, e.g. mode: \"0640\"")
                }
            }
            files.append(ComponentFile(path: filePath, source: source, mode: mode, location: fileNode.location))
        }

        func command(_ key: String) -> CommandSpec? {
            guard let node = fields[key], !node.isNull,
                  let sub = reader.mapping(node, path: key, allowed: ["command", "timeout"], what: "the \(key) command")
            else { return nil }
            return Site.readCommand(sub, reader: reader, what: "the \(key) command", required: true)
        }
        let reload = command("reload"), health = command("health")
        let owner = fields["owner"].flatMap { $0.isNull ? nil : Ownership.read($0, field: "owner", what: what, reader: reader) }
        let affects = fields["affects"].flatMap { $0.isNull ? nil : Affects.read($0, field: "affects", what: what, reader: reader) }
        guard let vendor, let product, let version else { return nil }
        return Component(
            name: name, vendor: vendor, product: product, version: version,
            description: reader.string(fields, "description", what: what), owner: owner, affects: affects, config: config, files: files,
            reload: reload, health: health)
    }
}

/// Rules for paths written into a site's target root.
public enum TargetPath {
    /// Directory inside every target root that Interlock keeps for itself.
    public static let reservedDirectory = ".interlock"

    /// Why a relative path is not acceptable inside a target root, or nil when it is.
    public static func problem(with path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.hasPrefix("/") { return "is an absolute path; it would escape the site's target root" }
        // One pass over the bytes (every rendered file of every site is checked): the checks above and below keep
        // their order of precedence, so the first problem found is the one reported.
        var hasBackslash = false, hasNUL = false, hasDotDot = false, hasEmptyOrDot = false
        var segmentStart = 0, index = 0, firstSegmentEnd = -1
        let bytes = path.utf8
        func closeSegment(at end: Int) {
            let length = end - segmentStart
            if firstSegmentEnd < 0 { firstSegmentEnd = end }
            if length == 0 { hasEmptyOrDot = true; return }
            guard length <= 2, bytes.dropFirst(segmentStart).prefix(length).allSatisfy({ $0 == UInt8(ascii: ".") }) else { return }
            if length == 2 { hasDotDot = true } else { hasEmptyOrDot = true }
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): hasBackslash = true
            case 0: hasNUL = true
            case UInt8(ascii: "/"):
                closeSegment(at: index)
                segmentStart = index + 1
            default: break
            }
            index += 1
        }
        closeSegment(at: index)
        if hasBackslash { return "contains a backslash; use '/' between directories" }
        if hasNUL { return "contains a NUL byte" }
        if hasDotDot { return "contains '..'; it would escape the site's target root" }
        if hasEmptyOrDot { return "contains an empty or '.' path segment" }
        if bytes.prefix(firstSegmentEnd).elementsEqual(reservedDirectory.utf8) {
            return "is inside \(reservedDirectory)/, which Interlock keeps for itself"
        }
        return nil
    }
}
