internal import CYaml
import Foundation

/// Builds a located `YAMLNode` tree straight from libyaml's event stream (`yaml_parser_parse`).
///
/// This replaces `Yams.compose` + conversion: no intermediate `Yams.Node` tree, no copy of the input into a
/// `String`. It reproduces exactly what that reader reported (the tests keep it as their reference):
///
/// - nodes are located at the event's start mark, as Yams does (line = mark.line + 1, column = mark.column + 1);
/// - a scalar is `quoted` when its style is anything but plain;
/// - an alias stands for a copy of the node its anchor names (located where the anchor was written), and an
///   undefined alias is a syntax error, as in `Yams.compose`;
/// - scanner and parser errors, a second document and a repeated key (equal under Yams' node equality: same
///   text and same resolved tag) abort the parse with one diagnostic; nothing else is reported then;
/// - otherwise map/list keys ("yaml-complex-key") and keys whose text repeats an earlier kept key with another
///   tag ("duplicate-key") are reported and left out, together with everything inside them.
///
/// The C parser, its current event and every buffer they own are released on every path (`deinit`).
final class YAMLEventReader {
    /// Limits on what one document may cost, whoever wrote it: its size in bytes, how deep it nests, and how many
    /// nodes it stands for once every alias is expanded (an "alias bomb" of a few hundred bytes would stand for
    /// billions). Exceeding one is a diagnostic with the file and line, never a crash or an unbounded cost.
    static let maximumBytes = 16 * 1024 * 1024
    static let maximumDepth = 100
    static let maximumExpandedNodes = 1_000_000

    /// Parses one YAML document from raw bytes. Reports "not-utf8" when the bytes are not well-formed UTF-8.
    static func parse(_ data: Data, file: String, diagnostics: inout Diagnostics) -> YAMLNode? {
        guard data.count <= maximumBytes else {
            diagnostics.error(
                "yaml-too-large", at: SourceLocation(file: file),
                "the file has \(data.count) bytes; Interlock reads YAML files of at most \(maximumBytes / 1024 / 1024) MiB",
                hint: "split it into smaller files")
            return nil
        }
        return data.withUnsafeBytes { raw -> YAMLNode? in
            var bytes = UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count)
            guard isValidUTF8(bytes) else {
                diagnostics.error(
                    "not-utf8", at: SourceLocation(file: file), "the file is not valid UTF-8 text",
                    hint: "save it as UTF-8")
                return nil
            }
            // `String(data:encoding: .utf8)`, which the Yams path went through, drops one leading byte order mark.
            if hasByteOrderMark(bytes.baseAddress, bytes.count) {
                bytes = UnsafeBufferPointer(rebasing: bytes[3...])
            }
            let base = bytes.baseAddress.map { UnsafePointer($0) } ?? UnsafePointer(emptyInput)
            let reader = YAMLEventReader(UnsafeBufferPointer(start: base, count: bytes.count), file: file)
            do throws(Failure) {
                let root = try reader.document()
                for diagnostic in reader.pending { diagnostics.append(diagnostic) }
                return root
            } catch {
                diagnostics.append(error.diagnostic)
                return nil
            }
        }
    }

    /// libyaml asserts a non-null input pointer, even for zero bytes.
    private nonisolated(unsafe) static let emptyInput: UnsafeMutablePointer<UInt8> = {
        let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        pointer.initialize(to: 0)
        return pointer
    }()

    // MARK: - State

    private let parser: UnsafeMutablePointer<yaml_parser_t>
    /// The one live event. `advance()` releases it before parsing the next one; `deinit` releases the last.
    private let event: UnsafeMutablePointer<yaml_event_t>
    private let file: String
    private var anchors: [String: Anchored] = [:]
    /// How deep the node being read is nested (the document's root is 1).
    private var depth = 0
    /// Nodes read so far, each alias counted as the nodes it stands for.
    private var expandedNodes = 0
    /// Diagnostics the conversion would report; handed out only when the whole document parsed.
    private(set) var pending: [Diagnostic] = []
    /// Keys of every mapping being read, innermost last.
    private var keys: [KeyEntry] = []
    /// Items and pairs of the lists and maps being read, innermost last: each container copies its own out
    /// into an array of exactly the right size, so results carry no growth slack.
    private var itemStack: [YAMLNode] = []
    private var pairStack: [YAMLPair] = []

    private struct Anchored {
        var node: YAMLNode
        var identity: KeyIdentity
        var diagnostics: [Diagnostic]
        /// The nodes the anchored node stands for, its aliases expanded.
        var size: Int
    }

    private struct KeyEntry {
        var identity: KeyIdentity
        var location: SourceLocation
        var kept: Bool
    }

    /// A node as `Yams.Node`'s `==` sees it: text (or children) and the resolved tag, nil for the default
    /// (`str`, `seq`, `map`) tag. Only built for keys and anchored nodes.
    private enum KeyIdentity: Hashable {
        case scalar(String, tag: String?)
        case sequence([KeyIdentity], tag: String?)
        /// Keys and values, alternating.
        case mapping([KeyIdentity], tag: String?)
    }

    private struct Loaded {
        var node: YAMLNode
        var identity: KeyIdentity?
    }

    private struct Failure: Error {
        var diagnostic: Diagnostic
    }

    private static let syntaxHint = "fix the YAML syntax (indentation, a missing ':' or an unclosed quote)"

    private init(_ input: UnsafeBufferPointer<UInt8>, file: String) {
        self.file = file
        parser = .allocate(capacity: 1)
        event = .allocate(capacity: 1)
        event.initialize(to: yaml_event_t())
        parser.initialize(to: yaml_parser_t())
        yaml_parser_initialize(parser)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, input.baseAddress, input.count)
    }

    deinit {
        yaml_event_delete(event)
        yaml_parser_delete(parser)
        event.deallocate()
        parser.deallocate()
    }

    // MARK: - Events

    /// Releases the current event and parses the next one.
    @discardableResult
    private func advance() throws(Failure) -> yaml_event_type_t {
        yaml_event_delete(event)
        guard yaml_parser_parse(parser, event) == 1 else { throw Failure(diagnostic: parserError()) }
        return event.pointee.type
    }

    private func here() -> SourceLocation {
        let mark = event.pointee.start_mark
        return SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    /// `Yams.compose`: the single document of the stream; an empty stream is an empty mapping.
    private func document() throws(Failure) -> YAMLNode {
        try advance()  // STREAM-START
        guard parser.pointee.stream_end_produced == 0, try advance() != YAML_STREAM_END_EVENT else {
            return YAMLNode(.mapping([]), at: SourceLocation(file: file, line: 1, column: 1))
        }
        try advance()  // past DOCUMENT-START
        let root = try load(needIdentity: false).node
        try advance()  // DOCUMENT-END
        if try advance() != YAML_STREAM_END_EVENT {
            throw Failure(diagnostic: Diagnostic(
                "yaml-syntax", at: here(),
                "YAML syntax error: but found another document (expected a single document in the stream at line 1)",
                hint: Self.syntaxHint))
        }
        return root
    }

    /// Reads the node starting at the current event. `needIdentity` when the node is (inside) a key or an
    /// anchored node, whose Yams equality matters.
    private func load(needIdentity: Bool) throws(Failure) -> Loaded {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth {
            throw Failure(diagnostic: Diagnostic(
                "yaml-too-deep", at: here(), "the document nests more than \(Self.maximumDepth) levels deep",
                hint: "flatten the structure: Interlock reads at most \(Self.maximumDepth) levels of maps and lists"))
        }
        if event.pointee.type != YAML_ALIAS_EVENT { try count(1) }
        switch event.pointee.type {
        case YAML_SCALAR_EVENT:
            return loadScalar(needIdentity: needIdentity)
        case YAML_SEQUENCE_START_EVENT:
            return try loadSequence(needIdentity: needIdentity)
        case YAML_MAPPING_START_EVENT:
            return try loadMapping(needIdentity: needIdentity)
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.pointee.data.alias.anchor)
            guard let anchored = anchors[name] else {
                throw Failure(diagnostic: Diagnostic(
                    "yaml-syntax", at: here(), "YAML syntax error: found undefined alias", hint: Self.syntaxHint))
            }
            try count(anchored.size)
            pending.append(contentsOf: anchored.diagnostics)
            return Loaded(node: anchored.node, identity: anchored.identity)
        default:
            throw Failure(diagnostic: Diagnostic(
                "yaml-syntax", at: here(), "YAML error: unexpected event \(event.pointee.type.rawValue)",
                hint: Self.syntaxHint))
        }
    }

    /// Counts `nodes` more read nodes; too many is an error at the current event.
    private func count(_ nodes: Int) throws(Failure) {
        expandedNodes += nodes
        if expandedNodes > Self.maximumExpandedNodes {
            throw Failure(diagnostic: Diagnostic(
                "yaml-too-many-nodes", at: here(),
                "the document stands for more than \(Self.maximumExpandedNodes) values once its aliases (*name) are expanded",
                hint: "use fewer or smaller aliases; Interlock reads at most \(Self.maximumExpandedNodes) values per file"))
        }
    }

    private func loadScalar(needIdentity: Bool) -> Loaded {
        let scalar = event.pointee.data.scalar
        let text = Self.string(scalar.value, scalar.length)
        let quoted = scalar.style != YAML_PLAIN_SCALAR_STYLE && scalar.style != YAML_ANY_SCALAR_STYLE
        let node = YAMLNode(.scalar(YAMLScalar(text: text, quoted: quoted)), at: here())
        guard needIdentity || scalar.anchor != nil else { return Loaded(node: node, identity: nil) }
        let tag = scalar.quoted_implicit == 1 ? nil : Self.resolvedTag(scalar.tag, default: "tag:yaml.org,2002:str")
        let identity = KeyIdentity.scalar(text, tag: tag)
        if let anchor = scalar.anchor {
            anchors[String(cString: anchor)] = Anchored(node: node, identity: identity, diagnostics: [], size: 1)
        }
        return Loaded(node: node, identity: identity)
    }

    private func loadSequence(needIdentity: Bool) throws(Failure) -> Loaded {
        let start = event.pointee.data.sequence_start
        let location = here()
        let anchor = start.anchor.map { String(cString: $0) }
        let tag = start.implicit != 0 ? nil : Self.resolvedTag(start.tag, default: "tag:yaml.org,2002:seq")
        let identify = needIdentity || anchor != nil
        let diagnosticBase = pending.count
        let nodesBefore = expandedNodes - 1
        let itemBase = itemStack.count
        var identities: [KeyIdentity] = []
        while try advance() != YAML_SEQUENCE_END_EVENT {
            let item = try load(needIdentity: identify)
            itemStack.append(item.node)
            if identify, let identity = item.identity { identities.append(identity) }
        }
        let node = YAMLNode(.sequence(Self.take(&itemStack, from: itemBase)), at: location)
        guard identify else { return Loaded(node: node, identity: nil) }
        let identity = KeyIdentity.sequence(identities, tag: tag)
        if let anchor {
            anchors[anchor] = Anchored(node: node, identity: identity, diagnostics: Array(pending[diagnosticBase...]), size: expandedNodes - nodesBefore)
        }
        return Loaded(node: node, identity: identity)
    }

    private func loadMapping(needIdentity: Bool) throws(Failure) -> Loaded {
        let start = event.pointee.data.mapping_start
        let location = here()
        let anchor = start.anchor.map { String(cString: $0) }
        let tag = start.implicit != 0 ? nil : Self.resolvedTag(start.tag, default: "tag:yaml.org,2002:map")
        let identify = needIdentity || anchor != nil
        let diagnosticBase = pending.count
        let nodesBefore = expandedNodes - 1
        let keyBase = keys.count
        let pairBase = pairStack.count
        var identities: [KeyIdentity] = []
        var repeated = false
        // Large maps switch from scanning `keys` to hashing.
        var identityIndex: Set<KeyIdentity>?
        var keptIndex: [String: SourceLocation]?

        while try advance() != YAML_MAPPING_END_EVENT {
            let keyDiagnostics = pending.count
            let key = try load(needIdentity: true)
            pending.removeSubrange(keyDiagnostics...)  // a key's insides are never converted
            let keyIdentity = key.identity!
            let keyLocation = key.node.location
            let keyText: String? = if case .scalar(let scalar) = key.node.kind { scalar.text } else { nil }

            // Yams: a key equal to an earlier key of this map; conversion: the same text as an earlier kept key.
            var firstKept: SourceLocation?
            if identityIndex == nil, keys.count - keyBase >= 16 {
                var identitySet = Set<KeyIdentity>()
                var kept: [String: SourceLocation] = [:]
                for entry in keys[keyBase...] {
                    identitySet.insert(entry.identity)
                    if entry.kept, case .scalar(let text, _) = entry.identity { kept[text] = entry.location }
                }
                identityIndex = identitySet
                keptIndex = kept
            }
            if identityIndex != nil {
                if !identityIndex!.insert(keyIdentity).inserted { repeated = true }
                if let keyText { firstKept = keptIndex![keyText] }
            } else if case .scalar(let keyText, let keyTag) = keyIdentity {
                for index in keyBase..<keys.count {
                    guard case .scalar(let text, let tag) = keys[index].identity, text == keyText else { continue }
                    if tag == keyTag { repeated = true }
                    if firstKept == nil, keys[index].kept { firstKept = keys[index].location }
                }
            } else {
                for index in keyBase..<keys.count where keys[index].identity == keyIdentity { repeated = true }
            }

            var kept = false
            if keyText == nil {
                pending.append(Diagnostic(
                    "yaml-complex-key", at: keyLocation,
                    "a map key must be a plain text, not a \(key.node.pairs != nil ? "map" : "list")",
                    hint: "write the key as text"))
            } else if let firstKept {
                pending.append(Diagnostic(
                    "duplicate-key", at: keyLocation, field: keyText!,
                    "the key '\(keyText!)' appears twice in this map (first at line \(firstKept.line ?? 0))",
                    hint: "remove or merge one of them"))
            } else {
                kept = true
                keptIndex?[keyText!] = keyLocation
            }
            keys.append(KeyEntry(identity: keyIdentity, location: keyLocation, kept: kept))

            try advance()
            let valueDiagnostics = pending.count
            let value = try load(needIdentity: identify)
            if kept {
                pairStack.append(YAMLPair(key: keyText!, keyLocation: keyLocation, value: value.node))
            } else {
                pending.removeSubrange(valueDiagnostics...)  // skipped entries are not converted
            }
            if identify, let valueIdentity = value.identity {
                identities.append(keyIdentity)
                identities.append(valueIdentity)
            }
        }
        if repeated { throw Failure(diagnostic: repeatedKeys(since: keyBase)) }
        keys.removeSubrange(keyBase...)

        let node = YAMLNode(.mapping(Self.take(&pairStack, from: pairBase)), at: location)
        guard identify else { return Loaded(node: node, identity: nil) }
        let identity = KeyIdentity.mapping(identities, tag: tag)
        if let anchor {
            anchors[anchor] = Anchored(node: node, identity: identity, diagnostics: Array(pending[diagnosticBase...]), size: expandedNodes - nodesBefore)
        }
        return Loaded(node: node, identity: identity)
    }

    /// Moves the top of `stack`, from `base` on, into a new array of exactly that size. (`Array(stack[0...])`
    /// would share the stack's buffer, spare capacity included.)
    private static func take<Element>(_ stack: inout [Element], from base: Int) -> [Element] {
        let count = stack.count - base
        guard count > 0 else { return [] }
        let result = [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            stack.withUnsafeBufferPointer { source in
                _ = buffer.initialize(fromContentsOf: UnsafeBufferPointer(rebasing: source[base...]))
            }
            initialized = count
        }
        stack.removeSubrange(base...)
        return result
    }

    // MARK: - Errors

    /// Yams' `duplicatedKeysInMapping`: the repeated keys sorted, located at the first occurrence of the first.
    private func repeatedKeys(since keyBase: Int) -> Diagnostic {
        var first: [KeyIdentity: SourceLocation] = [:]
        var count: [KeyIdentity: Int] = [:]
        for entry in keys[keyBase...] {
            if first[entry.identity] == nil { first[entry.identity] = entry.location }
            count[entry.identity, default: 0] += 1
        }
        let repeated = count.filter { $0.value > 1 }.keys.sorted(by: Self.yamsLess)
        let names = repeated.map { "'\(Self.yamsString($0) ?? "<uncovertable>")'" }
        return Diagnostic(
            "duplicate-key", at: first[repeated[0]]!,
            "the key(s) \(names.joined(separator: ", ")) appear more than once in one map",
            hint: "remove or merge the duplicates")
    }

    /// `Yams.Node.<`: scalars by text, lists and maps element by element (maps by their keys), else unordered.
    private static func yamsLess(_ lhs: KeyIdentity, _ rhs: KeyIdentity) -> Bool {
        func lexicographic(_ l: [KeyIdentity], _ r: [KeyIdentity]) -> Bool {
            for (a, b) in zip(l, r) {
                if yamsLess(a, b) { return true }
                if yamsLess(b, a) { return false }
            }
            return l.count < r.count
        }
        switch (lhs, rhs) {
        case (.scalar(let l, _), .scalar(let r, _)): return l < r
        case (.sequence(let l, _), .sequence(let r, _)): return lexicographic(l, r)
        case (.mapping(let l, _), .mapping(let r, _)):
            return lexicographic(stride(from: 0, to: l.count, by: 2).map { l[$0] },
                                 stride(from: 0, to: r.count, by: 2).map { r[$0] })
        default: return false
        }
    }

    /// `Yams.Node.string`: a scalar's text, or the value of a map's `!!value` key.
    private static func yamsString(_ identity: KeyIdentity) -> String? {
        switch identity {
        case .scalar(let text, _): return text
        case .mapping(let pairs, _):
            for index in stride(from: 0, to: pairs.count, by: 2) {
                if case .scalar(_, "tag:yaml.org,2002:value") = pairs[index] { return yamsString(pairs[index + 1]) }
            }
            return nil
        case .sequence: return nil
        }
    }

    /// What `YAMLDocument` made of Yams' `YamlError(from: parser)`.
    private func parserError() -> Diagnostic {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "unknown problem"
        switch state.error {
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR, YAML_COMPOSER_ERROR:
            var message = "YAML syntax error: \(problem)"
            if let context = state.context {
                message += " (\(String(cString: context)) at line \(Int(state.context_mark.line) + 1))"
            }
            let location = SourceLocation(
                file: file, line: Int(state.problem_mark.line) + 1, column: Int(state.problem_mark.column) + 1)
            return Diagnostic("yaml-syntax", at: location, message, hint: Self.syntaxHint)
        case YAML_READER_ERROR:
            return Diagnostic(
                "yaml-syntax", at: SourceLocation(file: file), "YAML reader error: \(problem)", hint: Self.syntaxHint)
        case YAML_MEMORY_ERROR:
            return Diagnostic("yaml-syntax", at: SourceLocation(file: file), "YAML error: Memory error", hint: Self.syntaxHint)
        default:
            return Diagnostic(
                "yaml-syntax", at: SourceLocation(file: file), "YAML error: \(problem)", hint: Self.syntaxHint)
        }
    }

    // MARK: - Text

    /// The tag Yams resolves with the `.basic` resolver; nil for the kind's default tag.
    private static func resolvedTag(_ pointer: UnsafeMutablePointer<yaml_char_t>?, default defaultTag: String) -> String? {
        guard let pointer else { return nil }
        let tag = String(cString: pointer)
        return tag == "!" || tag == defaultTag ? nil : tag
    }

    /// A scalar's bytes as text; like Yams' `String(bytes:encoding: .utf8)`, one leading byte order mark is dropped.
    private static func string(_ value: UnsafeMutablePointer<yaml_char_t>?, _ length: Int) -> String {
        guard let value, length > 0 else { return "" }
        var start = UnsafePointer(value)
        var count = length
        if hasByteOrderMark(start, count) {
            start += 3
            count -= 3
        }
        return String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    }

    private static func hasByteOrderMark(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Bool {
        guard let bytes, count >= 3 else { return false }
        return bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF
    }

    /// Whether `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF),
    /// exactly what `String(data:encoding: .utf8)` accepts.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        @inline(__always) func continuation(_ offset: Int) -> Bool { base[index + offset] & 0xC0 == 0x80 }
        while index < count {
            while index + 8 <= count,
                  UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
            }
            guard index < count else { break }
            let lead = base[index]
            if lead < 0x80 {
                index += 1
            } else if lead < 0xC2 {
                return false
            } else if lead < 0xE0 {
                guard index + 1 < count, continuation(1) else { return false }
                index += 2
            } else if lead < 0xF0 {
                guard index + 2 < count, continuation(1), continuation(2) else { return false }
                let second = base[index + 1]
                if lead == 0xE0 && second < 0xA0 || lead == 0xED && second > 0x9F { return false }
                index += 3
            } else if lead < 0xF5 {
                guard index + 3 < count, continuation(1), continuation(2), continuation(3) else { return false }
                let second = base[index + 1]
                if lead == 0xF0 && second < 0x90 || lead == 0xF4 && second > 0x8F { return false }
                index += 4
            } else {
                return false
            }
        }
        return true
    }
}
