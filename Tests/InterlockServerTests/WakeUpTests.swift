import Foundation
import Testing
@testable import InterlockServer

/// The reconcile loop's wake-up: a push webhook or an approval ends the sleep between passes at once, a signal given
/// while a pass runs is not lost, a burst ends one sleep only, and without a signal the sleep lasts its interval.
///
/// The sleeps that a signal or a cancellation must end are an hour long and the suite has a ten-minute limit
/// (other suites can hold the test threads for a minute): what ended a sleep shows in its result (`true` only for a
/// signal) and a sleep nothing ends fails the limit, so no assertion depends on how fast a busy machine schedules
/// the test's tasks.
@Suite(.timeLimit(.minutes(10))) struct WakeUpTests {
    @Test func aSignalDuringTheSleepEndsIt() async {
        let wakeUp = WakeUp()
        async let woken = wakeUp.sleep(upTo: .seconds(3600))
        try? await Task.sleep(for: .milliseconds(100))
        wakeUp.signal()
        #expect(await woken, "ended by the signal, not by the hour-long deadline")
    }

    @Test func aSignalGivenBeforeTheSleepIsKeptAndABurstCountsOnce() async {
        let wakeUp = WakeUp()
        wakeUp.signal()
        wakeUp.signal()
        wakeUp.signal()
        #expect(await wakeUp.sleep(upTo: .seconds(3600)), "a signal given while a pass ran ends the next sleep")
        let started = ContinuousClock.now
        #expect(await wakeUp.sleep(upTo: .milliseconds(300)) == false, "the burst was one signal")
        #expect(ContinuousClock.now - started >= .milliseconds(300), "the unsignalled sleep lasted its interval")
    }

    @Test func withoutASignalTheSleepLastsItsIntervalAndCancellationEndsIt() async {
        let wakeUp = WakeUp()
        let started = ContinuousClock.now
        #expect(await wakeUp.sleep(upTo: .milliseconds(200)) == false)
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        let task = Task { await wakeUp.sleep(upTo: .seconds(3600)) }
        try? await Task.sleep(for: .milliseconds(100))
        task.cancel()
        #expect(await task.value == false, "ended by the cancellation (within the suite's limit), not by a signal")
        // A signal after all that still ends the next sleep: no waiter was left behind to swallow it.
        wakeUp.signal()
        #expect(await wakeUp.sleep(upTo: .seconds(3600)))
    }
}
