import Foundation
import InterlockModel
import Testing
@testable import InterlockEngine

/// A seeded mutation fuzzer over what a command driver may print: mutated observe, apply and rollback answers are
/// parsed into live state or refused with the field at fault — never a crash, never a path outside the rules.
@Suite struct FuzzDriverResponseTests {
    static let hash = "sha256:" + String(repeating: "ab", count: 32)
    static let seeds = [
        #"{"resources": [{"path": "files/a.conf", "hash": "\#(hash)", "mode": "0640"}, {"path": "flows/energy", "content": "{}", "managed": false}], "drift": [{"path": "files/a.conf", "kind": "modified", "expected": "\#(hash)", "actual": "\#(hash)"}]}"#,
        #"{"applied": ["files/a.conf"], "rollback": {"backup": 7}}"#,
        #"{"rolledBack": ["files/a.conf"]}"#,
        #"{"error": {"code": "refused", "message": "no", "hint": "later"}}"#,
    ].map { Array($0.utf8) }

    @Test func mutatedDriverAnswersAreParsedOrRefusedNeverACrash() {
        var random = SplitMix(seed: 0xD71E_2026)
        let iterations = ProcessInfo.processInfo.environment["INTERLOCK_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 6000
        var parsed = 0, refused = 0
        let plan = Plan(site: "plant-a", commit: nil, liveFingerprint: "sha256:0", desiredFingerprint: "sha256:1", operations: [
            Operation(action: .create, kind: .file, path: "files/a.conf", policyPath: "files/a.conf", beforeHash: nil, afterHash: Self.hash, afterMode: nil, content: Data("x".utf8)),
        ], drift: [])
        for index in 0..<iterations {
            var bytes = Self.seeds[index % Self.seeds.count]
            for _ in 0..<Int.random(in: 1...6, using: &random) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 32...126, using: &random)
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(contentsOf: Array(["../", "/", "\\", ".interlock/", "\"", "null", "[]", "{}", "1e999"].randomElement(using: &random)!.utf8), at: at)
                default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 16)], at: at)
                }
            }
            guard let value = try? Value.parseJSON(Data(bytes)) else { refused += 1; continue }
            if let live = try? DriverProtocol.liveState(from: value) {
                parsed += 1
                for path in live.resources.keys { #expect(TargetPath.problem(with: path) == nil, "accepted path \(path)") }
            } else {
                refused += 1
            }
            _ = try? DriverProtocol.applied(from: value, plan: plan)
            _ = try? DriverProtocol.rolledBack(from: value)
            _ = DriverProtocol.reportedError(from: value)
        }
        print("fuzz: driver answers: \(iterations) executions (\(parsed) parsed as live state, \(refused) refused)")
        #expect(parsed > 0 && refused > 0)
    }
}
