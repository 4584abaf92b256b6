import Foundation
import InterlockEngine
import GRDB

extension SQLiteStore: AgentRegistry {
    static let enrolmentColumns = "id, site, token_hash, status, created_at, expires_at, created_by, request, key_fingerprint, requested_at, requested_from, decided_by, decided_at, serial"
    static let certificateColumns = "serial, site, enrolment_id, fingerprint, key_fingerprint, not_before, not_after, pem, issued_at, renews, revoked_at, revoked_by, last_contact, last_address"

    static func enrolment(_ row: Row) -> AgentEnrolment {
        func date(_ index: Int) -> Date? { (row[index] as Double?).map { Date(timeIntervalSince1970: $0) } }
        return AgentEnrolment(
            id: row[0], site: row[1], tokenHash: row[2], status: AgentEnrolment.Status(rawValue: row[3]) ?? .rejected,
            createdAt: date(4)!, expiresAt: date(5)!, createdBy: row[6], request: row[7], keyFingerprint: row[8], requestedAt: date(9),
            requestedFrom: row[10], decidedBy: row[11], decidedAt: date(12), serial: row[13])
    }

    static func certificate(_ row: Row) -> AgentCertificate {
        func date(_ index: Int) -> Date? { (row[index] as Double?).map { Date(timeIntervalSince1970: $0) } }
        return AgentCertificate(
            serial: row[0], site: row[1], enrolmentID: row[2], fingerprint: row[3], keyFingerprint: row[4], notBefore: date(5)!, notAfter: date(6)!,
            pem: row[7], issuedAt: date(8)!, renews: row[9], revokedAt: date(10), revokedBy: row[11], lastContact: date(12), lastAddress: row[13])
    }

    private func insert(_ certificate: AgentCertificate, in db: Database) throws {
        try db.execute(sql: "INSERT INTO agent_certificate (\(Self.certificateColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
            certificate.serial, certificate.site, certificate.enrolmentID, certificate.fingerprint, certificate.keyFingerprint,
            certificate.notBefore.timeIntervalSince1970, certificate.notAfter.timeIntervalSince1970, certificate.pem,
            certificate.issuedAt.timeIntervalSince1970, certificate.renews, certificate.revokedAt?.timeIntervalSince1970, certificate.revokedBy,
            certificate.lastContact?.timeIntervalSince1970, certificate.lastAddress,
        ])
    }

    /// Runs `body` in one immediate write transaction (`what` names it in errors).
    func writeTransaction<T>(_ what: String, _ body: (Database) throws -> T) throws -> T {
        try database(what) {
            try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        }
    }

    public func createEnrolment(_ enrolment: AgentEnrolment, entries: [AuditEntry]) throws {
        for entry in entries { try entry.validate() }
        try writeTransaction("create an agent enrolment for \(enrolment.site)") { db in
            try db.execute(sql: "INSERT INTO agent_enrolment (\(Self.enrolmentColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arguments: [
                enrolment.id, enrolment.site, enrolment.tokenHash, enrolment.status.rawValue, enrolment.createdAt.timeIntervalSince1970,
                enrolment.expiresAt.timeIntervalSince1970, enrolment.createdBy, enrolment.request, enrolment.keyFingerprint,
                enrolment.requestedAt?.timeIntervalSince1970, enrolment.requestedFrom, enrolment.decidedBy, enrolment.decidedAt?.timeIntervalSince1970,
                enrolment.serial,
            ])
            _ = try self.appendRecords(entries, in: db)
        }
    }

    public func enrolment(id: String) throws -> AgentEnrolment? {
        try database("read an agent enrolment") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT \(Self.enrolmentColumns) FROM agent_enrolment WHERE id = ?", arguments: [id]).map(Self.enrolment)
            }
        }
    }

    public func enrolments(site: String?) throws -> [AgentEnrolment] {
        try database("read the agent enrolments") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT \(Self.enrolmentColumns) FROM agent_enrolment WHERE ? IS NULL OR site = ? ORDER BY created_at DESC, id",
                                 arguments: [site, site]).map(Self.enrolment)
            }
        }
    }

    public func requestEnrolment(tokenHash: String, request: String, keyFingerprint: String, at date: Date, from address: String,
                                 entries: (AgentEnrolment) -> [AuditEntry], refusal: [AuditEntry]) throws -> AgentEnrolment? {
        for entry in refusal { try entry.validate() }
        return try writeTransaction("record an agent's enrolment request") { db -> AgentEnrolment? in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.enrolmentColumns) FROM agent_enrolment WHERE token_hash = ? AND status = 'open' AND expires_at > ?",
                                             arguments: [tokenHash, date.timeIntervalSince1970]) else {
                _ = try self.appendRecords(refusal, in: db)
                return nil
            }
            var enrolment = Self.enrolment(row)
            enrolment.status = .requested
            enrolment.request = request
            enrolment.keyFingerprint = keyFingerprint
            enrolment.requestedAt = date
            enrolment.requestedFrom = address
            try db.execute(sql: "UPDATE agent_enrolment SET status = 'requested', request = ?, key_fingerprint = ?, requested_at = ?, requested_from = ? WHERE id = ? AND status = 'open'",
                           arguments: [request, keyFingerprint, date.timeIntervalSince1970, address, enrolment.id])
            _ = try self.appendRecords(entries(enrolment), in: db)
            return enrolment
        }
    }

    public func decideEnrolment(id: String, by user: String, at date: Date, certificate: AgentCertificate?, entries: [AuditEntry]) throws -> AgentEnrolment {
        for entry in entries { try entry.validate() }
        return try writeTransaction("decide the agent enrolment \(id)") { db -> AgentEnrolment in
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.enrolmentColumns) FROM agent_enrolment WHERE id = ?", arguments: [id]) else {
                throw AgentRegistryError(.notFound, "there is no agent enrolment \(id)")
            }
            var enrolment = Self.enrolment(row)
            guard enrolment.status == .requested else {
                throw AgentRegistryError(.conflict, "the enrolment \(id) is \(enrolment.status.rawValue), not waiting for a decision")
            }
            enrolment.status = certificate == nil ? .rejected : .approved
            enrolment.decidedBy = user
            enrolment.decidedAt = date
            enrolment.serial = certificate?.serial
            try db.execute(sql: "UPDATE agent_enrolment SET status = ?, decided_by = ?, decided_at = ?, serial = ? WHERE id = ? AND status = 'requested'",
                           arguments: [enrolment.status.rawValue, user, date.timeIntervalSince1970, certificate?.serial, id])
            if let certificate { try self.insert(certificate, in: db) }
            _ = try self.appendRecords(entries, in: db)
            return enrolment
        }
    }

    public func addCertificate(_ certificate: AgentCertificate, entries: [AuditEntry]) throws {
        for entry in entries { try entry.validate() }
        try writeTransaction("store the agent certificate \(certificate.serial)") { db in
            try self.insert(certificate, in: db)
            _ = try self.appendRecords(entries, in: db)
        }
    }

    public func certificate(serial: String) throws -> AgentCertificate? {
        try database("read an agent certificate") {
            try pool.read { db in
                try Row.fetchOne(db, sql: "SELECT \(Self.certificateColumns) FROM agent_certificate WHERE serial = ?", arguments: [serial]).map(Self.certificate)
            }
        }
    }

    public func certificates(site: String?) throws -> [AgentCertificate] {
        try database("read the agent certificates") {
            try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT \(Self.certificateColumns) FROM agent_certificate WHERE ? IS NULL OR site = ? ORDER BY issued_at DESC, serial",
                                 arguments: [site, site]).map(Self.certificate)
            }
        }
    }

    public func revokeCertificates(serials: [String], by user: String, at date: Date, entries: [AuditEntry]) throws -> [AgentCertificate] {
        for entry in entries { try entry.validate() }
        return try writeTransaction("revoke agent certificates") { db -> [AgentCertificate] in
            var revoked: [AgentCertificate] = []
            for serial in serials {
                try db.execute(sql: "UPDATE agent_certificate SET revoked_at = ?, revoked_by = ? WHERE serial = ? AND revoked_at IS NULL",
                               arguments: [date.timeIntervalSince1970, user, serial])
                if db.changesCount == 1,
                   let row = try Row.fetchOne(db, sql: "SELECT \(Self.certificateColumns) FROM agent_certificate WHERE serial = ?", arguments: [serial]) {
                    revoked.append(Self.certificate(row))
                }
            }
            if !revoked.isEmpty { _ = try self.appendRecords(entries, in: db) }
            return revoked
        }
    }

    public func recordContact(serial: String, at date: Date, from address: String) throws {
        try database("record an agent's contact") {
            try pool.write { db in
                try db.execute(sql: "UPDATE agent_certificate SET last_contact = ?, last_address = ? WHERE serial = ? AND (last_contact IS NULL OR last_contact < ?)",
                               arguments: [date.timeIntervalSince1970, address, serial, date.timeIntervalSince1970])
            }
        }
    }
}

extension SQLiteStore {
    public func saveObservation(site: String, report: LiveReport, at date: Date, serial: String) throws {
        let text = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        try database("store the agent's report of \(site)") {
            try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO agent_observation (site, report, fingerprint, desired_version, reported_at, serial) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(site) DO UPDATE SET report = excluded.report, fingerprint = excluded.fingerprint,
                        desired_version = excluded.desired_version, reported_at = excluded.reported_at, serial = excluded.serial
                    """, arguments: [site, text, report.fingerprint, report.desiredVersion, date.timeIntervalSince1970, serial])
            }
        }
    }

    public func confirmObservation(site: String, fingerprint: String, desiredVersion: String, at date: Date, serial: String) throws -> Bool {
        try database("confirm the agent's report of \(site)") {
            try pool.write { db in
                try db.execute(sql: "UPDATE agent_observation SET reported_at = ?, serial = ? WHERE site = ? AND fingerprint = ? AND desired_version = ?",
                               arguments: [date.timeIntervalSince1970, serial, site, fingerprint, desiredVersion])
                return db.changesCount == 1
            }
        }
    }

    public func storedObservation(site: String) throws -> (report: LiveReport, reportedAt: Date, serial: String)? {
        let row = try database("read the agent's report of \(site)") {
            try pool.read { db in try Row.fetchOne(db, sql: "SELECT report, reported_at, serial FROM agent_observation WHERE site = ?", arguments: [site]) }
        }
        guard let row else { return nil }
        let text: String = row[0]
        do {
            return (try JSONDecoder().decode(LiveReport.self, from: Data(text.utf8)), Date(timeIntervalSince1970: row[1]), row[2])
        } catch {
            throw AuditStoreError(.database, "the stored agent report of \(site) cannot be read (\(error)); the agent's next report replaces it")
        }
    }
}
