import Foundation
import Testing
@testable import InterlockStore

@Suite("Canonical form, timestamps, keys")
struct CanonicalFormTests {
    static let record = AuditRecord(
        sequence: 7, id: "0b3c6f1e-0000-4000-8000-000000000001", timestamp: Date(timeIntervalSince1970: 1_772_366_400.123),
        actor: Fixture.manager, source: Fixture.source, category: .auditLog, action: "audit.exported", site: "plant-a",
        reason: "quarterly \"review\"\\\n\t\u{8}\u{c}\u{1f}\u{7f} é/日本",
        result: .success, details: ["b": "2", "B": "1", "é": "3", "a": ""], previousHash: AuditRecord.genesisHash, hash: ""
    )

    @Test func canonicalBytesAreSortedCompactAndEscapedLikePython() {
        let text = String(decoding: Self.record.canonicalBytes, as: UTF8.self)
        #expect(text == #"{"action":"audit.exported","actor":{"authentication":"local-password","id":"mgr-plant-a","name":"Maria Keller","role":"plant manager"},"after":null,"before":null,"category":"audit-log","changeID":null,"commit":null,"details":{"B":"1","a":"","b":"2","é":"3"},"error":null,"id":"0b3c6f1e-0000-4000-8000-000000000001","planID":null,"previousHash":"0000000000000000000000000000000000000000000000000000000000000000","reason":"quarterly \"review\"\\\n\t\b\f\u001f"# + "\u{7f} é/日本" + #"","resource":null,"result":"success","sequence":7,"site":"plant-a","source":{"host":"edge-01","pid":4242,"process":"interlock"},"timestamp":"2026-03-01T12:00:00.123Z"}"#)
    }

    @Test func pythonReproducesTheHash() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") || (try? Fixture.run("/usr/bin/env", ["python3", "--version"]).status) == 0 else {
            print("skipped: python3 is not installed"); return
        }
        let json = String(decoding: Self.record.canonicalBytes, as: UTF8.self)
        let script = "import hashlib, json, sys; o = json.loads(sys.argv[1]); print(hashlib.sha256(json.dumps(o, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()).hexdigest())"
        let (status, output) = try Fixture.run("/usr/bin/env", ["python3", "-c", script, json])
        #expect(status == 0)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == Self.record.computedHash)
    }

    @Test func timestampsFormatAndParseAtMillisecondPrecision() {
        let dates: [(Double, String)] = [
            (0, "1970-01-01T00:00:00.000Z"), (1_772_366_400.9996, "2026-03-01T12:00:01.000Z"),
            (951_782_400.5, "2000-02-29T00:00:00.500Z"), (-1.5, "1969-12-31T23:59:58.500Z"), (4_102_444_799.999, "2099-12-31T23:59:59.999Z"),
        ]
        for (seconds, text) in dates {
            #expect(AuditTimestamp.format(Date(timeIntervalSince1970: seconds)) == text)
            #expect(AuditTimestamp.parse(text).map(AuditTimestamp.milliseconds) == AuditTimestamp.milliseconds(Date(timeIntervalSince1970: seconds)))
        }
        #expect(AuditTimestamp.parse("2026-03-01T12:00:00Z") == Date(timeIntervalSince1970: 1_772_366_400))
        #expect(AuditTimestamp.parse("2026-03-01T12:00:00+00:00") != nil)
        #expect(AuditTimestamp.parse("2026-03-01T12:00:00.123+01:00") == nil)
        #expect(AuditTimestamp.parse("yesterday") == nil)
    }

    @Test func codableUsesTheCanonicalNames() throws {
        var record = Self.record
        record.hash = record.computedHash
        let data = try JSONEncoder().encode(record)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["timestamp"] as? String == "2026-03-01T12:00:00.123Z")
        #expect(object["category"] as? String == "audit-log")
        #expect(try JSONDecoder().decode(AuditRecord.self, from: data) == record)
    }

    @Test func keyFilesAreCreatedOncePrivateAndReadable() throws {
        let dir = try TemporaryDirectory()
        let state = dir.path + "/state"
        let (key, created) = try KeyStore.createIfMissing(in: state)
        #expect(created)
        let (again, createdAgain) = try KeyStore.createIfMissing(in: state)
        #expect(!createdAgain)
        #expect(again.publicKey == key.publicKey)
        let attributes = try FileManager.default.attributesOfItem(atPath: KeyStore.privateKeyPath(in: state))
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try KeyStore.loadPublicKey(from: state) == key.publicKey)
        #expect(key.publicKey.keyID.count == 16)
        // The PEM form OpenSSL writes is read too.
        let spki = Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]) + key.publicKey.rawRepresentation
        let pem = "-----BEGIN PUBLIC KEY-----\n\(spki.base64EncodedString())\n-----END PUBLIC KEY-----\n"
        #expect(try AuditPublicKey(text: pem) == key.publicKey)
        #expect(throws: AuditStoreError.self) { try AuditPublicKey(text: "not a key") }
    }

    @Test func checkpointSignaturesCoverTheDocumentedMessage() throws {
        let key = AuditSigningKey()
        let checkpoint = try AuditCheckpoint.signed(sequence: 12, headHash: String(repeating: "ab", count: 32), timestamp: Date(timeIntervalSince1970: 1_772_366_400), key: key)
        #expect(String(decoding: checkpoint.signedMessage, as: UTF8.self) == "interlock-checkpoint-v1\n12\n\(String(repeating: "ab", count: 32))\n2026-03-01T12:00:00.000Z")
        #expect(checkpoint.isSigned(by: key.publicKey))
        #expect(!checkpoint.isSigned(by: AuditSigningKey().publicKey))
        var moved = checkpoint
        moved.sequence = 13
        #expect(!moved.isSigned(by: key.publicKey))
    }
}
