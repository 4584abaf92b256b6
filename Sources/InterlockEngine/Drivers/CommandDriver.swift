import Foundation
import InterlockModel

/// A driver that delegates to an external program speaking `interlock-driver/v1`: one JSON request on
/// stdin, one JSON response on stdout, per call.
///
/// The program runs in `workingDirectory` with the current environment plus `command.environment`,
/// `INTERLOCK_SITE`, `INTERLOCK_ACTION` and `INTERLOCK_PROTOCOL`. It must answer within `command.timeout`
/// (60 s by default). Every error carries the last 64 KiB of its stderr as `detail`.
public struct CommandDriver: SiteDriver {
    public let site: String
    public let command: CommandSpec
    public let workingDirectory: String?
    /// How long a program that outlived its timeout gets between SIGTERM and SIGKILL.
    var killGrace: TimeInterval = 5
    /// The lease's fencing token, passed to the program as `INTERLOCK_FENCING_TOKEN` (see ``fenced(by:)``).
    public var fencingToken: Int64?

    public static let defaultTimeout = TimeSpan(seconds: 60)

    public func fenced(by token: Int64) -> any SiteDriver {
        var driver = self
        driver.fencingToken = token
        return driver
    }

    public init(site: String, command: CommandSpec, workingDirectory: String?) {
        self.site = site
        self.command = command
        self.workingDirectory = workingDirectory
    }

    public func observe(desired: [Resource]) throws -> LiveState {
        let response = try exchange("observe", DriverProtocol.observeRequest(site: site, desired: desired))
        do {
            return try DriverProtocol.liveState(from: response)
        } catch {
            throw badResponse("observe", error)
        }
    }

    public func apply(_ plan: Plan) throws -> ApplyReceipt {
        guard !plan.operations.isEmpty else { return ApplyReceipt(site: site, planID: plan.id, applied: [], undo: [:]) }
        let response = try exchange("apply", DriverProtocol.applyRequest(site: site, plan: plan))
        let result: (applied: [String], token: Value)
        do {
            result = try DriverProtocol.applied(from: response, plan: plan)
        } catch {
            throw badResponse("apply", error)
        }
        let applied = Set(result.applied)
        let operations = Value.array(plan.operations.filter { applied.contains($0.path) }.map { .object(DriverProtocol.summary(of: $0)) })
        return ApplyReceipt(site: site, planID: plan.id, applied: result.applied, undo: [
            "driver": "command",
            "protocol": DriverProtocol.version,
            "token": result.token.canonicalJSON,
            "operations": operations.canonicalJSON,
        ])
    }

    public func rollback(_ receipt: ApplyReceipt) throws {
        guard !receipt.applied.isEmpty else { return }
        let token = try receipt.undo["token"].map(decodeUndo) ?? .null
        let operations = try receipt.undo["operations"].map(decodeUndo) ?? .array([])
        let request = DriverProtocol.rollbackRequest(site: site, receipt: receipt, token: token, operations: operations)
        let response = try exchange("rollback", request)
        let rolledBack: [String]
        do {
            rolledBack = try DriverProtocol.rolledBack(from: response)
        } catch {
            throw badResponse("rollback", error)
        }
        let missing = receipt.applied.filter { !rolledBack.contains($0) }
        guard missing.isEmpty else {
            throw DriverError(.failed, site: site, "driver \(displayName) did not roll back \(missing.joined(separator: ", "))",
                              hint: "check the site by hand: these resources may still hold what plan \(receipt.planID.prefix(19)) applied")
        }
    }

    private func decodeUndo(_ text: String) throws -> Value {
        do {
            return try Value.parseJSON(Data(text.utf8))
        } catch {
            throw DriverError(.refused, site: site, "the apply receipt's undo information is not JSON: \(error)")
        }
    }

    // MARK: Running the program

    /// The command as people read it in messages: `python3 drivers/x.py`.
    var displayName: String {
        "`" + command.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ") + "`"
    }

    /// Sends one request and returns the parsed response object, or throws a `DriverError` saying what failed.
    func exchange(_ action: String, _ request: Value) throws(DriverError) -> Value {
        let runner = try makeRunner(action: action)
        let outcome: CommandRunner.Outcome
        do {
            outcome = try runner.run(input: Data(request.canonicalJSONBytes) + Data("\n".utf8))
        } catch {
            throw DriverError(.unreachable, site: site, "could not start driver \(displayName): \(error.reason)",
                              hint: "check that \(runner.executable) is a program this system can run (a script needs a #! line)")
        }
        let stderr = String(decoding: outcome.stderr, as: UTF8.self)
        let seconds = command.timeout?.seconds ?? CommandDriver.defaultTimeout.seconds

        if let timedOut = outcome.timedOut {
            let how = timedOut == .killed ? "killed it after it ignored SIGTERM for \(CommandDriver.format(killGrace))" : "stopped it with SIGTERM"
            throw DriverError(.timeout, site: site, "driver \(displayName) did not answer \(action) within \(seconds)s; \(how)",
                              hint: "raise target.timeout in the site's site.yaml if the target is just slow", detail: stderr)
        }
        let response = try? Value.parseJSON(outcome.stdout)
        switch outcome.termination {
        case .exited(0):
            break
        case .exited(let status):
            if let response, let reported = DriverProtocol.reportedError(from: response) {
                throw DriverError(reported.code, site: site, "driver \(displayName) failed to \(action): \(reported.message)",
                                  hint: reported.hint, detail: stderr)
            }
            throw DriverError(.failed, site: site, "driver \(displayName) exited with status \(status) during \(action)", detail: stderr)
        case .signalled(let signal):
            throw DriverError(.failed, site: site, "driver \(displayName) was killed by signal \(signal) during \(action)", detail: stderr)
        }

        guard !outcome.stdoutTruncated else {
            throw DriverError(.badResponse, site: site, "driver \(displayName) printed more than \(runner.stdoutLimit >> 20) MiB in answer to \(action)", detail: stderr)
        }
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        guard !text.allSatisfy(\.isWhitespace) else {
            throw DriverError(.badResponse, site: site, "driver \(displayName) printed nothing on stdout in answer to \(action); expected one JSON object",
                              hint: "a driver writes its response to stdout and its logs to stderr", detail: stderr)
        }
        do {
            let value = try Value.parseJSON(outcome.stdout)
            guard case .object = value else {
                throw DriverError(.badResponse, site: site, "driver \(displayName) answered \(action) with a JSON \(value.typeName), expected an object", detail: stderr)
            }
            return value
        } catch let error as DriverError {
            throw error
        } catch {
            let excerpt = text.count > 200 ? text.prefix(200) + "…" : Substring(text)
            throw DriverError(.badResponse, site: site, "driver \(displayName) answered \(action) with output that is not valid JSON: \(error)",
                              hint: "stdout must hold only the JSON response; write logs to stderr",
                              detail: "stdout began with:\n\(excerpt)\n" + (stderr.isEmpty ? "" : "stderr:\n\(stderr)"))
        }
    }

    private func badResponse(_ action: String, _ problem: ResponseProblem) -> DriverError {
        DriverError(.badResponse, site: site, "driver \(displayName) answered \(action) with a bad response: \(problem.message)",
                    hint: "see the \(DriverProtocol.version) protocol in docs/drivers.md")
    }

    private func makeRunner(action: String) throws(DriverError) -> CommandRunner {
        guard let program = command.arguments.first, !program.isEmpty else {
            throw DriverError(.refused, site: site, "target.command is empty", hint: "name the driver program, e.g. command: [python3, drivers/my-driver.py]")
        }
        var environment = ProcessInfo.processInfo.environment.merging(command.environment) { $1 }
        environment["INTERLOCK_SITE"] = site
        environment["INTERLOCK_ACTION"] = action
        environment["INTERLOCK_PROTOCOL"] = DriverProtocol.version
        // A program whose target can keep a number refuses writes carrying a lower token than the highest it has seen.
        if let fencingToken { environment["INTERLOCK_FENCING_TOKEN"] = String(fencingToken) } else { environment["INTERLOCK_FENCING_TOKEN"] = nil }
        let executable = try ProgramLocator(site: site, workingDirectory: workingDirectory, path: environment["PATH"]).locate(program)
        return CommandRunner(
            executable: executable, arguments: Array(command.arguments.dropFirst()), environment: environment,
            workingDirectory: workingDirectory,
            timeout: TimeInterval(command.timeout?.seconds ?? CommandDriver.defaultTimeout.seconds), killGrace: killGrace
        )
    }

    static func format(_ interval: TimeInterval) -> String {
        interval == interval.rounded() ? "\(Int(interval))s" : String(format: "%.1fs", interval)
    }
}
