import Foundation
import InterlockModel

/// Which gates of a change are open at an instant, and what it is waiting for, in words.
public struct GateStatus: Sendable, Hashable {
    public var mode: Gate
    /// Distinct approvers of the change's plan.
    public var approvers: [String]
    public var requiredApprovals: Int
    /// nil when the gate mode does not involve a window.
    public var window: WindowGateState?
    public var freeze: FreezeState
    /// nil when waves were not evaluated.
    public var wave: WaveState?
    /// Every reason the change cannot start now; empty when it can.
    public var waitingFor: [String]

    public var isOpen: Bool { waitingFor.isEmpty }
    public var approvalsSatisfied: Bool { approvers.count >= requiredApprovals }
}

/// Evaluates a change's gates. Pure: the clock reading is passed in.
public enum GateEvaluator {
    /// - Parameter emergency: the window is waived, one approval more than usual is required.
    /// - Parameter rules: the site's gate rules (``GateRules/resolve(_:proposedConfig:store:)``): what was already trusted at
    ///   the site, tightened by the commit — never the commit's rules alone.
    public static func evaluate(_ change: ChangeRequest, rules: GateRules, at now: Date, emergency: Bool = false, wave: WaveState? = nil) -> GateStatus {
        let site = rules.site
        let needsApproval = change.gate == .approval || change.gate == .approvalAndWindow || emergency
        let needsWindow = (change.gate == .window || change.gate == .approvalAndWindow) && !emergency
        let approvers = change.approvers.sorted()
        let required = needsApproval ? site.approval.required + (emergency ? 1 : 0) : 0
        var waiting: [String] = []
        if approvers.count < required {
            let who = site.approval.approvers.joined(separator: ", ")
            waiting.append("approval: \(approvers.count) of \(required)\(emergency ? " (emergency: one more than usual)" : "") from \(who.isEmpty ? "nobody listed" : who)")
        }
        let schedule = MaintenanceSchedule(site: site)
        var window: WindowGateState?
        if needsWindow {
            let state = schedule?.windowGate(at: now, minimumRemaining: site.minimumWindowRemaining) ?? .noWindows
            window = state
            if !state.allowsStart { waiting.append("window: \(state)") }
        }
        var freeze = schedule?.freezeState(at: now) ?? .notFrozen
        // Freezes hold in the time zone they were written for: when the commit moves the site to another zone, the
        // trusted freezes are also read in the trusted zone and the new ones in the new zone.
        if !freeze.isFrozen {
            for other in [rules.trusted, rules.proposed].compactMap({ $0 }) where other.timezone != site.timezone {
                if let state = MaintenanceSchedule(site: other)?.freezeState(at: now), state.isFrozen {
                    freeze = state
                    break
                }
            }
        }
        if freeze.isFrozen { waiting.append("freeze: \(freeze)") }
        if let wave, !wave.allowsStart { waiting.append("wave: \(wave)") }
        return GateStatus(mode: change.gate, approvers: approvers, requiredApprovals: required, window: window, freeze: freeze, wave: wave, waitingFor: waiting)
    }
}
