import Foundation
import Testing
@testable import InterlockModel

/// `YAMLDocument.parse` reads libyaml events directly; it must build the same trees and report the same
/// diagnostics as the `Yams.compose` conversion it replaced (`YAMLDocument.parseWithYamsCompose`).
@Suite struct YAMLEventReaderTests {
    struct Result: Equatable, CustomStringConvertible {
        var node: YAMLNode?
        var diagnostics: [Diagnostic]
        var description: String { "\(node.map { "\($0)" } ?? "nil")\n\(diagnostics.map(\.description))" }
    }

    static let file = "test.yaml"

    static func read(_ data: Data) -> Result {
        var diagnostics = Diagnostics()
        let node = YAMLDocument.parse(data, file: file, diagnostics: &diagnostics)
        return Result(node: node, diagnostics: diagnostics.all)
    }

    static func reference(_ data: Data) -> Result {
        var diagnostics = Diagnostics()
        let node = YAMLDocument.parseWithYamsCompose(data, file: file, diagnostics: &diagnostics)
        return Result(node: node, diagnostics: diagnostics.all)
    }

    /// Parses `text` with the new reader, checks the Yams reference agrees, and returns the result.
    @discardableResult
    func parse(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Result {
        parse(Data(text.utf8), sourceLocation: sourceLocation)
    }

    @discardableResult
    func parse(_ data: Data, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Result {
        let result = Self.read(data)
        let expected = Self.reference(data)
        #expect(result == expected, "event reader and Yams reference differ", sourceLocation: sourceLocation)
        return result
    }

    func at(_ line: Int, _ column: Int) -> InterlockModel.SourceLocation { InterlockModel.SourceLocation(file: Self.file, line: line, column: column) }
    func plain(_ text: String, _ line: Int, _ column: Int) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(text: text, quoted: false)), at: at(line, column))
    }
    func quoted(_ text: String, _ line: Int, _ column: Int) -> YAMLNode {
        YAMLNode(.scalar(YAMLScalar(text: text, quoted: true)), at: at(line, column))
    }
    func pair(_ key: String, _ line: Int, _ column: Int, _ value: YAMLNode) -> YAMLPair {
        YAMLPair(key: key, keyLocation: at(line, column), value: value)
    }

    // MARK: - Trees

    @Test func nestedMapsAndLists() throws {
        let result = parse("""
            name: energy
            bricks:
              - id: a
                ports: [1, 2]
              - id: b
            meta:
              owner: ops
            """)
        #expect(result.diagnostics.isEmpty)
        let expected = YAMLNode(.mapping([
            pair("name", 1, 1, plain("energy", 1, 7)),
            pair("bricks", 2, 1, YAMLNode(.sequence([
                YAMLNode(.mapping([
                    pair("id", 3, 5, plain("a", 3, 9)),
                    pair("ports", 4, 5, YAMLNode(.sequence([plain("1", 4, 13), plain("2", 4, 16)]), at: at(4, 12))),
                ]), at: at(3, 5)),
                YAMLNode(.mapping([pair("id", 5, 5, plain("b", 5, 9))]), at: at(5, 5)),
            ]), at: at(3, 3))),
            pair("meta", 6, 1, YAMLNode(.mapping([pair("owner", 7, 3, plain("ops", 7, 10))]), at: at(7, 3))),
        ]), at: at(1, 1))
        #expect(result.node == expected)
    }

    @Test func scalarStyles() throws {
        let result = parse("""
            plain: text here
            single: 'it''s'
            double: "tab\\tend \\u00e9"
            literal: |
              line one
              line two
            folded: >
              folded
              text
            empty:
            tilde: ~
            number: 0644
            quotedNumber: "0644"
            """)
        #expect(result.diagnostics.isEmpty)
        let node = try #require(result.node)
        #expect(node["plain"]?.scalar == YAMLScalar(text: "text here", quoted: false))
        #expect(node["single"]?.scalar == YAMLScalar(text: "it's", quoted: true))
        #expect(node["double"]?.scalar == YAMLScalar(text: "tab\tend é", quoted: true))
        #expect(node["literal"]?.scalar == YAMLScalar(text: "line one\nline two\n", quoted: true))
        #expect(node["folded"]?.scalar == YAMLScalar(text: "folded text\n", quoted: true))
        #expect(node["empty"]?.scalar == YAMLScalar(text: "", quoted: false))
        #expect(node["empty"]?.isNull == true)
        #expect(node["tilde"]?.isNull == true)
        #expect(node["number"]?.value == .int(644))
        #expect(node["quotedNumber"]?.value == .string("0644"))
        #expect(node["literal"]?.location == at(4, 10))
        #expect(node["single"]?.location == at(2, 9))
    }

    @Test func flowCollections() throws {
        let result = parse("target: { driver: files, root: plant-a }\nsites: [plant-a, 'plant-b', {x: 1}]\nempty: {}\nnone: []\n")
        #expect(result.diagnostics.isEmpty)
        let node = try #require(result.node)
        #expect(node["target"] == YAMLNode(.mapping([
            pair("driver", 1, 11, plain("files", 1, 19)),
            pair("root", 1, 26, plain("plant-a", 1, 32)),
        ]), at: at(1, 9)))
        #expect(node["sites"] == YAMLNode(.sequence([
            plain("plant-a", 2, 9), quoted("plant-b", 2, 18),
            YAMLNode(.mapping([pair("x", 2, 30, plain("1", 2, 33))]), at: at(2, 29)),
        ]), at: at(2, 8)))
        #expect(node["empty"] == YAMLNode(.mapping([]), at: at(3, 8)))
        #expect(node["none"] == YAMLNode(.sequence([]), at: at(4, 7)))
    }

    @Test func anchorsAndAliases() throws {
        let result = parse("""
            base: &base
              image: broker
              port: 1883
            copy: *base
            name: &n broker
            again: *n
            list: [&i 1, *i]
            """)
        #expect(result.diagnostics.isEmpty)
        let node = try #require(result.node)
        // An alias stands for the anchored node, located where its anchor was written (as Yams.compose did).
        #expect(node["copy"] == node["base"])
        #expect(node["copy"]?.location == at(1, 7))
        #expect(node["again"] == plain("broker", 5, 7))
        #expect(node["list"]?.items == [plain("1", 7, 8), plain("1", 7, 8)])
        // U+FFFF is not allowed by libyaml: a reader error, the same in both.
        #expect(parse("a: \u{FFFF}\n").diagnostics.first?.message.hasPrefix("YAML reader error") == true)
    }

    @Test func undefinedAliasIsASyntaxError() throws {
        let result = parse("a: 1\nb: *missing\n")
        #expect(result.node == nil)
        #expect(result.diagnostics.map(\.code) == ["yaml-syntax"])
        #expect(result.diagnostics.first?.location == at(2, 4))
        #expect(result.diagnostics.first?.message == "YAML syntax error: found undefined alias")
    }

    @Test func aliasAsKeyAndMergeKey() {
        parse("k: &k name\n*k : value\n")
        parse("base: &b {a: 1}\nchild:\n  <<: *b\n  c: 2\n")
        parse("x: &m {a: 1}\n*m : 2\n")
        parse("x: &m {a: 1}\n? *m\n: 2\n? {a: 1}\n: 3\n")
    }

    @Test func comments() throws {
        let result = parse("# header\nname: a # trailing\n# between\nlist:\n  # inside\n  - 1\n")
        #expect(result.diagnostics.isEmpty)
        #expect(result.node == YAMLNode(.mapping([
            pair("name", 2, 1, plain("a", 2, 7)),
            pair("list", 4, 1, YAMLNode(.sequence([plain("1", 6, 5)]), at: at(6, 3))),
        ]), at: at(2, 1)))
    }

    @Test func emptyDocuments() throws {
        for text in ["", "\n\n", "# only a comment\n", "   "] {
            let result = parse(text)
            #expect(result.diagnostics.isEmpty)
            #expect(result.node == YAMLNode(.mapping([]), at: at(1, 1)))
        }
        // An explicit but empty document is an empty plain scalar, as before.
        let explicit = parse("---\n")
        #expect(explicit.node == plain("", 2, 1))
        parse("--- # c\n...\n")
        parse("just a scalar")
    }

    @Test func multipleDocumentsAreAnError() throws {
        let result = parse("a: 1\n---\nb: 2\n")
        #expect(result.node == nil)
        let diagnostic = try #require(result.diagnostics.first)
        #expect(result.diagnostics.count == 1)
        #expect(diagnostic.code == "yaml-syntax")
        #expect(diagnostic.location == at(2, 1))
        #expect(diagnostic.message == "YAML syntax error: but found another document (expected a single document in the stream at line 1)")
        parse("---\na: 1\n...\n---\nb: 2\n")
        parse("a: 1\n...\n")
    }

    @Test func duplicateKeys() throws {
        let result = parse("name: a\nlines: 3\nname: b\n")
        #expect(result.node == nil)
        #expect(result.diagnostics.map(\.code) == ["duplicate-key"])
        #expect(result.diagnostics.first?.location == at(1, 1))
        #expect(result.diagnostics.first?.message == "the key(s) 'name' appear more than once in one map")

        let several = parse("b: 1\na: 1\nb: 2\na: 2\nc: {x: 1, x: 2}\n")
        // The inner map ends first, so its duplicate is the one reported.
        #expect(several.diagnostics.map(\.message) == ["the key(s) 'x' appear more than once in one map"])
        let two = parse("b: 1\na: 1\nb: 2\na: 2\n")
        #expect(two.diagnostics.map(\.message) == ["the key(s) 'a', 'b' appear more than once in one map"])
        #expect(two.diagnostics.first?.location == at(2, 1))

        // The same text with another tag is not a duplicate for Yams; the conversion keeps the first.
        // (Quoted and plain text both resolve to `str`, so `'a'` repeats `a`.)
        #expect(parse("a: 1\n'a': 2\n").diagnostics.map(\.message) == ["the key(s) 'a' appear more than once in one map"])
        let tagged = parse("a: 1\n!foo a: 2\n")
        #expect(tagged.node?.pairs?.map(\.key) == ["a"])
        #expect(tagged.diagnostics.map(\.code) == ["duplicate-key"])
        #expect(tagged.diagnostics.first?.location == at(2, 1))
        #expect(tagged.diagnostics.first?.message == "the key 'a' appears twice in this map (first at line 1)")
        parse("!!str a: 1\na: 2\n")
        parse("a: 1\n!x a: {k: [1, 2]}\n!y a: 3\n!x a: 4\n")

        // A large map uses hashing instead of scanning.
        let many = (0..<40).map { "k\($0): \($0)\n" }.joined()
        #expect(parse(many).node?.pairs?.count == 40)
        #expect(parse(many + "k7: again\n").diagnostics.map(\.message) == ["the key(s) 'k7' appear more than once in one map"])
        parse(many + "!t k7: again\n!u k9: x\n")
    }

    @Test func complexKeys() throws {
        let result = parse("? [a, b]\n: list\n? {x: 1}\n: map\nok: 1\n")
        #expect(result.node?.pairs?.map(\.key) == ["ok"])
        #expect(result.diagnostics.map(\.code) == ["yaml-complex-key", "yaml-complex-key"])
        #expect(result.diagnostics.map(\.location) == [at(1, 3), at(3, 3)])
        #expect(result.diagnostics.map(\.message) == [
            "a map key must be a plain text, not a list", "a map key must be a plain text, not a map",
        ])
        // Nothing inside a skipped entry is reported.
        parse("? {a: 1, !t a: 2}\n: {b: 1, ? [c]: 2}\nd: 1\n")
        // Equal complex keys are duplicates for Yams.
        let repeated = parse("? [a]\n: 1\n? [a]\n: 2\n")
        #expect(repeated.node == nil)
        #expect(repeated.diagnostics.map(\.message) == ["the key(s) '<uncovertable>' appear more than once in one map"])
        parse("? [a]\n: 1\n? !t [a]\n: 2\n")
        parse("[a, b]: 1\n{x: y}: 2\n")
        // Reported again wherever an alias repeats it.
        parse("x: &x {? [k]: 1}\ny: *x\nz: *x\n")
    }

    // MARK: - Errors

    @Test func syntaxErrorsWithLineAndColumn() throws {
        let bad = parse("name: energy\nbricks:\n  - id: a\n   type: x\n")
        #expect(bad.node == nil)
        let diagnostic = try #require(bad.diagnostics.first)
        #expect(bad.diagnostics.count == 1)
        #expect(diagnostic.code == "yaml-syntax")
        #expect(diagnostic.location == at(4, 4))
        #expect(diagnostic.message == "YAML syntax error: did not find expected '-' indicator (while parsing a block collection at line 3)")
        #expect(diagnostic.hint == "fix the YAML syntax (indentation, a missing ':' or an unclosed quote)")

        let unclosed = parse("a: \"open\nb: 2\n")
        #expect(unclosed.diagnostics.map(\.location) == [at(3, 1)])
        #expect(unclosed.diagnostics.first?.message == "YAML syntax error: found unexpected end of stream (while scanning a quoted scalar at line 1)")

        for text in [
            "a: b: c\n", "- a\nb: c\n", "key: [1, 2\n", "a:\n\t- b\n", "{a: 1", "a: @x\n", "a: 'x\n", "&a\n",
            "a: !<bad tag x\n", "%YAML 2.0\n---\na: 1\n", "a: |\n  x\n y\n", "a: *\n", "- [a, b]]\n", "? a\n? b\n:",
            "a: \"\\q\"\n", "a: \"\\ud800\"\n", "x:\n  - a\n  -b: c\n d: e\n",
        ] {
            let result = parse(text)
            #expect(result.node == nil || result.diagnostics.allSatisfy { $0.code != "yaml-syntax" }, "\(text)")
        }
    }

    @Test func controlCharactersAreReaderErrors() throws {
        let result = parse(Data("a: \u{1}\n".utf8))
        #expect(result.node == nil)
        #expect(result.diagnostics.map(\.code) == ["yaml-syntax"])
        #expect(result.diagnostics.first?.message.hasPrefix("YAML reader error:") == true)
        #expect(result.diagnostics.first?.location == InterlockModel.SourceLocation(file: Self.file))
        parse(Data([0x61, 0x3A, 0x20, 0x00, 0x0A]))
    }

    // MARK: - Bytes

    @Test func notUTF8() throws {
        for bytes: [UInt8] in [
            [0x61, 0x3A, 0x20, 0xFF], [0xC0, 0x80], [0x61, 0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xE2, 0x82], [0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xE0, 0x9F, 0x80], [0xFE, 0xFF, 0x00, 0x61],
            Array("name: caf".utf8) + [0xE9] + Array("\n".utf8),
        ] {
            let result = parse(Data(bytes))
            #expect(result.node == nil)
            #expect(result.diagnostics.map(\.code) == ["not-utf8"])
            #expect(result.diagnostics.first?.location == InterlockModel.SourceLocation(file: Self.file))
        }
        // Well-formed multi-byte text, including the edges of each range, is fine.
        let good = parse("name: café ✓ 𝄞 \u{7FF}\u{800}\u{FFFD}\u{10000}\u{10FFFF} \u{D7FF}\u{E000}\n")
        #expect(good.node?["name"]?.scalar?.text == "café ✓ 𝄞 \u{7FF}\u{800}\u{FFFD}\u{10000}\u{10FFFF} \u{D7FF}\u{E000}")
        #expect(YAMLEventReader.isValidUTF8(UnsafeBufferPointer(start: nil, count: 0)))
    }

    @Test func byteOrderMark() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let result = parse(Data(bom + Array("name: a\nlist: [1]\n".utf8)))
        #expect(result.diagnostics.isEmpty)
        #expect(result.node == YAMLNode(.mapping([
            pair("name", 1, 1, plain("a", 1, 7)),
            pair("list", 2, 1, YAMLNode(.sequence([plain("1", 2, 8)]), at: at(2, 7))),
        ]), at: at(1, 1)))
        parse(Data(bom))
        parse(Data(bom + bom + Array("a: 1\n".utf8)))
        parse(Data(bom + Array("a: \"\\uFEFFx\"\nb: \"\\uFEFF\\uFEFFy\"\nc: x\u{FEFF}\n".utf8)))
        parse(Data(bom + Array("bad: [\n".utf8)))
    }

    @Test func crlfLineEndings() throws {
        let result = parse("name: a\r\nlist:\r\n  - 1\r\n  - \"two\"\r\ntext: |\r\n  x\r\n  y\r\n")
        #expect(result.diagnostics.isEmpty)
        let node = try #require(result.node)
        #expect(node["list"] == YAMLNode(.sequence([plain("1", 3, 5), quoted("two", 4, 5)]), at: at(3, 3)))
        #expect(node["text"]?.scalar?.text == "x\ny\n")
        parse("a: 1\r\n  b: 2\r\n")
        parse("a: 1\rb: 2\r")
    }

    @Test func sameResultForManyDocuments() throws {
        for text in [
            "a: [1, {b: [c, {d: e}]}]\n", "- - - x\n", "- ? a\n  : b\n", "!!map {a: 1}\n", "!t [1]\n",
            "a: !!str 1\nb: !!int '2'\n", "\"key\": 1\n'key2': 2\n", "? |\n  block key\n: v\n",
            "a: >-\n  x\n\n  y\n", "a: |+\n  x\n\n", "a:    \n  - 1\n", "a: &x\nb: *x\n",
            "[1, 2]\n", "x\n", "\"quoted root\"\n", "{a: 1}: 2\n", "a: b\n#c\n", "a:\n- 1\n- 2\n",
            "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n", "a: &a [*a]\n",
            "a: \"x\\0y\"\nb: \"\\0\"\n", "\"\\uFEFFk\": 1\nk: 2\n", "? !!value v\n: 1\n", "{!!value a: x}: 1\n{!!value a: x}: 2\n",
        ] {
            parse(text)
        }
    }

    // MARK: - Whole repositories

    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Examples").path

    static func exampleFiles() throws -> [String] {
        let enumerator = try #require(FileManager.default.enumerator(atPath: examples))
        return enumerator.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
    }

    @Test func everyExampleFileMatchesTheYamsReference() throws {
        let files = try Self.exampleFiles()
        #expect(files.count >= 10)
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: Self.examples + "/" + file))
            let result = parse(data)
            #expect(result.node != nil, "\(file)")
            #expect(result.diagnostics.isEmpty, "\(file): \(result.diagnostics)")
        }
        for (name, text) in Fixture().files where name.hasSuffix(".yaml") {
            parse(text)
        }
    }

    /// Every example file, broken in many small ways (a byte dropped, a syntax character inserted, lines
    /// swapped), still gives the same tree or the same diagnostics as the Yams reference.
    @Test func mutatedExampleFilesMatchTheYamsReference() throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        let inserts: [[UInt8]] = [":", "-", " ", "  ", "\t", "[", "]", "{", "}", "\"", "'", "&a ", "*a", "!", "#", "|",
                                  ">", "? ", ",", "\n", "---\n", "%", "@", "\\", "\u{FEFF}", "é"].map { Array($0.utf8) }
        var mismatches: [String] = []
        var outcomes = Set<String>()
        for file in try Self.exampleFiles() {
            let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.examples + "/" + file)))
            for round in 0..<60 {
                var bytes = original
                for _ in 0...next(3) where !bytes.isEmpty {
                    switch next(4) {
                    case 0: bytes.remove(at: next(bytes.count))
                    case 1: bytes.insert(contentsOf: inserts[next(inserts.count)], at: next(bytes.count + 1))
                    case 2:
                        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                        if lines.count > 2 {
                            lines.swapAt(next(lines.count), next(lines.count))
                            bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
                        }
                    default:
                        // Repeat a line, which often repeats a key.
                        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                        let line = next(lines.count)
                        lines.insert(lines[line], at: line)
                        bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
                    }
                }
                let data = Data(bytes)
                let result = Self.read(data)
                let expected = Self.reference(data)
                outcomes.insert(result.diagnostics.first?.code ?? "ok")
                if result != expected { mismatches.append("\(file) round \(round):\n\(String(decoding: bytes, as: UTF8.self))\nnew: \(result)\nold: \(expected)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches; first: \(mismatches.first ?? "")")
        #expect(outcomes.isSuperset(of: ["ok", "yaml-syntax", "duplicate-key"]), "\(outcomes)")
    }
}
