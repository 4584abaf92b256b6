import Foundation
import InterlockGit
import Testing

@Suite("Commit signatures")
struct CommitSignatureTests {
    @Test func signedCommitExposesSignatureAndSignedData() throws {
        let fixture = try GitFixture()
        let path = try fixture.makeRepository()
        try fixture.write("a.txt", "one\n")
        let parent = try fixture.commitAll("Unsigned parent")
        let tree = try fixture.git(["rev-parse", "HEAD^{tree}"])

        let header = """
            tree \(tree)
            parent \(parent.hex)
            author Jane Doe <jane@example.com> 1700000000 +0100
            committer Jane Doe <jane@example.com> 1700000000 +0100

            """
        let signatureLines = [
            "-----BEGIN PGP SIGNATURE-----",
            "",
            "iQEzBAABCAAdFiEEexampleexampleexampleexampleFAmVTi0AACgkQexample",
            "=AbCd",
            "-----END PGP SIGNATURE-----",
        ]
        let gpgsig = "gpgsig " + signatureLines.joined(separator: "\n ") + "\n"
        let body = "\nSigned release\n\nBody text.\n"
        let object = header + gpgsig + body
        let signedHex = try fixture.git(["hash-object", "-t", "commit", "-w", "--stdin"], input: Data(object.utf8))
        try fixture.git(["update-ref", "refs/heads/signed", signedHex])

        let repository = try Repository.open(at: path)
        let signed = try repository.resolve("signed")
        #expect(signed.id == ObjectID(hex: signedHex))
        #expect(signed.parents == [parent])
        #expect(signed.summary == "Signed release")
        let signature = try #require(signed.signature)
        // libgit2 drops the continuation spaces and the final newline of the header.
        #expect(signature.signature == signatureLines.joined(separator: "\n"))
        #expect(signature.signedData == header + body)

        #expect(try repository.resolve("main").signature == nil)
    }
}
