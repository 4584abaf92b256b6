import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Runs `interlock serve`: the HTTP server and the reconcile loop in one service group that shuts down
/// gracefully on SIGTERM or SIGINT. The loop is stopped first and finishes the pass in progress (an apply is
/// never cut off); the server keeps answering meanwhile, then finishes its open requests and stops.
public enum ServeRunner {
    /// `host:port`, `[v6]:port` or `:port` (all interfaces).
    public static func parseAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// Blocks until the service group has stopped.
    public static func run(server: WebServer, host: String, port: Int, logger: Logger) throws {
        let app = server.makeApplication(host: host, port: port, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: server.loop)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let outcome = Locked<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await group.run()
                outcome.withLock { $0 = .success(()) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        try outcome.current?.get()
    }

    /// A logger that writes to standard error, at `LOG_LEVEL` (default info).
    public static func makeLogger() -> Logger {
        var logger = Logger(label: "interlock") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return logger
    }
}
