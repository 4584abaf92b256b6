import Foundation
import InterlockEngine
import InterlockGit
import InterlockModel

/// `interlock plan --format svg|html`: the changed flows drawn, and a self-contained review page a flow manager can
/// attach to a review (no scripts, no external files; the styles are inside the page).
enum PlanReview {
    /// Every flow operation of the planned sites, drawn before and after.
    static func pictures(_ outcomes: [SitePlanning.Outcome]) -> [(title: String, picture: FlowPicture)] {
        var result: [(String, FlowPicture)] = []
        for outcome in outcomes {
            guard case .planned(_, _, let plan) = outcome else { continue }
            for operation in plan.operations where operation.kind == .flow {
                guard let picture = FlowPicture.compare(old: operation.previousContent, new: operation.content) else { continue }
                result.append(("\(plan.site): \(operation.action.symbol) \(operation.path)", picture))
            }
        }
        return result
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let style = """
        body { font: 15px/1.45 system-ui, sans-serif; color: #1d2430; max-width: 1200px; margin: 1.5rem auto; padding: 0 1rem; }
        h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d8dce3; }
        .op { margin: .8rem 0; } .sym { font-weight: bold; font-family: monospace; }
        .create { color: #13703a; } .update { color: #8a5a00; } .delete { color: #b0261c; }
        pre { background: #f7f8fa; border: 1px solid #d8dce3; padding: .5rem .7rem; white-space: pre-wrap; font-size: .88rem; }
        figure { margin: 1rem 0; overflow-x: auto; } figcaption { color: #5b6575; font-size: .9rem; }
        .about { margin: .2rem 0 .4rem; color: #3b4554; font-size: .92rem; } .meta { color: #5b6575; } .warn { color: #8a5a00; font-weight: bold; }
        @media print { pre { font-size: 8.5pt; } figure { break-inside: avoid; } }
        """

    /// The review page.
    static func html(_ outcomes: [SitePlanning.Outcome], title: String, commit: CommitInfo?, planning: SitePlanning) -> String {
        var body: [String] = ["<h1>\(escape(title))</h1>"]
        if let commit {
            body.append("<p class=\"meta\">Commit <code>\(commit.id.hex.prefix(10))</code> by \(escape(commit.author.name)) &lt;\(escape(commit.author.email))&gt;, \(escape(ISO8601DateFormatter().string(from: commit.author.time)))</p>")
            body.append("<pre>\(escape(commit.message))</pre>")
        }
        var figure = 0
        for outcome in outcomes {
            let site = outcome.site
            body.append("<h2>\(escape(site.displayName)) <small>(\(escape(site.name)), \(escape(site.timezone)))</small></h2>")
            switch outcome {
            case .invalid(_, let diagnostics):
                body.append("<p class=\"warn\">Does not compile:</p><pre>\(escape(diagnostics.map(\.rendered).joined(separator: "\n")))</pre>")
            case .unreachable(_, let error):
                body.append("<p class=\"warn\">Unreachable: \(escape(error.description))</p>")
            case .planned(_, _, let plan):
                body.append("<p>Plan <code>\(plan.shortID)</code>: \(escape(plan.summary)); target <code>\(escape(planning.absoluteTarget(of: site)))</code></p>")
                if plan.isEmpty { body.append("<p class=\"meta\">No changes: the site matches the desired state.</p>") }
                for operation in plan.operations {
                    var head = "<div class=\"op\"><span class=\"sym \(operation.action.rawValue)\" aria-label=\"\(operation.action.rawValue)\">\(operation.action.symbol)</span> <code>\(escape(operation.path))</code>"
                    if operation.revertsDrift { head += " <span class=\"warn\">reverts drift</span>" }
                    if operation.adoptsUnmanaged { head += " <span class=\"warn\">takes over a file Interlock did not write</span>" }
                    body.append(head)
                    let about = operation.about?.lines(kind: operation.kind) ?? []
                    if !about.isEmpty { body.append("<ul class=\"about\">" + about.map { "<li>\(escape($0))</li>" }.joined() + "</ul>") }
                    if operation.kind == .flow, let picture = FlowPicture.compare(old: operation.previousContent, new: operation.content) {
                        figure += 1
                        body.append("<figure>\(picture.svg(id: "flow-\(figure)", standalone: true))<figcaption>\(escape(picture.name)): \(picture.touchedBricks) brick(s) and \(picture.touchedConnections) connection(s) change. + added, − removed (dashed), ~ changed (dotted).</figcaption></figure>")
                    }
                    if !operation.changes.isEmpty { body.append("<pre>\(escape(operation.changes.joined(separator: "\n")))</pre>") }
                    body.append("</div>")
                }
                if !plan.drift.isEmpty {
                    body.append("<p class=\"warn\">Drift (changed outside Interlock):</p><pre>\(escape(plan.drift.map(\.summary).joined(separator: "\n")))</pre>")
                }
            }
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title><style>\(style)</style></head>
            <body>
            \(body.joined(separator: "\n"))
            <p class="meta">Made by interlock plan --format html. Nothing was applied.</p>
            </body></html>
            """
    }
}
