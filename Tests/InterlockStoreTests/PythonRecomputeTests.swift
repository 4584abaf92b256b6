import Foundation
import Testing
@testable import InterlockStore

/// The Python script printed in docs/audit.md, run as an auditor would, against real exports.
@Suite("docs/audit.md Python recompute script")
struct PythonRecomputeTests {
    static func script() throws -> String? {
        guard (try? Fixture.run("/usr/bin/env", ["python3", "--version"]).status) == 0 else { return nil }
        let doc = try String(contentsOfFile: Fixture.packageRoot + "/docs/audit.md", encoding: .utf8)
        let marker = try #require(doc.range(of: "<!-- verify-script -->\n```python\n"))
        let end = try #require(doc.range(of: "\n```", range: marker.upperBound..<doc.endIndex))
        return String(doc[marker.upperBound..<end.lowerBound]) + "\n"
    }

    @Test func theDocumentedScriptVerifiesAnExportAndCatchesTampering() throws {
        guard let script = try Self.script() else {
            print("skipped: python3 is not installed, the documented script was not run"); return
        }
        let dir = try TemporaryDirectory()
        let scriptPath = dir.path + "/verify_audit.py"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let key = try KeyStore.createIfMissing(in: dir.path).key
        let store = try SQLiteStore(stateDirectory: dir.path, clock: SteppingClock())
        _ = try store.checkpoint(signingKey: key)
        var entries = Fixture.entries(30)
        entries[3].details = ["note": "quotes \" backslash \\ newline \n tab \t bell \u{7} unicode é 日本 😀"]
        _ = try store.append(contentsOf: entries)
        _ = try store.checkpoint(signingKey: key)
        let export = dir.path + "/audit.jsonl"
        try store.export(matching: .all, format: .jsonl, to: export)

        let (status, output) = try Fixture.run("/usr/bin/env", ["python3", scriptPath, export])
        #expect(status == 0, "\(output)")
        #expect(output.contains("OK: 30 records, head \(try store.head()!.hash)"))

        if (try? Fixture.run("/usr/bin/env", ["python3", "-c", "import cryptography"]).status) == 0 {
            let signed = try Fixture.run("/usr/bin/env", ["python3", scriptPath, export, KeyStore.publicKeyPath(in: dir.path)])
            #expect(signed.status == 0, "\(signed.output)")
            let otherKey = dir.path + "/other.pub"
            try AuditSigningKey().publicKey.text.write(toFile: otherKey, atomically: true, encoding: .utf8)
            let forged = try Fixture.run("/usr/bin/env", ["python3", scriptPath, export, otherKey])
            #expect(forged.status == 1)
            #expect(forged.output.contains("bad signature"))
        } else {
            print("note: python 'cryptography' is not installed; the script's signature check was not run")
        }

        let text = try String(contentsOfFile: export, encoding: .utf8)
        try text.replacingOccurrences(of: "\"operations\":\"5\"", with: "\"operations\":\"6\"").write(toFile: export, atomically: true, encoding: .utf8)
        let tampered = try Fixture.run("/usr/bin/env", ["python3", scriptPath, export])
        #expect(tampered.status == 1)
        #expect(tampered.output.contains("hash mismatch"))
    }
}
