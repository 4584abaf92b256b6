import Crypto
import Foundation
import HTTPTypes
import InterlockModel

/// Push webhooks of the four git hosts Interlock knows, each checked by its own scheme:
///
/// | host | event header | proof |
/// |---|---|---|
/// | GitHub | `X-GitHub-Event: push` | `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body, hex>` |
/// | Gitea, Forgejo | `X-Gitea-Event` / `X-Forgejo-Event: push` | `X-Gitea-Signature` / `X-Forgejo-Signature: <HMAC-SHA256, hex>` |
/// | GitLab | `X-Gitlab-Event: Push Hook` | `X-Gitlab-Token: <the secret>` |
/// | Bitbucket (Cloud and Data Center) | `X-Event-Key: repo:push` / `repo:refs_changed` | `X-Hub-Signature: sha256=<HMAC-SHA256, hex>` |
///
/// Pure: no I/O. The route (`POST /api/v1/hooks/git`) records refusals and triggers the pass.
public enum GitWebhooks {
    public enum Provider: String, Sendable {
        case github, gitea, forgejo, gitlab, bitbucket
    }

    /// A push the service follows, or why a signed request is not one.
    public enum Outcome: Sendable, Equatable {
        case push(Push)
        case ignored(String)
    }

    public struct Push: Sendable, Equatable {
        public var provider: Provider
        public var repository: String
        public var ref: String
        /// The commit the branch points to after the push, when the host says.
        public var after: String?
        public var delivery: String?
    }

    public struct Refusal: Error, Sendable, Equatable {
        public var message: String
        public var provider: Provider?
    }

    /// The largest body accepted (a push of many commits is tens of KiB; the hosts cap theirs at 25 MB).
    public static let maximumBody = 2 << 20

    static func header(_ headers: HTTPFields, _ name: String) -> String? {
        HTTPField.Name(name).flatMap { headers[$0] }
    }

    /// The hex HMAC-SHA256 of `body` with `secret` (as git hosts sign pushes, and as Interlock signs its webhooks).
    static func hmacSHA256<Body: DataProtocol>(_ body: Body, secret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8))).map { String(format: "%02x", $0) }.joined()
    }

    /// Which host sent the request (by its event header), and whether the proof matches `secret`.
    public static func verify(headers: HTTPFields, body: [UInt8], secret: String) -> Result<(Provider, String), Refusal> {
        func hmac(_ expected: String?, prefix: String, _ provider: Provider, _ event: String) -> Result<(Provider, String), Refusal> {
            guard let expected, expected.hasPrefix(prefix) else {
                return .failure(Refusal(message: "the \(provider.rawValue) push is not signed (no \(prefix.isEmpty ? "signature" : "'\(prefix)…' signature") header)", provider: provider))
            }
            let hex = Self.hmacSHA256(body, secret: secret)
            guard constantTimeEqual(Array(expected.dropFirst(prefix.count).lowercased().utf8), Array(hex.utf8)) else {
                return .failure(Refusal(message: "the \(provider.rawValue) push's signature does not match the configured secret", provider: provider))
            }
            return .success((provider, event))
        }
        if let event = header(headers, "X-Forgejo-Event") {
            return hmac(header(headers, "X-Forgejo-Signature"), prefix: "", .forgejo, event)
        }
        if let event = header(headers, "X-Gitea-Event") {
            return hmac(header(headers, "X-Gitea-Signature"), prefix: "", .gitea, event)
        }
        if let event = header(headers, "X-GitHub-Event") {
            return hmac(header(headers, "X-Hub-Signature-256"), prefix: "sha256=", .github, event)
        }
        if let event = header(headers, "X-Gitlab-Event") {
            guard let token = header(headers, "X-Gitlab-Token") else {
                return .failure(Refusal(message: "the gitlab push carries no X-Gitlab-Token", provider: .gitlab))
            }
            guard constantTimeEqual(Array(token.utf8), Array(secret.utf8)) else {
                return .failure(Refusal(message: "the gitlab push's token does not match the configured secret", provider: .gitlab))
            }
            return .success((.gitlab, event))
        }
        if let event = header(headers, "X-Event-Key") {
            return hmac(header(headers, "X-Hub-Signature"), prefix: "sha256=", .bitbucket, event)
        }
        return .failure(Refusal(message: "not a push webhook of GitHub, GitLab, Gitea, Forgejo or Bitbucket (no event header)", provider: nil))
    }

    /// Whether the request carries the event header of a host Interlock knows (checked before its body is read).
    public static func hasEventHeader(_ headers: HTTPFields) -> Bool {
        ["X-Forgejo-Event", "X-Gitea-Event", "X-GitHub-Event", "X-Gitlab-Event", "X-Event-Key"].contains { header(headers, $0) != nil }
    }

    /// `refs/heads/main`, `origin/main` and `main` are the branch `main`.
    public static func branchName(_ text: String) -> String {
        for prefix in ["refs/heads/", "refs/remotes/origin/", "origin/"] where text.hasPrefix(prefix) { return String(text.dropFirst(prefix.count)) }
        return text
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The push in a verified request, if it is one the service follows: `branch` of `repository` (nil: any).
    public static func interpret(provider: Provider, event: String, body: [UInt8], branch: String, repository: String?) -> Result<Outcome, Refusal> {
        let pushEvents: [Provider: Set<String>] = [
            .github: ["push"], .gitea: ["push"], .forgejo: ["push"], .gitlab: ["Push Hook"], .bitbucket: ["repo:push", "repo:refs_changed"],
        ]
        guard pushEvents[provider]?.contains(event) == true else { return .success(.ignored("a \(provider.rawValue) '\(event.prefix(60))' event, not a push")) }
        let json: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { throw Refusal(message: "", provider: provider) }
            json = object
        } catch {
            return .failure(Refusal(message: "the \(provider.rawValue) push's body is not a JSON object", provider: provider))
        }
        var names: [String] = []
        var ref: String?
        var after: String?
        switch provider {
        case .github, .gitea, .forgejo:
            let repo = json["repository"] as? [String: Any] ?? [:]
            names = ["full_name", "clone_url", "html_url", "ssh_url"].compactMap { repo[$0] as? String }
            ref = json["ref"] as? String
            after = json["after"] as? String
            if json["deleted"] as? Bool == true { return .success(.ignored("the branch \((ref ?? "?").prefix(200)) was deleted")) }
        case .gitlab:
            let project = json["project"] as? [String: Any] ?? [:]
            names = ["path_with_namespace", "git_http_url", "git_ssh_url", "web_url"].compactMap { project[$0] as? String }
            ref = json["ref"] as? String
            after = (json["checkout_sha"] as? String) ?? (json["after"] as? String)
        case .bitbucket:
            let repo = json["repository"] as? [String: Any] ?? [:]
            names = [repo["full_name"] as? String].compactMap { $0 }
            if let slug = repo["slug"] as? String, let key = (repo["project"] as? [String: Any])?["key"] as? String { names.append("\(key)/\(slug)") }
            if let changes = (json["push"] as? [String: Any])?["changes"] as? [[String: Any]] {
                // Cloud: push.changes[].new {type: branch, name, target.hash}
                for change in changes {
                    if let new = change["new"] as? [String: Any], new["type"] as? String == "branch", new["name"] as? String == branch {
                        ref = "refs/heads/\(branch)"
                        after = (new["target"] as? [String: Any])?["hash"] as? String
                    }
                }
                if ref == nil {
                    // Another branch, or a tag (never taken for a branch of the same name).
                    ref = changes.compactMap { change -> String? in
                        guard let new = change["new"] as? [String: Any], let name = new["name"] as? String else { return nil }
                        return new["type"] as? String == "branch" ? "refs/heads/\(name)" : "refs/tags/\(name)"
                    }.first
                }
            } else if let changes = json["changes"] as? [[String: Any]] {
                // Data Center: changes[] {ref.id, toHash}
                for change in changes {
                    let id = (change["ref"] as? [String: Any])?["id"] as? String
                    if id == "refs/heads/\(branch)" {
                        ref = id
                        after = change["toHash"] as? String
                    }
                }
                if ref == nil { ref = changes.compactMap { ($0["ref"] as? [String: Any])?["id"] as? String }.first }
            }
        }
        guard let ref else { return .failure(Refusal(message: "the \(provider.rawValue) push names no branch", provider: provider)) }
        let repositoryName = names.first ?? "(unnamed)"
        if let repository, !names.contains(where: { sameRepository($0, repository) }) {
            return .success(.ignored("a push to \(repositoryName.prefix(200)), not \(repository)"))
        }
        guard ref == "refs/heads/\(branch)" else { return .success(.ignored("a push to \(ref.prefix(200)), not refs/heads/\(branch)")) }
        // What the host says the branch points to now: kept only when it looks like a commit id (and not all zeros).
        let claimed = after.flatMap { text -> String? in
            let hex = text.lowercased()
            guard (hex.count == 40 || hex.count == 64), hex.allSatisfy(\.isHexDigit), hex.contains(where: { $0 != "0" }) else { return nil }
            return hex
        }
        return .success(.push(Push(provider: provider, repository: String(repositoryName.prefix(300)), ref: ref, after: claimed, delivery: nil)))
    }

    /// Whether a repository named by the host (a full name like `ot/desired-state`, or a clone or web URL) is the
    /// configured one. Both sides are reduced to their path (`ot/desired-state`: lower case, without `.git` and
    /// slashes at the ends) and compared exactly; when the configured value is a URL, its host must match too.
    /// `ot/ot/desired-state` (a subgroup), `evil/desired-state` and another host's `ot/desired-state` do not match.
    static func sameRepository(_ named: String, _ configured: String) -> Bool {
        let a = location(named), b = location(configured)
        guard !a.path.isEmpty, a.path == b.path else { return false }
        if let host = b.host { return a.host == host }
        return true
    }

    /// `https://git.example.com/ot/desired-state.git` → (git.example.com, ot/desired-state);
    /// `git@git.example.com:ot/desired-state.git` → (git.example.com, ot/desired-state); `ot/desired-state` → (nil, …).
    static func location(_ text: String) -> (host: String?, path: String) {
        var t = text.lowercased().trimmingCharacters(in: .whitespaces)
        var host: String?
        if let scheme = t.range(of: "://") {
            t = String(t[scheme.upperBound...])
            let slash = t.firstIndex(of: "/") ?? t.endIndex
            var authority = String(t[..<slash])
            if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
            if let colon = authority.firstIndex(of: ":") { authority = String(authority[..<colon]) }
            host = authority
            t = String(t[slash...])
        } else if let at = t.firstIndex(of: "@"), let colon = t.firstIndex(of: ":"), at < colon {
            host = String(t[t.index(after: at)..<colon])
            t = String(t[t.index(after: colon)...])
        }
        while t.hasPrefix("/") { t.removeFirst() }
        while t.hasSuffix("/") { t.removeLast() }
        if t.hasSuffix(".git") { t = String(t.dropLast(4)) }
        return (host, t)
    }

    /// The delivery id the host gives the request, for the record.
    public static func delivery(_ headers: HTTPFields) -> String? {
        ["X-GitHub-Delivery", "X-Gitea-Delivery", "X-Forgejo-Delivery", "X-Gitlab-Event-UUID", "X-Request-UUID", "X-Request-Id"]
            .lazy.compactMap { header(headers, $0) }.first.map { String($0.prefix(100)) }
    }
}
