import Crypto
import Foundation

/// The unit of comparison between desired and live state: a kind and a name with canonical content.
///
/// A resource's `contentHash` is the SHA-256 of exactly the bytes in `content`, so for a rendered file
/// it equals `sha256sum` of the file on disk.
public struct Resource: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case component
        case file
        case flow

        /// The first segment of the resource path.
        public var directory: String {
            switch self {
            case .component: "components"
            case .file: "files"
            case .flow: "flows"
            }
        }
    }

    public var kind: Kind
    /// Component or flow name; for files the relative path inside the target root.
    public var name: String
    /// Canonical bytes: compact sorted-key JSON for components and flows, the rendered bytes for files.
    public var content: Data
    /// `sha256:<hex>` of `content`.
    public var contentHash: String
    /// Unix permission bits (files only).
    public var mode: UInt32?
    /// For a file: the path of the component that renders it (`components/mqtt-broker`).
    public var owner: String?
    /// The structured form of a component or flow (what `content` serialises).
    public var structured: Value?
    /// Repository files this resource was compiled from.
    public var sources: [String]

    public init(kind: Kind, name: String, content: Data, mode: UInt32? = nil, owner: String? = nil, structured: Value? = nil, sources: [String]) {
        self.kind = kind
        self.name = name
        self.content = content
        self.contentHash = Resource.hash(content)
        self.mode = mode
        self.owner = owner
        self.structured = structured
        self.sources = sources
    }

    /// Permission bits as four octal digits (`0644`), as manifests, plans and drivers write them.
    public static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return digits.count >= 4 ? digits : String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// `components/<name>`, `flows/<name>` or `files/<path>`; what policy rules match against.
    public var path: String { "\(kind.directory)/\(name)" }

    /// Orders like comparing `path`, without building the strings: no directory name is a prefix of another,
    /// so the directory decides first and the name second.
    public static func pathOrder(_ a: Resource, _ b: Resource) -> Bool {
        a.kind == b.kind ? a.name < b.name : a.kind.directory < b.kind.directory
    }

    /// The path whose gate applies: a file follows the component that renders it.
    public var policyPath: String { owner ?? path }

    public static func hash(_ data: Data) -> String {
        let digest = SHA256.hash(data: data)
        return "sha256:" + String(unsafeUninitializedCapacity: 2 * SHA256.byteCount) { buffer in
            var index = 0
            for byte in digest {
                buffer[index] = hexDigits[Int(byte >> 4)]
                buffer[index + 1] = hexDigits[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// The desired resources of one site at one commit.
public struct CompiledSite: Sendable, Hashable {
    public var site: Site
    public var commitID: String?
    /// Sorted by path.
    public var resources: [Resource]

    /// `resources` is taken (`consuming`) and sorted in place: a compiler's last use of its array hands it over
    /// without copying every resource.
    public init(site: Site, commitID: String?, resources: consuming [Resource]) {
        self.site = site
        self.commitID = commitID
        var sorted = resources
        sorted.sort(by: Resource.pathOrder)
        self.resources = sorted
    }

    /// A hash over every resource's path, mode and content hash: equal fingerprints mean equal desired state.
    public var fingerprint: String {
        var text = ""
        for resource in resources {
            text += "\(resource.path)\u{0}\(resource.mode.map { String($0, radix: 8) } ?? "-")\u{0}\(resource.contentHash)\n"
        }
        return Resource.hash(Data(text.utf8))
    }

    public func resource(at path: String) -> Resource? { resources.first { $0.path == path } }
}
