import AsyncHTTPClient
import Crypto
import Foundation
import InterlockModel
import InterlockStore
import NIOCore
import NIOHTTP1

/// Delivers one outbox entry over its channel.
struct NotificationDelivery: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    var config: NotificationConfiguration
    var secrets: NotificationWorker.Secrets

    func deliver(_ item: OutboxNotification) async -> Result<Void, Failure> {
        do {
            switch item.channel {
            case "email": try await email(item)
            case "webhook": try await webhook(item)
            default: throw Failure(message: "unknown channel '\(item.channel)'")
            }
            return .success(())
        } catch let failure as Failure {
            return .failure(failure)
        } catch {
            return .failure(Failure(message: "\(error)"))
        }
    }

    func email(_ item: OutboxNotification) async throws {
        guard let email = config.email else { throw Failure(message: "no SMTP server is configured (notifications.email)") }
        let security: SMTPClient.NotificationSecurity = switch email.security {
        case .starttls: .starttls
        case .tls: .tls
        case .none: .none
        }
        let client = SMTPClient(host: email.host, port: email.port, security: security, username: email.username, password: secrets.smtpPassword,
                                caFile: email.caFile)
        let message = MailMessage.build(from: email.from, to: item.recipient, subject: item.subject, text: item.text, html: item.html,
                                        messageID: NotificationComposer.deliveryID(item.key), event: item.event, date: Date())
        do {
            try await client.send(from: MailMessage.address(email.from), to: [item.recipient], data: message)
        } catch let failure as SMTPClient.Failure {
            throw Failure(message: failure.message)
        }
    }

    /// Posts the payload. The receiver can check `X-Interlock-Signature-256: sha256=<HMAC-SHA256 of the body with the
    /// webhook's secret>`; `X-Interlock-Delivery` is the same on every attempt of one notification.
    func webhook(_ item: OutboxNotification) async throws {
        guard let hook = config.webhooks.first(where: { $0.name == item.recipient }) else {
            throw Failure(message: "no webhook is named '\(item.recipient)' in the instance configuration any more")
        }
        let body = item.payload ?? "{}"
        var request = HTTPClientRequest(url: hook.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Interlock-Notifications")
        request.headers.add(name: "X-Interlock-Event", value: item.event)
        request.headers.add(name: "X-Interlock-Delivery", value: NotificationComposer.deliveryID(item.key))
        if let secret = secrets.webhookSecrets[hook.name] ?? hook.secret {
            request.headers.add(name: "X-Interlock-Signature-256", value: "sha256=" + Self.signature(body: Data(body.utf8), secret: secret))
        }
        request.body = .bytes(ByteBuffer(string: body))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
        } catch {
            throw Failure(message: "cannot post to the webhook '\(hook.name)': \(error)")
        }
        let answer = (try? await response.body.collect(upTo: 2048)).map { String(buffer: $0) } ?? ""
        guard (200..<300).contains(Int(response.status.code)) else {
            throw Failure(message: "the webhook '\(hook.name)' answered \(response.status.code)\(answer.isEmpty ? "" : ": \(answer.prefix(200))")")
        }
    }

    static func signature(body: Data, secret: String) -> String { GitWebhooks.hmacSHA256(body, secret: secret) }
}
