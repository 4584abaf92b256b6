import Foundation
import InterlockEngine
import InterlockStore
import Prometheus

/// `/metrics` in the Prometheus text format. Apply durations accumulate in a histogram for the life of
/// the process; everything else is read fresh at each scrape from the store and the last observations,
/// so a label set that disappears (a change leaving a status) disappears from the output too.
public final class ServerMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    static let applyBuckets: [Duration] = [.milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(15), .seconds(30), .seconds(60), .seconds(300)]

    public init() {}

    /// Counts a git webhook request by its result (`accepted`, `ignored`, `refused`).
    public func recordWebhook(_ result: String) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "interlock", metricName: "webhook_requests", unitName: "total",
                                             helpText: "Git push webhook requests by result: accepted (a pass follows), ignored (another branch or event), refused (no valid signature)."),
            labels: [("result", result)]
        ).increment()
    }

    /// Counts a failed notification delivery attempt, and a given-up delivery (`final`: every attempt failed).
    public func recordNotificationFailure(channel: String, final: Bool) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "interlock", metricName: "notification_attempts_failed", unitName: "total",
                                             helpText: "Notification delivery attempts that failed (each is retried until the last), by channel."),
            labels: [("channel", channel)]
        ).increment()
        if final {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "interlock", metricName: "notifications_failed", unitName: "total",
                                                 helpText: "Notifications given up after every attempt failed, by channel (each is also a notification.failed record)."),
                labels: [("channel", channel)]
            ).increment()
        }
    }

    /// Records how long applying one change took (whatever its outcome).
    public func recordApply(site: String, outcome: String, duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "interlock", metricName: "apply_duration", unitName: "seconds",
                                             helpText: "Time to apply one change (re-observe, write, hooks, rollback), by site and outcome."),
            labels: [("site", site), ("outcome", outcome)], buckets: Self.applyBuckets
        ).record(duration)
    }

    /// The exposition text.
    public func render(instance: InterlockInstance, observations: Observations) throws -> String {
        let scrape = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
            scrape.makeGauge(descriptor: MetricNameDescriptor(namespace: "interlock", metricName: name, unitName: unit, helpText: help), labels: labels)
                .set(value)
        }
        let sites = observations.loaded?.state.sites.map(\.name) ?? observations.sites.keys.sorted()
        var counts: [String: [ChangeStatus: Int]] = [:]
        for change in try instance.store.changes(sites: [], statuses: [], limit: nil) {
            counts[change.site, default: [:]][change.status, default: 0] += 1
        }
        for site in Set(sites).union(counts.keys).sorted() {
            for status in ChangeStatus.allCases {
                gauge("changes", "", "Change requests by site and status.", [("site", site), ("status", status.rawValue)],
                      Double(counts[site]?[status] ?? 0))
            }
        }
        for (site, observation) in observations.sites.sorted(by: { $0.key < $1.key }) {
            gauge("drifted_resources", "", "Resources changed outside Interlock at the last observation.", [("site", site)], Double(observation.drift.count))
            if let last = observation.lastSuccessfulReconcile {
                gauge("last_successful_reconcile", "timestamp_seconds", "When the site was last planned without error (Unix time).",
                      [("site", site)], last.timeIntervalSince1970)
            }
        }
        gauge("audit_log", "records", "Records in the audit log.", [], Double(try instance.store.count()))
        if let verify = observations.verify {
            gauge("audit_verify_ok", "", "1 when the last audit verification found no problem, else 0.", [], verify.ok ? 1 : 0)
            gauge("audit_verify", "timestamp_seconds", "When the audit log was last verified (Unix time).", [], verify.at.timeIntervalSince1970)
        }
        gauge("reconcile_passes", "", "Reconcile passes since the server started.", [], Double(observations.passes))
        gauge("reconcile_passes_gave_way", "", "Reconcile passes that stopped after the sites their commit changed, for a newer push (counted in interlock_reconcile_passes too).", [], Double(observations.passesGaveWay))
        if instance.configuration.notifications != nil {
            let counts = try instance.store.notificationCounts()
            for status in OutboxNotification.Status.allCases {
                gauge("notifications", "", "Notifications in the outbox by status (pending: not yet delivered; failed: given up).",
                      [("status", status.rawValue)], Double(counts[status] ?? 0))
            }
        }
        return registry.emitToString() + scrape.emitToString()
    }
}
