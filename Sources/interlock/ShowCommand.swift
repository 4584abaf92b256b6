import ArgumentParser
import Foundation
import InterlockModel

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the compiled desired resources of one site: components, rendered files and flows.",
        discussion: "Exit code 1 when the site does not compile (the problems are listed)."
    )

    @Argument(help: "The site, e.g. plant-b.")
    var site: String

    @OptionGroup var repository: RepositoryOptions

    @Flag(name: .long, help: "Also print the full content of every rendered file.")
    var content = false

    @Flag(name: .long, help: "Print the resources as JSON (file content included).")
    var json = false

    func run() throws {
        let (outline, commit) = try repository.readOutline()
        let loaded = outline.loadResult
        guard let site = loaded.state.site(named: site) else {
            Terminal.error("no site '\(self.site)' in \(repository.source); sites: \(loaded.state.sites.map(\.name).joined(separator: ", "))")
            throw ExitCode(1)
        }
        let compilation = loaded.state.compile(site: site)
        let problems = (loaded.diagnostics.filter { $0.location.file == site.file } + compilation.diagnostics).filter { $0.severity == .error }
        guard problems.isEmpty else {
            for diagnostic in problems { FileHandle.standardError.write(Data((diagnostic.rendered + "\n").utf8)) }
            Terminal.error("site \(site.name) does not compile: \(problems.count) problem(s)")
            throw ExitCode(1)
        }
        let compiled = compilation.site
        if json {
            var object: [String: Value] = [
                "site": .string(site.name), "displayName": .string(site.displayName), "timezone": .string(site.timezone),
                "fingerprint": .string(compiled.fingerprint), "resources": .array(compiled.resources.map(\.json)),
                "overrides": .array(loaded.state.overriddenPaths(of: site.name).map(Value.string)),
            ]
            if let commit { object["commit"] = .string(commit.id.hex) }
            Terminal.printJSON(.object(object))
            return
        }
        let at = commit.map { "commit \($0.id.hex.prefix(10))" } ?? "working tree"
        print("\(Terminal.styled(site.displayName, .bold)) (\(site.name)) — \(site.timezone), \(site.targetDescription), \(at)")
        print("fingerprint \(compiled.fingerprint)")
        let overrides = loaded.state.overriddenPaths(of: site.name)
        if !overrides.isEmpty { print("overrides: \(overrides.joined(separator: ", "))") }
        print("")
        for resource in compiled.resources where resource.kind != .file {
            print(ResourceText.describe(resource, in: compiled, showContent: content))
            print("")
        }
    }
}

extension Resource {
    var json: Value {
        var object: [String: Value] = [
            "kind": .string(kind.rawValue), "name": .string(name), "path": .string(path),
            "hash": .string(contentHash), "size": .int(content.count), "sources": .array(sources.map(Value.string)),
        ]
        if let mode { object["mode"] = .string(String(format: "%04o", mode)) }
        if let owner { object["owner"] = .string(owner) }
        if let structured { object["spec"] = structured }
        if kind == .file {
            if let text = String(data: content, encoding: .utf8) {
                object["content"] = .string(text)
            } else {
                object["contentBase64"] = .string(content.base64EncodedString())
            }
        }
        return .object(object)
    }
}

/// Readable descriptions of compiled resources.
enum ResourceText {
    static func describe(_ resource: Resource, in site: CompiledSite, showContent: Bool) -> String {
        let spec = resource.structured?.objectValue ?? [:]
        var lines: [String] = []
        let hash = String(resource.contentHash.dropFirst(7).prefix(12))
        switch resource.kind {
        case .component:
            let vendor = spec["vendor"]?.stringValue ?? "", product = spec["product"]?.stringValue ?? "", version = spec["version"]?.stringValue ?? ""
            lines.append("\(Terminal.styled(resource.path, .bold))  \(vendor) \(product) \(version)  [\(hash)]")
            lines.append("  sources: \(resource.sources.joined(separator: ", "))")
            if let config = spec["config"]?.objectValue, !config.isEmpty {
                lines.append("  config:")
                lines += flatten(.object(config)).map { "    \($0.0) = \($0.1)" }
            }
            let files = site.resources.filter { $0.owner == resource.path }
            if !files.isEmpty {
                lines.append("  files:")
                let rows = files.map { ["    \($0.name)", String(format: "%04o", $0.mode ?? 0o644), "\($0.content.count) B", String($0.contentHash.dropFirst(7).prefix(12))] }
                lines.append(Terminal.table(["    PATH", "MODE", "SIZE", "SHA-256"], rows).split(separator: "\n").dropFirst().joined(separator: "\n"))
                if showContent {
                    for file in files {
                        lines.append("  ── \(file.name) ──")
                        lines.append(String(decoding: file.content, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map { "  │ \($0)" }.joined(separator: "\n"))
                    }
                }
            }
            for key in ["reload", "health"] {
                if let command = spec[key]?.objectValue?["command"]?.arrayValue {
                    lines.append("  \(key): \(command.compactMap(\.stringValue).joined(separator: " "))")
                }
            }
        case .flow:
            let bricks = spec["bricks"]?.arrayValue ?? [], connections = spec["connections"]?.arrayValue ?? []
            lines.append("\(Terminal.styled(resource.path, .bold))  \(bricks.count) bricks, \(connections.count) connections  [\(hash)]")
            lines.append("  sources: \(resource.sources.joined(separator: ", "))")
            lines.append("  bricks:")
            for brick in bricks.compactMap(\.objectValue) {
                let id = brick["id"]?.stringValue ?? "", type = brick["type"]?.stringValue ?? "", version = brick["version"]?.stringValue ?? ""
                lines.append("    \(Terminal.styled(id, .bold))  \(type) \(version)")
                lines += flatten(brick["config"] ?? .object([:])).map { "      \($0.0) = \($0.1)" }
            }
            lines.append("  connections:")
            for connection in connections.compactMap(\.objectValue) {
                lines.append("    \(connection["from"]?.stringValue ?? "") → \(connection["to"]?.stringValue ?? "")")
            }
        case .file:
            lines.append("\(resource.path) [\(hash)]")
        }
        return lines.joined(separator: "\n")
    }

    /// `a.b.c = value` pairs for a nested value, leaves only.
    static func flatten(_ value: Value, prefix: String = "") -> [(String, String)] {
        switch value {
        case .object(let object):
            return object.keys.sorted().flatMap { flatten(object[$0]!, prefix: prefix.isEmpty ? $0 : "\(prefix).\($0)") }
        case .array(let items) where items.contains { $0.objectValue != nil }:
            return items.enumerated().flatMap { flatten($1, prefix: "\(prefix)[\($0)]") }
        case .string(let s):
            return [(prefix, s.contains("\n") ? "\"\(s.prefix(40))…\"" : s)]
        default:
            return [(prefix, value.canonicalJSON)]
        }
    }
}
