import Foundation
import InterlockGit

extension DesiredState {
    /// The result of compiling one site: its resources and any problems (undefined values, bad overrides…).
    public struct Compilation: Sendable {
        public var site: CompiledSite
        public var diagnostics: [Diagnostic]
        public var isValid: Bool { !diagnostics.contains { $0.severity == .error } }
    }

    /// Compiles one site: each component and flow it runs, with the site's overrides merged in
    /// (RFC 7396) and its values interpolated, into resources with canonical content.
    public func compile(site: Site) -> Compilation {
        if let outline { return outline.compileReporting(site, reusing: SiteCompiler.Reused()) }
        return SiteCompiler(state: self, site: site).compile()
    }

    /// Compiles a site taking the resources of the components and flows in `reused` as they are, instead of
    /// compiling them again. The caller vouches that each would compile to exactly those resources, with no
    /// diagnostics (see `DesiredStateCache.compile(site:in:)`).
    func compile(site: Site, reusing reused: SiteCompiler.Reused) -> Compilation {
        if let outline { return outline.compileReporting(site, reusing: reused) }
        return SiteCompiler(state: self, site: site, reused: reused).compile()
    }

    /// Compiles a site by name; nil when there is no such site.
    public func compile(siteNamed name: String) -> Compilation? {
        site(named: name).map { compile(site: $0) }
    }

    /// Reads definitions that no site runs, so their mistakes are reported too.
    func checkUnusedDefinitions() -> [Diagnostic] {
        if let outline {
            do {
                return try outline.unusedDefinitionDiagnostics()
            } catch {
                return [DesiredStateOutline.unreadable("the definitions no site runs", at: "components/", error)]
            }
        }
        let reader = FieldReader()
        let usedComponents = Set(sites.flatMap(\.components)), usedFlows = Set(sites.flatMap(\.flows))
        for (name, node) in componentDocuments where !usedComponents.contains(name) {
            Self.checkUnusedDefinition(name, node, isComponent: true, reader: reader)
        }
        for (name, node) in flowDocuments where !usedFlows.contains(name) {
            Self.checkUnusedDefinition(name, node, isComponent: false, reader: reader)
        }
        return reader.diagnostics.all
    }

    /// Reads a definition no site runs as a site would, reporting its mistakes to `reader`.
    static func checkUnusedDefinition(_ name: String, _ node: YAMLNode, isComponent: Bool, reader: FieldReader) {
        if isComponent {
            _ = Component.read(node, expectedName: name, config: node["config"]?.value ?? .object([:]), reader: reader)
        } else {
            _ = Flow.read(node, expectedName: name, reader: reader)
        }
    }

    /// Loads, checks and compiles every site: what `interlock validate` reports.
    public static func validate(_ snapshot: Snapshot) -> (state: DesiredState, sites: [CompiledSite], diagnostics: [Diagnostic]) {
        let loaded = load(from: snapshot)
        var diagnostics = Diagnostics()
        loaded.diagnostics.forEach { diagnostics.append($0) }
        let state = loaded.state
        var compiled: [CompiledSite] = []
        for result in ParallelMap.map(state.sites, { state.compile(site: $0) }) {
            result.diagnostics.forEach { diagnostics.append($0) }
            compiled.append(result.site)
        }
        loaded.state.checkUnusedDefinitions().forEach { diagnostics.append($0) }
        return (loaded.state, compiled, diagnostics.sorted)
    }
}

/// Compiles one site of a desired state.
struct SiteCompiler {
    /// Resources of components and flows compiled before from the same inputs, taken as they are.
    struct Reused {
        /// Each component's resources: the component first, then the files it renders.
        var components: [String: [Resource]] = [:]
        var flows: [String: Resource] = [:]
        var count: Int { components.count + flows.count }
    }

    let state: DesiredState
    let site: Site
    let reused: Reused
    let reader = FieldReader()
    /// What every component and flow of the site can refer to: `values` and `site`.
    private let siteScope: [String: Value]

    init(state: DesiredState, site: Site, reused: Reused = Reused()) {
        self.state = state
        self.site = site
        self.reused = reused
        siteScope = [
            "values": site.values,
            "site": .object([
                "name": .string(site.name), "displayName": .string(site.displayName), "timezone": .string(site.timezone),
            ]),
        ]
    }

    func compile() -> DesiredState.Compilation {
        var resources: [Resource] = []
        var filePaths: [String: (component: String, location: SourceLocation)] = [:]
        for name in site.components {
            let rendered: [Resource]
            if let taken = reused.components[name] {
                rendered = taken
            } else if let base = state.componentDocuments[name] {
                rendered = compileComponent(name, base: base)
            } else {
                continue
            }
            for resource in rendered {
                if resource.kind == .file {
                    if let other = filePaths[resource.name] {
                        reader.diagnostics.error(
                            "file-conflict", at: SourceLocation(file: "components/\(name).yaml"), field: "files",
                            "at site \(site.name), '\(resource.name)' is rendered by both \(other.component) and \(name)",
                            hint: "let exactly one component render each path")
                        continue
                    }
                    filePaths[resource.name] = (name, SourceLocation(file: "components/\(name).yaml"))
                }
                resources.append(resource)
            }
        }
        for name in site.flows {
            let base = state.flowDocuments[name]
            guard base != nil || reused.flows[name] != nil else { continue }
            if let owner = filePaths[Site.flowFile(name)] {
                reader.diagnostics.error(
                    "file-conflict", at: SourceLocation(file: "components/\(owner.component).yaml"), field: "files",
                    "at site \(site.name), component \(owner.component) renders \(Site.flowFile(name)), where the flow '\(name)' is deployed",
                    hint: "flows are deployed to flows/<name>.json in a files target; render the component's file elsewhere")
            }
            if let resource = reused.flows[name] ?? base.flatMap({ compileFlow(name, base: $0) }) { resources.append(resource) }
        }
        return DesiredState.Compilation(
            site: CompiledSite(site: site, commitID: state.commitID, resources: consume resources),
            diagnostics: reader.diagnostics.all)
    }

    private func merged(_ base: YAMLNode, resource: String) -> (YAMLNode, [String]) {
        let definitionFile = base.location.file
        guard let patch = state.overrides[site.name]?[resource] else { return (base, [definitionFile]) }
        return (MergePatch.apply(patch, to: base), [definitionFile, patch.location.file])
    }

    private func compileComponent(_ name: String, base: YAMLNode) -> [Resource] {
        let (document, sources) = merged(base, resource: "components/\(name)")
        var scope = siteScope
        var interpolator = Interpolator(scope: scope, siteName: site.name)

        var config = Value.object([:])
        if let configNode = document["config"], configNode.pairs != nil {
            config = interpolator.apply(configNode, field: "config", diagnostics: &reader.diagnostics).value
        }
        scope["config"] = config
        scope["component"] = .object([
            "name": .string(name), "version": .string(document["version"]?.scalar?.text ?? ""),
        ])
        interpolator.scope = scope
        var rest = document
        if case .mapping(let pairs) = document.kind {
            rest = YAMLNode(.mapping(pairs.map {
                $0.key == "config"
                    ? $0
                    : YAMLPair(key: $0.key, keyLocation: $0.keyLocation, value: interpolator.apply($0.value, field: $0.key, diagnostics: &reader.diagnostics))
            }), at: document.location)
        }
        guard let component = Component.read(rest, expectedName: name, config: config, reader: reader) else { return [] }

        var resources: [Resource] = []
        var fileEntries: [Value] = []
        let componentPath = "components/\(name)"
        for file in component.files {
            let content: Data
            var fileSources = sources
            switch file.source {
            case .content(let text):
                content = Data(text.utf8)
            case .json(let value):
                content = Data(value.prettyJSONBytes)
            case .template(let template):
                let templatePath = "components/\(name)/\(template)"
                guard let entry = state.snapshot.files[templatePath] else {
                    reader.diagnostics.error(
                        "missing-template", at: file.location, field: "files.template",
                        "the template '\(template)' does not exist (looked for \(templatePath))",
                        hint: "add the file at \(templatePath) or fix the name")
                    continue
                }
                if entry.isSymbolicLink {
                    reader.diagnostics.error(
                        "template-symlink", at: SourceLocation(file: templatePath), "templates may not be symbolic links",
                        hint: "commit the file's content instead of a link")
                    continue
                }
                guard let text = String(data: entry.content, encoding: .utf8) else {
                    content = entry.content
                    fileSources.append(templatePath)
                    break
                }
                content = Data(interpolator.apply(text: text, file: templatePath, field: "", diagnostics: &reader.diagnostics).utf8)
                fileSources.append(templatePath)
            }
            let resource = Resource(
                kind: .file, name: file.path, content: content, mode: file.mode, owner: componentPath, sources: fileSources)
            resources.append(resource)
            fileEntries.append(.object([
                "path": .string(file.path), "mode": .string(Resource.octal(file.mode)), "sha256": .string(resource.contentHash),
            ]))
        }

        var object: [String: Value] = [
            "name": .string(name), "vendor": .string(component.vendor), "product": .string(component.product),
            "version": .string(component.version), "config": component.config, "files": .array(fileEntries),
        ]
        if let description = component.description { object["description"] = .string(description) }
        if let owner = component.owner { object["owner"] = owner.value }
        if let affects = component.affects { object["affects"] = affects.value }
        if let reload = component.reload { object["reload"] = reload.value }
        if let health = component.health { object["health"] = health.value }
        let structured = Value.object(object)
        resources.insert(
            Resource(kind: .component, name: name, content: Data(structured.canonicalJSONBytes), structured: structured, sources: sources),
            at: 0)
        return resources
    }

    private func compileFlow(_ name: String, base: YAMLNode) -> Resource? {
        let (document, sources) = merged(base, resource: "flows/\(name)")
        var scope = siteScope
        scope["flow"] = .object(["name": .string(name)])
        let interpolator = Interpolator(scope: scope, siteName: site.name)
        let interpolated = interpolator.apply(document, field: "", diagnostics: &reader.diagnostics)
        guard let flow = Flow.read(interpolated, expectedName: name, reader: reader) else { return nil }
        let structured = flow.canonicalValue
        return Resource(kind: .flow, name: name, content: Data(structured.canonicalJSONBytes), structured: structured, sources: sources)
    }
}

extension Flow {
    /// The flow as canonical data: bricks sorted by id, connections sorted, defaults made explicit.
    public var canonicalValue: Value {
        var object: [String: Value] = [
            "name": .string(name),
            "bricks": .array(bricks.sorted { $0.id < $1.id }.map { brick in
                var b: [String: Value] = [
                    "id": .string(brick.id), "type": .string(brick.type), "version": .string(brick.version),
                    "inputs": .array(brick.inputs.map(Value.string)), "outputs": .array(brick.outputs.map(Value.string)),
                    "config": brick.config,
                ]
                if brick.allowSelfConnection { b["allowSelfConnection"] = .bool(true) }
                if let description = brick.description { b["description"] = .string(description) }
                if let affects = brick.affects { b["affects"] = affects.value }
                if let layout = brick.layout { b["layout"] = layout }
                return .object(b)
            }),
            "connections": .array(connections.sorted { ($0.from, $0.to) < ($1.from, $1.to) }.map {
                .object(["from": .string($0.from.description), "to": .string($0.to.description)])
            }),
        ]
        if let description { object["description"] = .string(description) }
        return .object(object)
    }
}
