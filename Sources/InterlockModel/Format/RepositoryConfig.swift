/// `interlock.yaml`: the repository-level settings — format version and rollout waves.
public struct RepositoryConfig: Sendable, Hashable {
    public static let fileName = "interlock.yaml"
    public static let supportedAPIVersion = "interlock/v1"

    public var apiVersion: String
    public var description: String?
    /// Ordered rollout waves. When the file declares none, every site forms one implicit wave `all`.
    public var waves: [RolloutWave]
    /// Whether `rollout.waves` was written (false: the implicit single wave is used).
    public var wavesDeclared: Bool

    public init(apiVersion: String = supportedAPIVersion, description: String? = nil, waves: [RolloutWave] = [], wavesDeclared: Bool = false) {
        self.apiVersion = apiVersion
        self.description = description
        self.waves = waves
        self.wavesDeclared = wavesDeclared
    }

    /// The wave a site belongs to, if any.
    public func wave(of site: String) -> RolloutWave? { waves.first { $0.sites.contains(site) } }
}

/// One step of a rollout: its sites receive a commit only after every earlier wave applied it and baked.
public struct RolloutWave: Sendable, Hashable {
    public var name: String
    public var sites: [String]
    public var bake: TimeSpan?
    public var description: String?
    public var location: SourceLocation

    public init(name: String, sites: [String], bake: TimeSpan? = nil, description: String? = nil, location: SourceLocation) {
        self.name = name
        self.sites = sites
        self.bake = bake
        self.description = description
        self.location = location
    }
}

extension RepositoryConfig {
    /// Reads `interlock.yaml`; site names are checked later, once all sites are known.
    static func read(_ node: YAMLNode, reader: FieldReader) -> RepositoryConfig {
        var config = RepositoryConfig()
        let what = "interlock.yaml"
        guard let fields = reader.mapping(node, path: "", allowed: ["apiVersion", "description", "rollout"], what: what)
        else { return config }
        if let version = reader.string(fields, "apiVersion", required: true, what: what, hint: "add 'apiVersion: \(supportedAPIVersion)'") {
            config.apiVersion = version
            if version != supportedAPIVersion {
                reader.diagnostics.error(
                    "unsupported-api-version", at: fields["apiVersion"]!.location, field: "apiVersion",
                    "apiVersion '\(version)' is not supported by this version of Interlock",
                    hint: "use 'apiVersion: \(supportedAPIVersion)'")
            }
        }
        config.description = reader.string(fields, "description", what: what)
        guard let rolloutNode = fields["rollout"], !rolloutNode.isNull,
              let rollout = reader.mapping(rolloutNode, path: "rollout", allowed: ["waves"], what: "the rollout section")
        else { return config }
        config.wavesDeclared = rollout["waves"] != nil
        var seen: [String: SourceLocation] = [:]
        for (index, waveNode) in reader.list(rollout, "waves", what: "the rollout section").enumerated() {
            let path = "rollout.waves[\(index)]"
            guard let wave = reader.mapping(waveNode, path: path, allowed: ["name", "sites", "bake", "description"], what: "a wave")
            else { continue }
            let name = reader.string(wave, "name", required: true, what: "a wave", hint: "name the wave, e.g. 'name: pilot'") ?? "wave-\(index + 1)"
            if wave["name"] != nil {
                Site.checkIdentifier(name, at: wave["name"]!.location, field: "\(path).name", what: "wave name", reader: reader)
            }
            if let first = seen[name] {
                reader.diagnostics.error(
                    "duplicate-wave", at: waveNode.location, field: "\(path).name",
                    "the wave name '\(name)' is used twice (first at line \(first.line ?? 0))", hint: "give each wave its own name")
            }
            seen[name] = waveNode.location
            let sites = reader.stringList(wave, "sites", required: true, what: "wave '\(name)'", hint: "list the sites of this wave, e.g. 'sites: [plant-a]'")
            if wave["sites"] != nil, sites.isEmpty {
                reader.diagnostics.error(
                    "empty-wave", at: waveNode.location, field: "\(path).sites", "wave '\(name)' has no sites",
                    hint: "list at least one site or remove the wave")
            }
            config.waves.append(RolloutWave(
                name: name, sites: sites.map(\.0), bake: reader.duration(wave, "bake", what: "wave '\(name)'"),
                description: reader.string(wave, "description", what: "a wave"), location: waveNode.location))
        }
        return config
    }
}
