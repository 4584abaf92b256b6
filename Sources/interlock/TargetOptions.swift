import ArgumentParser
import Foundation
import InterlockEngine
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
        return SitePlanning(targetBase: absolute, workingDirectory: workingDirectory, diffContext: diffContext, targetPolicy: policy)
    }
}
