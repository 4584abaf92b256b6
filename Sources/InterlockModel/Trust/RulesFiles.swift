import Foundation

/// The two files that define a site's gates — `sites/<name>/site.yaml` and `interlock.yaml` — as bytes, and
/// what they say. Interlock keeps these files as they were when a change was last applied at a site: the rules
/// a later change waits for come from them, not only from the commit that is being gated.
public struct RulesFiles: Sendable, Hashable {
    /// The bytes of `sites/<name>/site.yaml`.
    public var siteFile: Data
    /// The bytes of `interlock.yaml` (nil when the repository had none).
    public var configFile: Data?

    public init(siteFile: Data, configFile: Data?) {
        self.siteFile = siteFile
        self.configFile = configFile
    }

    /// The files of `site` in a desired state (nil when the site file is not loaded, e.g. a hand-built state).
    public init?(site: String, in state: DesiredState) {
        guard let siteFile = state.snapshot.content(at: "sites/\(site)/site.yaml") else { return nil }
        self.init(siteFile: siteFile, configFile: state.snapshot.content(at: RepositoryConfig.fileName))
    }

    /// The site and repository configuration the files describe. The site's components and flows are not
    /// checked against definitions (only its gates and target are used); a file that does not parse gives nil.
    public func read(site name: String) -> (site: Site?, config: RepositoryConfig?) {
        let key = Self.Key(name: name, files: self)
        if let cached = Self.cache.withLock({ $0[key] }) { return cached }
        let file = "sites/\(name)/site.yaml"
        let reader = FieldReader()
        var diagnostics = Diagnostics()
        var site: Site?
        if let node = YAMLDocument.parse(siteFile, file: file, diagnostics: &diagnostics) {
            reader.diagnostics = diagnostics
            site = Site.read(node, directory: name, file: file, reader: reader)
        }
        var config: RepositoryConfig?
        if let configFile {
            var configDiagnostics = Diagnostics()
            if let node = YAMLDocument.parse(configFile, file: RepositoryConfig.fileName, diagnostics: &configDiagnostics) {
                let configReader = FieldReader()
                config = RepositoryConfig.read(node, reader: configReader)
            }
        } else {
            config = RepositoryConfig()
        }
        let result = (site, config)
        Self.cache.withLock { cache in
            if cache.count >= 256 { cache.removeAll() }
            cache[key] = result
        }
        return result
    }

    private struct Key: Hashable {
        var name: String
        var files: RulesFiles
    }

    private static let cache = ModelLock<[Key: (Site?, RepositoryConfig?)]>([:])
}

/// A value behind a lock, for caches shared between threads.
final class ModelLock<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
