import Foundation
import InterlockModel

/// Runs the `reload` and `health` commands of the components a change touched, in that order.
public struct Hooks: Sendable {
    public var site: String
    public var workingDirectory: String?
    /// Extra environment (the target root for a files target).
    public var environment: [String: String]

    public init(site: String, workingDirectory: String?, environment: [String: String]) {
        self.site = site
        self.workingDirectory = workingDirectory
        self.environment = environment
    }

    public struct Failure: Error, CustomStringConvertible {
        public var component: String
        public var hook: String
        public var message: String
        public var description: String { "\(hook) of \(component) failed: \(message)" }
    }

    /// The reload and health commands of the components in `desired` that `plan` touches.
    public static func commands(for plan: Plan, desired: CompiledSite) -> [(component: String, hook: String, command: CommandSpec)] {
        // A component whose update only changes what describes it (owner, affects, description) runs nothing.
        let touched = Set(plan.operations.filter { !$0.describesOnly }.map(\.policyPath).filter { $0.hasPrefix("components/") })
        var result: [(String, String, CommandSpec)] = []
        for hook in ["reload", "health"] {
            for resource in desired.resources where resource.kind == .component && touched.contains(resource.path) {
                guard let spec = resource.structured?.objectValue?[hook]?.objectValue,
                      let arguments = spec["command"]?.arrayValue?.compactMap(\.stringValue), !arguments.isEmpty
                else { continue }
                let timeout = spec["timeout"]?.stringValue.flatMap { try? TimeSpan(parsing: $0) }
                result.append((resource.name, hook, CommandSpec(arguments: arguments, timeout: timeout)))
            }
        }
        return result
    }

    /// Runs one hook; throws with the program's stderr when it fails or times out.
    public func run(component: String, hook: String, command: CommandSpec) throws -> String {
        var environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        environment["INTERLOCK_SITE"] = site
        environment["INTERLOCK_COMPONENT"] = component
        environment["INTERLOCK_HOOK"] = hook
        let executable: String
        do {
            executable = try ProgramLocator(site: site, workingDirectory: workingDirectory, path: environment["PATH"]).locate(command.arguments[0])
        } catch {
            throw Failure(component: component, hook: hook, message: "cannot run '\(command.arguments[0])': \(error.message)")
        }
        let runner = CommandRunner(
            executable: executable, arguments: Array(command.arguments.dropFirst()), environment: environment,
            workingDirectory: workingDirectory, timeout: TimeInterval(command.timeout?.seconds ?? 60))
        let outcome: CommandRunner.Outcome
        do {
            outcome = try runner.run(input: Data())
        } catch {
            throw Failure(component: component, hook: hook, message: "cannot start '\(command.arguments[0])': \(error.reason)")
        }
        let stderr = String(decoding: outcome.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if outcome.timedOut != nil {
            throw Failure(component: component, hook: hook, message: "timed out after \(command.timeout?.description ?? "60s")\(stderr.isEmpty ? "" : ": \(stderr)")")
        }
        if outcome.termination != .exited(0) {
            let how = switch outcome.termination {
            case .exited(let code): "exited with status \(code)"
            case .signalled(let signal): "was killed by signal \(signal)"
            }
            throw Failure(component: component, hook: hook, message: "'\(command.arguments.joined(separator: " "))' \(how)\(stderr.isEmpty ? "" : ": \(stderr)")")
        }
        return String(decoding: outcome.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
