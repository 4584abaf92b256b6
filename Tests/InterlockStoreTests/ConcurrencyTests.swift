import Foundation
import GRDB
import Testing
@testable import InterlockStore

@Suite("Concurrent appenders and crashes", .serialized)
struct ConcurrencyTests {
    /// No gap, no repeat, no fork: sequences are exactly 1...n and every link holds.
    static func expectOneChain(_ store: SQLiteStore, count expected: Int64? = nil) throws {
        let records = try store.records(matching: .all)
        #expect(records.map(\.sequence) == (0..<Int64(records.count)).map { $0 + 1 })
        if let expected { #expect(Int64(records.count) == expected) }
        #expect(Set(records.map(\.previousHash)).count == records.count)
        let result = try store.verify(trust: .none)
        #expect(result.ok, "\(result.problems.prefix(3))")
    }

    @Test func manyThreadsAppendingAtOnceMakeOneChain() async throws {
        let dir = try TemporaryDirectory()
        // Separate store objects (separate connections) on one file, as separate components of one process would.
        let stores = try (0..<4).map { _ in try SQLiteStore(stateDirectory: dir.path) }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    let store = stores[worker % stores.count]
                    var appended = 0
                    for round in 0..<25 {
                        if round % 5 == 0 {
                            appended += try store.append(contentsOf: Fixture.entries(4, from: worker * 1000 + round)).count
                        } else {
                            _ = try store.append(Fixture.entry(worker * 1000 + round))
                            appended += 1
                        }
                    }
                    return appended
                }
            }
            var total = 0
            for try await count in group { total += count }
            #expect(total == 8 * (20 + 5 * 4))
        }
        try Self.expectOneChain(stores[0], count: 8 * (20 + 5 * 4))
    }

    @Test func twoProcessesAppendingForSecondsMakeOneChain() throws {
        let dir = try TemporaryDirectory()
        let store = try SQLiteStore(stateDirectory: dir.path)
        _ = try store.append(Fixture.entry(0))
        let helper = try Fixture.stressBinary()
        // Both helpers start their seconds together, when the start file appears, however slowly each process
        // started on a busy machine.
        let startFile = dir.path + "/start"
        let results = try [("A", "1"), ("B", "8")].map { label, batch in
            let output = dir.path + "/stress-\(label).out"
            return (try Fixture.spawn(helper, [dir.databasePath, label, "5", batch, startFile], outputPath: output), output)
        }
        for (_, output) in results { #expect(Fixture.waitFor("ready", in: output, timeout: 60)) }
        FileManager.default.createFile(atPath: startFile, contents: Data())
        // This process appends too, in the same seconds.
        var own = 0
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            _ = try store.append(Fixture.entry(own))
            own += 1
        }
        var appended = [Int]()
        for (process, outputPath) in results {
            process.waitUntilExit()
            let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            #expect(process.terminationStatus == 0, "\(output)")
            appended.append(output.split(separator: "\n").last.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1)
        }
        #expect(appended.allSatisfy { $0 > 0 })
        let total = Int64(1 + own + appended.reduce(0, +))
        try Self.expectOneChain(store, count: total)
        // Both processes really interleaved with each other: A's records lie on both sides of some of the others'
        // (or the other way round). On a starved machine SQLite's busy handler lets writers take long turns, so
        // only this, not how often they alternate, is certain.
        let sites = try store.records(matching: .all).map { $0.site ?? "" }
        let switches = zip(sites, sites.dropFirst()).filter { $0 != $1 && $0.hasPrefix("plant-A") != $1.hasPrefix("plant-A") }.count
        #expect(switches >= 2)
    }

    @Test func killingAnAppendingProcessLeavesAVerifiableLogWithoutPartialRecords() throws {
        let dir = try TemporaryDirectory()
        let key = try KeyStore.createIfMissing(in: dir.path).key
        let helper = try Fixture.stressBinary()
        var previousCount: Int64 = 0
        for round in 0..<3 {
            let outputPath = dir.path + "/kill-\(round).out"
            let process = try Fixture.spawn(helper, [dir.databasePath, "K\(round)", "0", round == 1 ? "50" : "1"], outputPath: outputPath)
            #expect(Fixture.waitFor("ready", in: outputPath))  // the helper has opened the store
            Thread.sleep(forTimeInterval: 0.4 + 0.15 * Double(round))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)

            let store = try SQLiteStore(stateDirectory: dir.path)
            let count = try store.count()
            #expect(count > previousCount)
            if round == 1 { #expect((count - previousCount) % 50 == 0, "batches are all-or-nothing") }
            previousCount = count
            try Self.expectOneChain(store)
            _ = try store.checkpoint(signingKey: key)
            #expect(try store.verify(trust: .external(key.publicKey)).ok)
        }
    }
}
