import Foundation
import InterlockModel

/// What the files driver manages inside a site's root, kept at `<root>/.interlock/manifest.json`:
/// for each resource it wrote, the file, content hash, mode, commit and plan that put it there.
struct FilesManifest: Sendable, Hashable {
    static let relativePath = ".interlock/manifest.json"
    static let formatVersion = 1

    struct Entry: Sendable, Hashable {
        /// Resource path (`files/x`, `flows/y`, `components/z`).
        var resource: String
        /// File path relative to the root.
        var file: String
        var hash: String
        var mode: UInt32
        var commit: String?
        var plan: String
        var appliedAt: String
    }

    var site: String
    var entries: [String: Entry]

    init(site: String, entries: [String: Entry] = [:]) {
        self.site = site
        self.entries = entries
    }

    var value: Value {
        .object([
            "format": .int(Self.formatVersion),
            "site": .string(site),
            "entries": .object(entries.mapValues { entry in
                .object([
                    "file": .string(entry.file), "hash": .string(entry.hash), "mode": .string(Resource.octal(entry.mode)),
                    "commit": entry.commit.map(Value.string) ?? .null, "plan": .string(entry.plan), "appliedAt": .string(entry.appliedAt),
                ])
            }),
        ])
    }

    init(parsing data: Data, site: String) throws {
        let value = try Value.parseJSON(data)
        guard let object = value.objectValue, case .int(let format)? = object["format"], let entries = object["entries"]?.objectValue else {
            throw ManifestError(message: "it is not an Interlock manifest (missing 'format' or 'entries')")
        }
        guard format == Self.formatVersion else {
            throw ManifestError(message: "it has format \(format); this Interlock reads format \(Self.formatVersion)")
        }
        self.site = object["site"]?.stringValue ?? site
        var parsed: [String: Entry] = [:]
        parsed.reserveCapacity(entries.count)
        for (resource, raw) in entries {
            guard let e = raw.objectValue, let file = e["file"]?.stringValue, let hash = e["hash"]?.stringValue,
                  let modeText = e["mode"]?.stringValue, let mode = UInt32(modeText, radix: 8), let plan = e["plan"]?.stringValue
            else { throw ManifestError(message: "the entry for \(resource) is incomplete") }
            parsed[resource] = Entry(
                resource: resource, file: file, hash: hash, mode: mode, commit: e["commit"]?.stringValue, plan: plan,
                appliedAt: e["appliedAt"]?.stringValue ?? "")
        }
        self.entries = parsed
    }

    struct ManifestError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
