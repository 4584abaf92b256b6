import Foundation
import InterlockModel

/// Computes the plan that takes a site's live state to its compiled desired state. Pure: no I/O.
public enum Planner {
    /// - Parameter context: lines of context in text diffs.
    public static func plan(desired: CompiledSite, live: LiveState, context: Int = 3) -> Plan {
        let drifted = Set(live.drift.map(\.path))
        var upserts: [Operation] = []
        // The components' canonical content, for what a file's operation says about the component rendering it.
        var components: [String: [String: Value]]?
        func about(_ resource: Resource, previous: Data?) -> OperationAbout? {
            switch resource.kind {
            case .component:
                return resource.structured?.objectValue.map { OperationAbout.component(named: resource.name, $0) }
            case .file:
                if components == nil {
                    components = [:]
                    for r in desired.resources where r.kind == .component { components![r.path] = r.structured?.objectValue }
                }
                guard let owner = resource.owner, let spec = components?[owner] else { return nil }
                return OperationAbout.component(named: String(owner.dropFirst("components/".count)), spec)
            case .flow:
                return OperationAbout.flow(old: previous, new: resource.structured ?? (try? Value.parseJSON(resource.content)))
            }
        }
        func annotated(_ operation: Operation, _ resource: Resource) -> Operation {
            var operation = operation
            operation.sources = resource.sources
            let about = about(resource, previous: operation.previousContent ?? (operation.kind == .flow ? live.resources[resource.path]?.content : nil))
            operation.about = about?.isEmpty == true ? nil : about
            return operation
        }
        for resource in desired.resources {
            let current = live.resources[resource.path]
            if let current, current.contentHash == resource.contentHash || semanticallyEqual(resource, current) {
                let modeDiffers = resource.kind == .file && current.mode != nil && current.mode != resource.mode
                if !modeDiffers, current.managed { continue }
                upserts.append(annotated(Operation(
                    action: .update, kind: resource.kind, path: resource.path, policyPath: resource.policyPath,
                    beforeHash: current.contentHash, afterHash: resource.contentHash, beforeMode: current.mode, afterMode: resource.mode,
                    content: resource.content,
                    changes: current.managed
                        ? ["mode \(octal(current.mode)) → \(octal(resource.mode))"]
                        : ["takes over the existing file (identical content)"] + (modeDiffers ? ["mode \(octal(current.mode)) → \(octal(resource.mode))"] : []),
                    adoptsUnmanaged: !current.managed, revertsDrift: drifted.contains(resource.path)), resource))
                continue
            }
            if let current {
                var changes = ResourceDiff.describe(kind: resource.kind, path: resource.path, old: current.content, new: resource.content, context: context)
                if let mode = current.mode, resource.kind == .file, mode != resource.mode {
                    changes.insert("mode \(octal(mode)) → \(octal(resource.mode))", at: 0)
                }
                var operation = annotated(Operation(
                    action: .update, kind: resource.kind, path: resource.path, policyPath: resource.policyPath,
                    beforeHash: current.contentHash, afterHash: resource.contentHash, beforeMode: current.mode, afterMode: resource.mode,
                    content: resource.content, changes: changes,
                    adoptsUnmanaged: !current.managed, revertsDrift: drifted.contains(resource.path),
                    previousContent: resource.kind == .flow ? current.content : nil), resource)
                if resource.kind == .component, current.managed, let old = current.content.flatMap({ try? Value.parseJSON($0) })?.objectValue,
                   var new = resource.structured?.objectValue {
                    var old = old
                    for key in ["description", "owner", "affects"] { old[key] = nil; new[key] = nil }
                    operation.describesOnly = old == new
                }
                upserts.append(operation)
            } else {
                upserts.append(annotated(Operation(
                    action: .create, kind: resource.kind, path: resource.path, policyPath: resource.policyPath,
                    beforeHash: nil, afterHash: resource.contentHash, afterMode: resource.mode, content: resource.content,
                    changes: createSummary(resource), revertsDrift: drifted.contains(resource.path)), resource))
            }
        }
        let desiredPaths = Set(desired.resources.map(\.path))
        let deletes = live.resources.values
            .filter { $0.managed && !desiredPaths.contains($0.path) }
            .map { resource in
                let kind = kind(of: resource.path)
                var operation = Operation(
                    action: .delete, kind: kind, path: resource.path, policyPath: resource.path,
                    beforeHash: resource.contentHash, afterHash: nil, beforeMode: resource.mode, content: nil,
                    changes: ["no longer in the desired state"], revertsDrift: false,
                    previousContent: kind == .flow ? resource.content : nil)
                // What the removed resource was, from its live content (a file's component is not known here).
                var about: OperationAbout?
                switch kind {
                case .component:
                    about = resource.content.flatMap { try? Value.parseJSON($0) }?.objectValue
                        .map { OperationAbout.component(named: String(resource.path.dropFirst("components/".count)), $0) }
                case .flow: about = OperationAbout.flow(old: resource.content, new: nil)
                case .file: about = nil
                }
                operation.about = about?.isEmpty == true ? nil : about
                return operation
            }
        let ordered = upserts.sorted(by: applyOrder) + deletes.sorted(by: applyOrder).reversed()
        return Plan(
            site: desired.site.name, commit: desired.commitID, liveFingerprint: live.fingerprint,
            desiredFingerprint: desired.fingerprint, operations: ordered, drift: live.drift)
    }

    private static func semanticallyEqual(_ resource: Resource, _ current: LiveResource) -> Bool {
        guard resource.kind == .flow, let content = current.content else { return false }
        return ResourceDiff.semanticallyEqual(kind: .flow, old: content, new: resource.content)
    }

    private static func createSummary(_ resource: Resource) -> [String] {
        switch resource.kind {
        case .component:
            let spec = resource.structured?.objectValue
            return ["\(spec?["vendor"]?.stringValue ?? "") \(spec?["product"]?.stringValue ?? "") \(spec?["version"]?.stringValue ?? "")"]
        case .flow:
            let spec = resource.structured?.objectValue
            return ["\(spec?["bricks"]?.arrayValue?.count ?? 0) bricks, \(spec?["connections"]?.arrayValue?.count ?? 0) connections"]
        case .file:
            return ["\(resource.content.count) bytes, mode \(octal(resource.mode))"]
        }
    }

    private static func octal(_ mode: UInt32?) -> String { mode.map(Resource.octal) ?? "-" }

    private static func kind(of path: String) -> Resource.Kind {
        Resource.Kind.allCases.first { path.hasPrefix($0.directory + "/") } ?? .file
    }

    /// Components first, then files, then flows; by path within a kind.
    private static func applyOrder(_ a: Operation, _ b: Operation) -> Bool {
        func rank(_ kind: Resource.Kind) -> Int {
            switch kind {
            case .component: 0
            case .file: 1
            case .flow: 2
            }
        }
        if rank(a.kind) != rank(b.kind) { return rank(a.kind) < rank(b.kind) }
        return a.path < b.path
    }
}
