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
    /// - Parameter also: more services to run beside the console (the agent listener).
    public static func run(server: WebServer, host: String, port: Int, logger: Logger, also: [any Service] = []) throws {
        let app = server.makeApplication(host: host, port: port, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: server.loop)] + also.map { .init(service: $0) },
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

extension ServeRunner {
    /// Opens the state database, retrying with back-off (1 s doubling to 30 s) while it does not answer. Meanwhile
    /// the address already answers: `/healthz` 200, `/readyz` 503 "database unreachable" with the last error, every
    /// other path 503 with Retry-After, so a load balancer keeps the replica out until it can serve. Returns what
    /// `open` returned, or nil when SIGTERM or SIGINT came first.
    public static func waitingForDatabase<T>(host: String, port: Int, logger: Logger, describe: @escaping @Sendable (any Error) -> String,
                                             open: () throws -> T) throws -> T? {
        var firstError: (any Error)?
        do { return try open() } catch { firstError = error }
        let lastError = Locked<String>(describe(firstError!))
        let router = Router()
        router.get("/healthz") { _, _ in Responses.json(.object(["status": .string("ok"), "database": .string("waiting")])) }
        router.get("/readyz") { _, _ in
            Responses.json(.object(["status": .string("database unreachable"), "passes": .int(0), "database": .string(lastError.current),
                                    "lastPass": .null, "lastPassError": .null]), status: .serviceUnavailable)
        }
        let waiting: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
            var response = Responses.text("Interlock is waiting for its state database; try again shortly.\n", contentType: "text/plain; charset=utf-8")
            response.status = .serviceUnavailable
            response.headers[.retryAfter] = "10"
            return response
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .head] { router.on("**", method: method, use: waiting) }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let finished = Locked<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await group.run()
                finished.withLock { $0 = .success(()) }
            } catch {
                finished.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        var delay: TimeInterval = 1
        while true {
            logger.error("the state database does not answer: \(lastError.current); retrying in \(Int(delay)) s (/readyz says 503 meanwhile)")
            let until = Date().addingTimeInterval(delay)
            while Date() < until, finished.current == nil { usleep(100_000) }
            if let outcome = finished.current {
                // A signal, or the address could not be used.
                try outcome.get()
                return nil
            }
            delay = min(30, delay * 2)
            do {
                let opened = try open()
                Task { await group.triggerGracefulShutdown() }
                done.wait()
                logger.notice("the state database answers")
                return opened
            } catch {
                lastError.withLock { $0 = describe(error) }
            }
        }
    }
}
