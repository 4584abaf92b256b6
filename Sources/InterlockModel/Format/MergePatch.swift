/// RFC 7396 JSON merge patch over located YAML, so that every value in the result still says which file
/// and line it came from (the base definition or the site's override).
///
/// Maps merge recursively, `null` deletes a key, anything else replaces. One extension, for lists whose
/// elements carry an identity (`bricks` by `id`, `files` by `path`): when the patch writes such a list as
/// a *map* keyed by that identity, each entry merges into the element with that identity (`null`
/// removes it, an unknown identity appends a new element). Written as a list, it replaces, as RFC 7396 says.
public enum MergePatch {
    /// List fields that may be patched per element, and the key that identifies an element.
    public static let keyedLists: [String: String] = ["bricks": "id", "files": "path"]

    /// Applies `patch` to `target`. Keyed lists are recognised at the top level of a definition only.
    public static func apply(_ patch: YAMLNode, to target: YAMLNode?) -> YAMLNode {
        apply(patch, to: target, topLevel: true)
    }

    private static func apply(_ patch: YAMLNode, to target: YAMLNode?, topLevel: Bool) -> YAMLNode {
        guard let patchPairs = patch.pairs else { return patch }
        var result = target?.pairs ?? []
        let resultLocation = target?.pairs != nil ? target!.location : patch.location
        for entry in patchPairs {
            let existing = result.firstIndex { $0.key == entry.key }
            if entry.value.isNull {
                if let existing { result.remove(at: existing) }
                continue
            }
            let current = existing.map { result[$0].value }
            let merged: YAMLNode
            if topLevel, let identity = keyedLists[entry.key], entry.value.pairs != nil, let items = current?.items {
                merged = applyKeyed(entry.value, to: items, identity: identity, listLocation: current!.location)
            } else {
                merged = apply(entry.value, to: current, topLevel: false)
            }
            if let existing {
                result[existing].value = merged
            } else {
                result.append(YAMLPair(key: entry.key, keyLocation: entry.keyLocation, value: merged))
            }
        }
        return YAMLNode(.mapping(result), at: resultLocation)
    }

    private static func applyKeyed(_ patch: YAMLNode, to items: [YAMLNode], identity: String, listLocation: SourceLocation) -> YAMLNode {
        var items = items
        for entry in patch.pairs ?? [] {
            let index = items.firstIndex { $0[identity]?.scalar?.text == entry.key }
            if entry.value.isNull {
                if let index { items.remove(at: index) }
                continue
            }
            if let index {
                items[index] = apply(entry.value, to: items[index], topLevel: false)
            } else {
                let idNode = YAMLNode(.scalar(YAMLScalar(text: entry.key, quoted: true)), at: entry.keyLocation)
                var element = apply(entry.value, to: nil, topLevel: false)
                if element.pairs != nil, element[identity] == nil, case .mapping(var pairs) = element.kind {
                    pairs.insert(YAMLPair(key: identity, keyLocation: entry.keyLocation, value: idNode), at: 0)
                    element = YAMLNode(.mapping(pairs), at: element.location)
                }
                items.append(element)
            }
        }
        return YAMLNode(.sequence(items), at: listLocation)
    }
}
