import ArgumentParser
import Foundation
import InterlockEngine
import InterlockStore
import InterlockModel

/// Options for commands that reach the sites' targets.
struct TargetOptions: ParsableArguments {
    @Option(name: .long, help: "Directory that relative 'files' target roots resolve against. Default: $INTERLOCK_TARGET_BASE, else <state-dir>/targets.")
    var targetBase: String?

    @Option(name: .long, help: "Lines of context in text diffs.")
    var diffContext: Int = 3

    /// How sites are planned, with the targets the instance configuration allows (`configuration`, or the default
    /// configuration file when nil).
    func planning(stateDirectory: String, driverDirectory: String?, configuration: InstanceConfiguration? = nil) throws -> SitePlanning {
        let configuration = try configuration ?? InstanceOptions.load(nil)
        let base = targetBase ?? configuration.targetBase
            ?? ProcessInfo.processInfo.environment["INTERLOCK_TARGET_BASE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? stateDirectory + "/targets"
        let absolute = base.hasPrefix("/") ? base : FileManager.default.currentDirectoryPath + "/" + base
        let workingDirectory = driverDirectory.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
        let absoluteState = stateDirectory.hasPrefix("/") ? stateDirectory : FileManager.default.currentDirectoryPath + "/" + stateDirectory
        let policy = TargetPolicy(
            roots: configuration.targetRoots ?? [absolute], stateDirectory: absoluteState, commands: configuration.targetCommands,
            environment: configuration.targetEnvironment,
            source: configuration.file ?? "the instance configuration (none is in use: pass --config or set INTERLOCK_CONFIG)")
        var planning = SitePlanning(targetBase: absolute, workingDirectory: workingDirectory, diffContext: diffContext, targetPolicy: policy)
        // Sites reached through their agent are planned from what the agent last reported to the state database.
        planning.agentObservations = StoredAgentReports(
            stateDirectory: absoluteState, databaseURL: StateDirectory.databaseURL(option: nil, configured: configuration.database))
        return planning
    }
}

/// The agents' reports in the state database, opened for reading when first asked (never created: a command that
/// only plans must not make a state database appear).
final class StoredAgentReports: AgentObservationSource, @unchecked Sendable {
    let stateDirectory: String
    let databaseURL: String?
    private let lock = NSLock()
    private var opened: (any StateStore)?

    init(stateDirectory: String, databaseURL: String?) {
        self.stateDirectory = stateDirectory
        self.databaseURL = databaseURL
    }

    func observation(site: String) throws -> AgentObservation? {
        lock.lock()
        defer { lock.unlock() }
        if opened == nil {
            if let databaseURL {
                opened = try AuditStores.open(try DatabaseURL.parse(databaseURL), migrate: false)
            } else {
                let path = stateDirectory + "/" + SQLiteStore.fileName
                guard FileManager.default.fileExists(atPath: path) else { return nil }
                opened = try SQLiteStore(stateDirectory: stateDirectory)
            }
        }
        return try opened?.observation(site: site)
    }
}
