import Foundation
import Testing
@testable import InterlockModel

/// A seeded mutation fuzzer over the YAML reader: every Examples file, mutated thousands of times (bytes flipped,
/// dropped and repeated; anchors, aliases, brackets and indentation inserted), must come back as a document or as
/// diagnostics — never a crash, never an unbounded cost. The seed is fixed so a failure is reproducible; set
/// `INTERLOCK_FUZZ_ITERATIONS` to run longer.
@Suite struct FuzzYAMLTests {
    /// SplitMix64: small, fast, reproducible.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let fragments: [[UInt8]] = ["&a ", "*a", "[", "]", "{", "}", ": ", "- ", "\n  ", "\t", "? ", "!!map ", "'", "\"", "#", "|\n", ">-\n", "&b [*a, *a, *a]\n", "\u{FEFF}", "\0", "\u{85}"]
        .map { Array($0.utf8) }

    static func mutate(_ input: [UInt8], _ random: inout Generator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...8, using: &random) {
            guard !bytes.isEmpty else { bytes = fragments.randomElement(using: &random)!; continue }
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<5, using: &random) {
            case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes.remove(at: at)
            case 2: bytes.insert(contentsOf: fragments.randomElement(using: &random)!, at: at)
            case 3:
                let end = min(bytes.count, at + Int.random(in: 1...64, using: &random))
                bytes.insert(contentsOf: Array(bytes[at..<end]), at: at)
            default:
                let end = min(bytes.count, at + Int.random(in: 1...64, using: &random))
                bytes.removeSubrange(at..<end)
            }
        }
        return bytes
    }

    static var iterations: Int { ProcessInfo.processInfo.environment["INTERLOCK_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 6000 }

    static func examples() throws -> [(String, [UInt8])] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Examples")
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var files: [(String, [UInt8])] = []
        while let path = enumerator?.nextObject() as? String {
            guard path.hasSuffix(".yaml") else { continue }
            files.append((path, Array(try Data(contentsOf: root.appendingPathComponent(path)))))
        }
        return files.sorted { $0.0 < $1.0 }
    }

    @Test func mutatedYAMLIsADocumentOrDiagnosticsNeverACrash() throws {
        let files = try Self.examples()
        try #require(!files.isEmpty)
        var random = Generator(state: 0x1A7E_2026)
        var documents = 0, refused = 0
        let started = ContinuousClock.now
        for index in 0..<Self.iterations {
            let (name, bytes) = files[index % files.count]
            let input = Self.mutate(bytes, &random)
            var diagnostics = Diagnostics()
            let node = YAMLEventReader.parse(Data(input), file: name, diagnostics: &diagnostics)
            if node == nil {
                refused += 1
                #expect(!diagnostics.all.isEmpty, "iteration \(index): no document and no diagnostic for a mutation of \(name)")
            } else {
                documents += 1
            }
        }
        let elapsed = ContinuousClock.now - started
        print("fuzz: YAML reader: \(Self.iterations) executions (\(documents) documents, \(refused) refused with diagnostics) in \(elapsed)")
        #expect(documents > 0 && refused > 0, "the mutations reach both outcomes")
    }

    @Test func mutatedRepositoriesValidateWithoutCrashing() throws {
        // Whole-repository validation over mutated site and component files: diagnostics, never a crash.
        var random = Generator(state: 0x5EED)
        let base = Fixture()
        let names = base.files.keys.sorted()
        for index in 0..<(Self.iterations / 20) {
            var fixture = base
            let name = names[index % names.count]
            fixture.files[name] = String(decoding: Self.mutate(Array(base.files[name]!.utf8), &random), as: UTF8.self)
            _ = fixture.validate()
        }
        print("fuzz: repository validation: \(Self.iterations / 20) executions")
    }
}
