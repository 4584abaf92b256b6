// interlock-bench: generates plant-fleet repositories and measures Interlock on them. CI runs it once on the
// small dataset as a smoke test (no timings are checked). See Benchmarks/README.md and docs/performance.md.
//
//   interlock-bench generate --size small|medium|large [--seed N] --out DIR
//   interlock-bench run --size S --repo DIR --work DIR [--runs N] [--ops a,b,…]
//   interlock-bench op NAME --size S --repo DIR --work DIR [--runs N]     (one operation; prints one JSON line)
//   interlock-bench stores --work DIR [--postgres URL] [--writers N] [--seconds S]   (concurrent durable audit appends)
//   interlock-bench agent-report --work DIR [--files N] [--changed N]   (bytes a plant agent sends to report a site)
//   interlock-bench deploy-fleet --repo DIR --targets DIR   (writes every site's files as if deployed: a fleet in steady state)
import Foundation
import InterlockGit

func option(_ name: String, in arguments: [String]) -> String? {
    guard let index = arguments.firstIndex(of: "--" + name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("interlock-bench: \(message)\n".utf8))
    exit(1)
}

let usage = """
    usage: interlock-bench generate --size small|medium|large [--seed N] --out DIR
           interlock-bench run --size S --repo DIR --work DIR [--runs N] [--ops a,b,...]
           interlock-bench op NAME --size S --repo DIR --work DIR [--runs N]
           interlock-bench stores --work DIR [--postgres URL] [--writers N] [--seconds S]
           interlock-bench agent-report --work DIR [--files N] [--changed N]
           interlock-bench deploy-fleet --repo DIR --targets DIR
    operations: \(Operation.allCases.map(\.rawValue).joined(separator: ", "))
    """

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { fail(usage) }

func dataset() -> Dataset {
    guard let size = option("size", in: arguments), let repo = option("repo", in: arguments), let work = option("work", in: arguments) else { fail(usage) }
    try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    return Dataset(name: size, repository: repo, work: work, runs: Int(option("runs", in: arguments) ?? "") ?? 5)
}

switch command {
case "generate":
    guard let size = option("size", in: arguments), let shape = DatasetShape.named(size), let out = option("out", in: arguments) else { fail(usage) }
    let seed = UInt64(option("seed", in: arguments) ?? "1") ?? 1
    do {
        let seconds = try timed { try generate(shape: shape, seed: seed, into: out) }
        let repo = try Repository.open(at: out)
        let snapshot = try repo.snapshot(of: repo.resolveID("HEAD"))
        print(String(format: "generated %@ (seed %llu) in %.1f s: %d files, %.1f MB, HEAD %@", size, seed, seconds, snapshot.files.count,
                     Double(snapshot.totalBytes) / 1e6, snapshot.commitID!.hex))
    } catch {
        fail("\(error)")
    }

case "op":
    guard arguments.count > 1, let operation = Operation(rawValue: arguments[1]) else { fail(usage) }
    do {
        let measurement = try operation.measure(dataset())
        let json = try JSONEncoder().encode(measurement)
        print(String(decoding: json, as: UTF8.self))
    } catch {
        fail("\(operation.rawValue): \(error)")
    }

case "run":
    let data = dataset()
    let names = option("ops", in: arguments)?.split(separator: ",").map(String.init) ?? Operation.allCases.map(\.rawValue)
    var rows: [Measurement] = []
    for name in names {
        guard Operation(rawValue: name) != nil else { fail("unknown operation \(name)\n\(usage)") }
        FileHandle.standardError.write(Data("[\(data.name)] \(name) …\n".utf8))
        do {
            var childArguments = [(try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0], "op", name]
            for key in ["size", "repo", "work", "runs"] { if let value = option(key, in: arguments) { childArguments += ["--" + key, value] } }
            let output = try run(childArguments)
            guard let line = String(decoding: output, as: UTF8.self).split(separator: "\n").last else { throw BenchError("no output") }
            let measurement = try JSONDecoder().decode(Measurement.self, from: Data(line.utf8))
            rows.append(measurement)
            if name == Operation.sitePlan.rawValue, let peer = try ansiblePeer(data, interlockPerFile: measurement.medianTime / Double(measurement.items)) {
                rows.append(peer)
            }
        } catch {
            print("\(name) [\(data.name)]: FAILED: \(error)")
        }
    }
    print("")
    printTable(rows)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    if let json = try? encoder.encode(rows) {
        try? json.write(to: URL(fileURLWithPath: data.work + "/results-\(data.name).json"))
    }

case "stores":
    guard let work = option("work", in: arguments) else { fail(usage) }
    do {
        try StoreBench.run(
            postgres: option("postgres", in: arguments), work: work, writers: Int(option("writers", in: arguments) ?? "") ?? 3,
            seconds: Double(option("seconds", in: arguments) ?? "") ?? 5)
    } catch {
        fail("stores: \(error)")
    }

case "agent-report":
    guard let work = option("work", in: arguments) else { fail(usage) }
    do {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try AgentReportBench.run(work: work, files: Int(option("files", in: arguments) ?? "") ?? 1000, changed: Int(option("changed", in: arguments) ?? "") ?? 3)
    } catch {
        fail("agent-report: \(error)")
    }

case "deploy-fleet":
    guard let repo = option("repo", in: arguments), let targets = option("targets", in: arguments) else { fail(usage) }
    do {
        let seconds = try timed { try deployFleet(repository: repo, targetBase: targets) }
        print(String(format: "deployed every site of %@ into %@ in %.1f s", repo, targets, seconds))
    } catch {
        fail("deploy-fleet: \(error)")
    }

default:
    fail(usage)
}

/// Generates the repository into `directory` (a bare repository), atomically.
func generate(shape: DatasetShape, seed: UInt64, into directory: String) throws {
    let temporary = directory + ".tmp"
    try? FileManager.default.removeItem(atPath: temporary)
    try run(["git", "init", "--bare", "-q", "--initial-branch=main", temporary])
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git", "-C", temporary, "fast-import", "--quiet"]
    let pipe = Pipe()
    process.standardInput = pipe
    try process.run()
    RepositoryGenerator(shape: shape, seed: seed).fastImportStream(to: pipe.fileHandleForWriting)
    try pipe.fileHandleForWriting.close()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchError("git fast-import failed") }
    // Pack as a clone would (delta depth 50), so reads see realistic delta chains.
    try run(["git", "-C", temporary, "repack", "-a", "-d", "-f", "-q", "--depth=50", "--window=10"])
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.moveItem(atPath: temporary, toPath: directory)
}
