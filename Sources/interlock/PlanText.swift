import Foundation
import InterlockEngine
import InterlockModel
import InterlockServer

/// Plans and site conditions for people and as JSON.
enum PlanText {
    /// - Parameter planning: when given, the plan names the site's absolute target (driver and root or command line).
    static func render(_ outcome: SitePlanning.Outcome, planning: SitePlanning? = nil) -> String {
        let site = outcome.site
        let title = "\(Terminal.styled(site.name, .bold))  \(site.displayName) (\(site.timezone))"
        switch outcome {
        case .invalid(_, let diagnostics):
            return ([title + "  " + Terminal.styled("does not compile", .red)] + diagnostics.map { "  " + $0.rendered }).joined(separator: "\n")
        case .unreachable(_, let error):
            return "\(title)  \(Terminal.styled("unreachable", .red))\n  \(error.description.replacingOccurrences(of: "\n", with: "\n  "))"
        case .planned(_, _, let plan):
            var lines = ["\(title)  plan \(plan.shortID)  \(coloredSummary(plan))"]
            if let planning { lines.append("  target: \(planning.absoluteTarget(of: site))") }
            if plan.isEmpty { lines.append("  " + Terminal.styled("no changes: the site matches the desired state", .green)) }
            for operation in plan.operations {
                lines.append(contentsOf: render(operation))
            }
            if !plan.drift.isEmpty {
                lines.append("  " + Terminal.styled("drift (changed outside Interlock; reported, reverted only by an approved plan):", .yellow))
                lines += plan.drift.map { "    ! \($0.summary)" }
            }
            return lines.joined(separator: "\n")
        }
    }

    static func coloredSummary(_ plan: Plan) -> String {
        [
            Terminal.styled("+\(plan.count(.create))", .green), Terminal.styled("~\(plan.count(.update))", .yellow),
            Terminal.styled("-\(plan.count(.delete))", .red),
        ].joined(separator: " ")
    }

    static func render(_ operation: InterlockEngine.Operation) -> [String] {
        let style: Terminal.Style = switch operation.action {
        case .create: .green
        case .update: .yellow
        case .delete: .red
        }
        var head = "  \(Terminal.styled(operation.action.symbol, style)) \(operation.path)"
        if operation.policyPath != operation.path { head += "  (\(operation.policyPath))" }
        if operation.adoptsUnmanaged { head += Terminal.styled("  takes over a file Interlock did not write", .yellow) }
        if operation.revertsDrift { head += Terminal.styled("  reverts drift", .yellow) }
        if operation.describesOnly { head += Terminal.styled("  description, owner or affects only: no reload", .dim) }
        var lines = [head]
        for line in operation.about?.lines(kind: operation.kind) ?? [] {
            lines.append("      " + Terminal.styled(line, .dim))
        }
        for change in operation.changes {
            let colored: String
            if change.hasPrefix("+"), !change.hasPrefix("+++") {
                colored = Terminal.styled(change, .green)
            } else if change.hasPrefix("-"), !change.hasPrefix("---") {
                colored = Terminal.styled(change, .red)
            } else if change.hasPrefix("@@") {
                colored = Terminal.styled(change, .cyan)
            } else {
                colored = change
            }
            lines.append("      " + colored)
        }
        return lines
    }

    static func json(_ outcome: SitePlanning.Outcome, planning: SitePlanning? = nil) -> Value {
        var object: [String: Value] = [
            "site": .string(outcome.site.name), "status": .string(SiteCondition(outcome).rawValue),
        ]
        if let planning { object["target"] = .string(planning.absoluteTarget(of: outcome.site)) }
        switch outcome {
        case .invalid(_, let diagnostics):
            object["diagnostics"] = .array(diagnostics.map(\.json))
        case .unreachable(_, let error):
            object["error"] = error.json
        case .planned(let desired, _, let plan):
            object["plan"] = plan.json
            object["desiredFingerprint"] = .string(desired.fingerprint)
            object["drift"] = .array(plan.drift.map(\.json))
        }
        return .object(object)
    }
}

extension Plan {
    /// As the API shows it.
    var json: Value { JSONShapes.plan(self) }
}

extension InterlockEngine.Operation {
    /// As the API shows it.
    var json: Value { JSONShapes.operation(self) }
}

extension Drift {
    var json: Value {
        .object([
            "path": .string(path), "kind": .string(kind.rawValue), "expected": .string(expectedHash),
            "actual": actualHash.map(Value.string) ?? .null, "appliedByPlan": appliedByPlan.map(Value.string) ?? .null,
            "appliedCommit": appliedCommit.map(Value.string) ?? .null, "summary": .string(summary),
        ])
    }
}

extension DriverError {
    var json: Value {
        .object([
            "code": .string(code.rawValue), "message": .string(message), "hint": hint.map(Value.string) ?? .null,
            "detail": detail.map(Value.string) ?? .null,
        ])
    }
}
