import ArgumentParser
import Foundation
import InterlockEngine

/// Options for commands that reach the sites' targets.
struct TargetOptions: ParsableArguments {
    @Option(name: .long, help: "Directory that relative 'files' target roots resolve against. Default: $INTERLOCK_TARGET_BASE, else <state-dir>/targets.")
    var targetBase: String?

    @Option(name: .long, help: "Lines of context in text diffs.")
    var diffContext: Int = 3

    func planning(stateDirectory: String, driverDirectory: String?) -> SitePlanning {
        let base = targetBase
            ?? ProcessInfo.processInfo.environment["INTERLOCK_TARGET_BASE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? stateDirectory + "/targets"
        let absolute = base.hasPrefix("/") ? base : FileManager.default.currentDirectoryPath + "/" + base
        let workingDirectory = driverDirectory.map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
        return SitePlanning(targetBase: absolute, workingDirectory: workingDirectory, diffContext: diffContext)
    }
}
