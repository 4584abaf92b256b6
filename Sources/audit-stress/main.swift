// Test helper: a second OS process appending to the same audit database.
//
//   audit-stress <database> <label> <seconds> [batch] [start-file]
//
// Appends entries (in batches of `batch`, default 1) until `seconds` have passed (0 = until killed),
// prints "appended <n>" and exits 0. With a start file, prints "ready" and waits for that file to exist
// before the seconds start, so several processes append in the same seconds however slowly each started. Used by InterlockStoreTests for multi-process and kill -9 tests.
import Foundation
import InterlockStore

let arguments = CommandLine.arguments
guard arguments.count >= 4, let seconds = Double(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: audit-stress <database> <label> <seconds> [batch]\n".utf8))
    exit(64)
}
let batch = arguments.count > 4 ? Int(arguments[4]) ?? 1 : 1
let label = arguments[2]
do {
    let store = try SQLiteStore(path: arguments[1])
    FileHandle.standardOutput.write(Data("ready\n".utf8))
    if arguments.count > 5 {
        let waitUntil = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: arguments[5]), Date() < waitUntil { usleep(2_000) }
    }
    let deadline = Date().addingTimeInterval(seconds)
    var appended = 0
    while seconds == 0 || Date() < deadline {
        let entries = (0..<batch).map { index in
            AuditEntry(
                actor: AuditActor(id: "stress-\(label)", name: "Stress \(label)", role: "test", authentication: "system"),
                category: .system, action: "stress.append", site: "plant-\(label)",
                details: ["n": String(appended + index), "label": label]
            )
        }
        appended += try store.append(contentsOf: entries).count
        // A real writer does something between appends; a tight loop would let SQLite's busy handler starve the
        // other writers on a loaded machine.
        usleep(200)
    }
    FileHandle.standardOutput.write(Data("appended \(appended)\n".utf8))
} catch {
    FileHandle.standardError.write(Data("audit-stress: \(error)\n".utf8))
    exit(1)
}
