import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the program a command driver names: a name without `/` is looked up in `PATH` (like a shell);
/// a path with `/` is taken as is when absolute, else relative to the working directory.
struct ProgramLocator {
    var site: String
    var workingDirectory: String?
    var path: String?

    func locate(_ program: String) throws(DriverError) -> String {
        if program.contains("/") {
            let base = workingDirectory ?? FileManager.default.currentDirectoryPath
            let resolved = program.hasPrefix("/") ? program : URL(fileURLWithPath: base).appendingPathComponent(program).standardized.path
            switch check(resolved) {
            case .ok:
                return resolved
            case .missing:
                throw DriverError(.unreachable, site: site, "driver program \(resolved) does not exist",
                                  hint: program.hasPrefix("/") ? "fix target.command in the site's site.yaml"
                                      : "relative paths resolve against \(base); fix target.command in the site's site.yaml")
            case .notExecutable(let what):
                throw DriverError(.unreachable, site: site, "driver program \(resolved) \(what)",
                                  hint: "make it executable (chmod +x) or run it through its interpreter, e.g. command: [python3, \(program)]")
            }
        }
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false)
        var nonExecutable: String?
        for directory in directories {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            switch check(candidate) {
            case .ok: return candidate
            case .notExecutable: nonExecutable = nonExecutable ?? candidate
            case .missing: continue
            }
        }
        if let nonExecutable {
            throw DriverError(.unreachable, site: site, "driver program \(program) was found at \(nonExecutable) but is not executable",
                              hint: "chmod +x \(nonExecutable)")
        }
        throw DriverError(.unreachable, site: site, "driver program \(program) was not found in PATH",
                          hint: "install \(program), give its absolute path in target.command, or add its directory to PATH (target.env can set PATH)")
    }

    private enum Check { case ok, missing, notExecutable(String) }

    private func check(_ file: String) -> Check {
        var info = stat()
        guard stat(file, &info) == 0 else { return .missing }
        guard info.st_mode & S_IFMT == S_IFREG else { return .notExecutable("is not a regular file") }
        guard access(file, X_OK) == 0 else { return .notExecutable("is not executable") }
        return .ok
    }
}
