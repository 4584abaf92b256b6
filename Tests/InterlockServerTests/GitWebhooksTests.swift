import Crypto
import Foundation
import HTTPTypes
@testable import InterlockServer
import Testing

/// Each git host's push webhook, as the host sends it: verified by its own scheme, the branch and repository read
/// from its own payload shape, and everything unsigned, wrongly signed or beside the point told apart.
@Suite struct GitWebhooksTests {
    static let secret = "9f2c4e1a7b3d5f60c8e2a4b6d8f01357"

    static func hmac(_ body: String, secret: String = secret) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Data(secret.utf8))).map { String(format: "%02x", $0) }.joined()
    }

    static func headers(_ pairs: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields[HTTPField.Name(name)!] = value }
        return fields
    }

    static let githubPush = #"{"ref": "refs/heads/main", "before": "0000", "after": "3c487c1ee4aa0000000000000000000000000001", "repository": {"full_name": "example/desired-state", "clone_url": "https://github.example.com/example/desired-state.git"}}"#
    static let gitlabPush = #"{"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": "3c487c1ee4aa0000000000000000000000000001", "project": {"path_with_namespace": "example/desired-state", "git_http_url": "https://gitlab.example.com/example/desired-state.git"}}"#
    static let bitbucketCloudPush = #"{"push": {"changes": [{"new": {"type": "branch", "name": "main", "target": {"hash": "3c487c1ee4aa0000000000000000000000000001"}}}]}, "repository": {"full_name": "example/desired-state"}}"#
    static let bitbucketServerPush = #"{"eventKey": "repo:refs_changed", "changes": [{"ref": {"id": "refs/heads/main"}, "toHash": "3c487c1ee4aa0000000000000000000000000001"}], "repository": {"slug": "desired-state", "project": {"key": "EXAMPLE"}}}"#

    func interpret(_ provider: GitWebhooks.Provider, _ event: String, _ body: String, branch: String = "main", repository: String? = "example/desired-state") -> GitWebhooks.Outcome? {
        try? GitWebhooks.interpret(provider: provider, event: event, body: Array(body.utf8), branch: branch, repository: repository).get()
    }

    @Test func everyHostsSignedPushIsVerifiedAndRead() throws {
        let cases: [(GitWebhooks.Provider, [String: String], String, String)] = [
            (.github, ["X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + Self.hmac(Self.githubPush)], Self.githubPush, "push"),
            (.gitea, ["X-Gitea-Event": "push", "X-Gitea-Signature": Self.hmac(Self.githubPush), "X-GitHub-Event": "push"], Self.githubPush, "push"),
            (.forgejo, ["X-Forgejo-Event": "push", "X-Forgejo-Signature": Self.hmac(Self.githubPush)], Self.githubPush, "push"),
            (.gitlab, ["X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": Self.secret], Self.gitlabPush, "Push Hook"),
            (.bitbucket, ["X-Event-Key": "repo:push", "X-Hub-Signature": "sha256=" + Self.hmac(Self.bitbucketCloudPush)], Self.bitbucketCloudPush, "repo:push"),
            (.bitbucket, ["X-Event-Key": "repo:refs_changed", "X-Hub-Signature": "sha256=" + Self.hmac(Self.bitbucketServerPush)], Self.bitbucketServerPush, "repo:refs_changed"),
        ]
        for (provider, headers, body, event) in cases {
            let verified = try GitWebhooks.verify(headers: Self.headers(headers), body: Array(body.utf8), secret: Self.secret).get()
            #expect(verified.0 == provider && verified.1 == event)
            let outcome = try #require(interpret(provider, event, body))
            guard case .push(let push) = outcome else { Issue.record("\(provider): \(outcome)"); continue }
            #expect(push.ref == "refs/heads/main" && push.after == "3c487c1ee4aa0000000000000000000000000001", "\(provider): \(push)")
            #expect(GitWebhooks.sameRepository(push.repository, "example/desired-state"), "\(provider): \(push.repository)")
        }
    }

    @Test func unsignedWronglySignedAndForeignRequestsAreRefused() {
        let body = Array(Self.githubPush.utf8)
        func refused(_ headers: [String: String]) -> String? {
            if case .failure(let refusal) = GitWebhooks.verify(headers: Self.headers(headers), body: body, secret: Self.secret) { return refusal.message }
            return nil
        }
        #expect(refused([:])?.contains("no event header") == true)
        #expect(refused(["X-GitHub-Event": "push"])?.contains("not signed") == true)
        #expect(refused(["X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + Self.hmac(Self.githubPush, secret: "another-secret-of-32-characters!")])?.contains("does not match") == true)
        #expect(refused(["X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + Self.hmac(Self.githubPush + " ")])?.contains("does not match") == true, "a body changed after signing")
        #expect(refused(["X-GitHub-Event": "push", "X-Hub-Signature": "sha1=0123"]) != nil, "the SHA-1 signature alone is not accepted")
        #expect(refused(["X-Gitlab-Event": "Push Hook"])?.contains("no X-Gitlab-Token") == true)
        #expect(refused(["X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": Self.secret + "x"])?.contains("does not match") == true)
        #expect(refused(["X-Gitea-Event": "push", "X-Gitea-Signature": String(repeating: "0", count: 64)])?.contains("does not match") == true)
        #expect(refused(["X-Event-Key": "repo:push"])?.contains("not signed") == true)
    }

    @Test func pushesToAnotherBranchOrRepositoryAndOtherEventsAreIgnored() throws {
        let other = Self.githubPush.replacingOccurrences(of: "refs/heads/main", with: "refs/heads/feature/x")
        guard case .ignored(let why)? = interpret(.github, "push", other) else { Issue.record("another branch"); return }
        #expect(why.contains("refs/heads/feature/x"))
        guard case .ignored? = interpret(.github, "push", Self.githubPush, repository: "example/another-repo") else { Issue.record("another repository"); return }
        guard case .ignored? = interpret(.github, "push", Self.githubPush, repository: "evil-example/desired-state") else { Issue.record("a name that only ends alike"); return }
        guard case .push? = interpret(.github, "push", Self.githubPush, repository: "https://github.example.com/example/desired-state.git") else { Issue.record("the clone URL"); return }
        guard case .push? = interpret(.github, "push", Self.githubPush, repository: nil) else { Issue.record("any repository"); return }
        // Names compare by their whole path (and host, when the configured value names one).
        #expect(!GitWebhooks.sameRepository("ot/ot/desired-state", "ot/desired-state"), "a subgroup is another repository")
        #expect(!GitWebhooks.sameRepository("https://evil.example/ot/desired-state.git", "https://git.example.com/ot/desired-state.git"))
        #expect(GitWebhooks.sameRepository("git@git.example.com:OT/desired-state.git", "https://git.example.com/ot/desired-state"))
        #expect(GitWebhooks.sameRepository("ot/desired-state", "ot/desired-state/"))
        // A deleted branch, and a Bitbucket tag named like the branch, are not pushes to it.
        let deleted = Self.githubPush.replacingOccurrences(of: "\"before\"", with: "\"deleted\": true, \"before\"")
        guard case .ignored(let gone)? = interpret(.github, "push", deleted) else { Issue.record("a deleted branch"); return }
        #expect(gone.contains("deleted"))
        let tag = Self.bitbucketCloudPush.replacingOccurrences(of: "\"type\": \"branch\"", with: "\"type\": \"tag\"")
        guard case .ignored(let tagWhy)? = interpret(.bitbucket, "repo:push", tag) else { Issue.record("a tag named main"); return }
        #expect(tagWhy.contains("refs/tags/main"))
        // The commit the host claims is kept only when it looks like one.
        guard case .push(let zeros)? = interpret(.github, "push", Self.githubPush.replacingOccurrences(of: "3c487c1ee4aa0000000000000000000000000001", with: String(repeating: "0", count: 40)))
        else { Issue.record("zeros"); return }
        #expect(zeros.after == nil)
        #expect(GitWebhooks.branchName("refs/heads/main") == "main" && GitWebhooks.branchName("origin/main") == "main" && GitWebhooks.branchName("main") == "main")
        guard case .ignored? = interpret(.github, "ping", "{}") else { Issue.record("ping"); return }
        guard case .ignored? = interpret(.gitlab, "Tag Push Hook", Self.gitlabPush) else { Issue.record("tag push"); return }
        #expect(throws: GitWebhooks.Refusal.self) { try GitWebhooks.interpret(provider: .github, event: "push", body: Array("not json".utf8), branch: "main", repository: nil).get() }
        #expect(throws: GitWebhooks.Refusal.self) { try GitWebhooks.interpret(provider: .github, event: "push", body: Array("{}".utf8), branch: "main", repository: nil).get() }
    }
}
