import Foundation
import InterlockModel
import NIOCore
import NIOPosix
import NIOSSL

/// Sends one message to an SMTP server (RFC 5321): STARTTLS before anything else when asked (and refuses a server
/// that does not offer it), TLS from the first byte for port 465, AUTH PLAIN or LOGIN only over TLS. Every step has a
/// time limit; the server's reply is quoted in the error.
struct SMTPClient: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    var host: String
    var port: Int
    var security: NotificationSecurity
    var username: String?
    var password: String?
    var caFile: String?
    var timeout: TimeAmount = .seconds(30)

    enum NotificationSecurity: Sendable { case starttls, tls, none }

    /// Sends `data` (a whole RFC 5322 message, lines ending in CRLF) from `from` to `recipients`.
    func send(from: String, to recipients: [String], data: String) async throws {
        let tls = try makeTLSContext()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .channelInitializer { [security, host] channel in
                channel.eventLoop.makeCompletedFuture {
                    if security == .tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: Self.sniName(host)))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPLineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler())
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw Failure(message: "cannot connect to the SMTP server \(host):\(port): \(error)")
        }
        // The handler of the connection that was made (each attempt of a dual-stack connect has its own).
        let replies = try await channel.pipeline.handler(type: SMTPReplyHandler.self).get()
        // Whatever happens, the connection is closed after the time limit.
        let deadline = channel.eventLoop.scheduleTask(in: timeout * 4) { channel.close(promise: nil) }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        /// Sends `command` (shown in errors as `label`: never credentials or the message) and waits for a reply in `codes`.
        func expect(_ codes: Set<Int>, after command: String?, label: String? = nil) async throws -> SMTPReply {
            let shown = label ?? command.map { Self.shown($0) } ?? "the connection"
            if let command {
                try await channel.writeAndFlush(ByteBuffer(string: command + "\r\n")).get()
            }
            let reply: SMTPReply
            do {
                reply = try await replies.next(on: channel.eventLoop, timeout: timeout).get()
            } catch {
                throw Failure(message: "the SMTP server \(host):\(port) did not answer \(shown): \(error)")
            }
            guard codes.contains(reply.code) else {
                throw Failure(message: "the SMTP server \(host):\(port) answered \(shown) with \(reply.code) \(String(reply.text.prefix(300)))")
            }
            return reply
        }
        _ = try await expect([220], after: nil)
        let me = ProcessInfo.processInfo.hostName.isEmpty ? "interlock" : ProcessInfo.processInfo.hostName
        var hello = try await expect([250], after: "EHLO \(me)")
        if security == .starttls {
            guard hello.lines.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
                throw Failure(message: "the SMTP server \(host):\(port) does not offer STARTTLS; Interlock does not send mail unencrypted (set security: none only for a relay on this host)")
            }
            _ = try await expect([220], after: "STARTTLS")
            // Nothing may arrive between the 220 and the handshake: a reply sent in the clear then would be taken for
            // one the server gave over TLS.
            guard try await replies.isIdle(on: channel.eventLoop).get() else {
                throw Failure(message: "the SMTP server \(host):\(port) sent more after agreeing to STARTTLS; refusing to go on")
            }
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: Self.sniName(host)), position: .first)
            }.get()
            hello = try await expect([250], after: "EHLO \(me)")
        }
        if let username, let password {
            guard security != .none else { throw Failure(message: "refusing to send the SMTP password over an unencrypted connection") }
            let mechanisms = hello.lines.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased().split(separator: " ").map(String.init) ?? []
            if mechanisms.contains("PLAIN") || !mechanisms.contains("LOGIN") {
                let token = Data("\u{0}\(username)\u{0}\(password)".utf8).base64EncodedString()
                _ = try await expect([235], after: "AUTH PLAIN \(token)", label: "AUTH PLAIN")
            } else {
                _ = try await expect([334], after: "AUTH LOGIN")
                _ = try await expect([334], after: Data(username.utf8).base64EncodedString(), label: "AUTH LOGIN (the user name)")
                _ = try await expect([235], after: Data(password.utf8).base64EncodedString(), label: "AUTH LOGIN (the password)")
            }
        }
        for address in [from] + recipients where !MailMessage.isPlainAddress(address) {
            throw Failure(message: "refusing the address '\(address.prefix(80).unicodeScalars.map { $0.value < 0x20 ? "?" : String($0) }.joined())': it is not a plain e-mail address")
        }
        _ = try await expect([250], after: "MAIL FROM:<\(from)>")
        for recipient in recipients {
            _ = try await expect([250, 251], after: "RCPT TO:<\(recipient)>")
        }
        _ = try await expect([354], after: "DATA")
        // Dot-stuffing (RFC 5321 4.5.2), then the end of the data.
        let body = data.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
        _ = try await expect([250], after: body + (body.hasSuffix("\r\n") ? "" : "\r\n") + ".", label: "the message")
        _ = try? await expect([221], after: "QUIT")
    }

    /// A command as an error shows it: never the credentials, never a whole message.
    static func shown(_ command: String) -> String {
        if command.hasPrefix("AUTH") { return "AUTH" }
        if command.count > 80 || command.contains("\r\n") { return "the message" }
        return command
    }

    /// SNI carries names only, never an address literal.
    static func sniName(_ host: String) -> String? {
        host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
    }

    private func makeTLSContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            configuration.trustRoots = .file(caFile)
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(message: "cannot set up TLS for the SMTP server (caFile \(caFile ?? "system")): \(error)")
        }
    }
}

/// Splits what the server sends into lines (a reply line is at most 4096 bytes; anything longer ends the connection).
struct SMTPLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 4096 { throw SMTPClient.Failure(message: "the SMTP server sent a line longer than 4096 bytes") }
            return .needMoreData
        }
        let length = view.distance(from: view.startIndex, to: newline)
        guard let line = buffer.readSlice(length: length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// One SMTP reply: its code and the text of each of its lines (`250-SIZE`, `250 HELP` → `SIZE`, `HELP`).
struct SMTPReply: Sendable {
    var code: Int
    var lines: [String]
    var text: String { lines.joined(separator: " / ") }
}

/// Collects reply lines into replies and hands each to the next waiter, in order. Used on its channel's event loop only.
final class SMTPReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private var partial: [String] = []
    private var ready: [SMTPReply] = []
    private var waiting: [EventLoopPromise<SMTPReply>] = []
    private var closed: (any Error)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard var line = buffer.readString(length: buffer.readableBytes) else { return }
        if line.hasSuffix("\r") { line.removeLast() }
        guard line.count >= 3, let code = Int(line.prefix(3)) else {
            fail(SMTPClient.Failure(message: "the SMTP server sent a line that is not a reply: \(line.prefix(80))"))
            context.close(promise: nil)
            return
        }
        let rest = line.dropFirst(3)
        partial.append(String(rest.dropFirst()))
        // `250-…` continues the reply; `250 …` (or a bare `250`) ends it.
        if rest.first != "-" {
            let reply = SMTPReply(code: code, lines: partial)
            partial = []
            if waiting.isEmpty { ready.append(reply) } else { waiting.removeFirst().succeed(reply) }
        }
        if partial.count > 100 {
            fail(SMTPClient.Failure(message: "the SMTP server sent a reply of more than 100 lines"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SMTPClient.Failure(message: "the connection was closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        if closed == nil { closed = error }
        let pending = waiting
        waiting = []
        for promise in pending { promise.fail(error) }
    }

    /// Whether no reply is waiting to be read.
    func isIdle(on loop: EventLoop) -> EventLoopFuture<Bool> {
        loop.submit { self.ready.isEmpty && self.partial.isEmpty }
    }

    /// The next reply, or a failure after `timeout`.
    func next(on loop: EventLoop, timeout: TimeAmount) -> EventLoopFuture<SMTPReply> {
        loop.flatSubmit {
            if !self.ready.isEmpty { return loop.makeSucceededFuture(self.ready.removeFirst()) }
            if let closed = self.closed { return loop.makeFailedFuture(closed) }
            let promise = loop.makePromise(of: SMTPReply.self)
            self.waiting.append(promise)
            let timer = loop.scheduleTask(in: timeout) {
                if let index = self.waiting.firstIndex(where: { $0.futureResult === promise.futureResult }) {
                    self.waiting.remove(at: index)
                    promise.fail(SMTPClient.Failure(message: "no reply within \(timeout.nanoseconds / 1_000_000_000) s"))
                }
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            return promise.futureResult
        }
    }
}

/// An e-mail as sent: headers, and a text and an HTML part (base64, so any line and any character travels intact).
enum MailMessage {
    /// The address inside `Name <address>`, or the text itself.
    static func address(_ text: String) -> String {
        if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            return String(text[text.index(after: open)..<close]).trimmingCharacters(in: .whitespaces)
        }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// An address that can stand in `MAIL FROM:<…>` / `RCPT TO:<…>` as it is: printable ASCII, no space, no angle
    /// bracket, one `@` (nothing a repository's text could use to add an SMTP command).
    static func isPlainAddress(_ address: String) -> Bool { NotificationConfiguration.isPlainAddress(address) }

    /// `Name <address>` with only the name encoded when it is not plain ASCII.
    static func addressHeader(_ text: String) -> String {
        let address = self.address(text)
        guard let open = text.lastIndex(of: "<") else { return address }
        let name = text[..<open].trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? "<\(address)>" : "\(header(name)) <\(address)>"
    }

    /// RFC 2047 for a header value that is not plain ASCII.
    static func header(_ text: String) -> String {
        let clean = NotificationComposer.headerSafe(text)
        if clean.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 }) { return clean }
        // Encoded words of at most 75 characters (RFC 2047), split between characters, folded onto lines of their own.
        var words: [String] = []
        var chunk = ""
        for character in clean {
            if Data((chunk + String(character)).utf8).base64EncodedString().count > 75 - 12 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?utf-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\r\n ")
    }

    static func base64Lines(_ text: String) -> String {
        let encoded = Data(text.utf8).base64EncodedString()
        var lines: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        return lines.joined(separator: "\r\n")
    }

    static func build(from: String, to: String, subject: String, text: String, html: String?, messageID: String, event: String, date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let boundary = "interlock-\(messageID)"
        var lines = [
            "From: \(addressHeader(from))", "To: \(addressHeader(to))", "Subject: \(header(subject))", "Date: \(formatter.string(from: date))",
            "Message-ID: <\(messageID)@interlock>", "MIME-Version: 1.0", "X-Interlock-Event: \(header(event))", "Auto-Submitted: auto-generated",
        ]
        if let html {
            lines += ["Content-Type: multipart/alternative; boundary=\"\(boundary)\"", "", "--\(boundary)",
                      "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", base64Lines(text),
                      "--\(boundary)", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64", "", base64Lines(html),
                      "--\(boundary)--"]
        } else {
            lines += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", base64Lines(text)]
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
