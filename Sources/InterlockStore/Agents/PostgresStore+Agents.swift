import Foundation
import InterlockEngine
import PostgresNIO

extension PostgresStore: AgentRegistry {
    static func enrolment(_ row: PostgresRow) throws -> AgentEnrolment {
        AgentEnrolment(
            id: try row.text(0) ?? "", site: try row.text(1) ?? "", tokenHash: try row.text(2) ?? "",
            status: AgentEnrolment.Status(rawValue: try row.text(3) ?? "") ?? .rejected, createdAt: try row.date(4) ?? .distantPast,
            expiresAt: try row.date(5) ?? .distantPast, createdBy: try row.text(6) ?? "", request: try row.text(7), keyFingerprint: try row.text(8),
            requestedAt: try row.date(9), requestedFrom: try row.text(10), decidedBy: try row.text(11), decidedAt: try row.date(12), serial: try row.text(13))
    }

    static func certificate(_ row: PostgresRow) throws -> AgentCertificate {
        AgentCertificate(
            serial: try row.text(0) ?? "", site: try row.text(1) ?? "", enrolmentID: try row.text(2) ?? "", fingerprint: try row.text(3) ?? "",
            keyFingerprint: try row.text(4) ?? "", notBefore: try row.date(5) ?? .distantPast, notAfter: try row.date(6) ?? .distantPast,
            pem: try row.text(7) ?? "", issuedAt: try row.date(8) ?? .distantPast, renews: try row.text(9), revokedAt: try row.date(10),
            revokedBy: try row.text(11), lastContact: try row.date(12), lastAddress: try row.text(13))
    }

    private static func seconds(_ date: Date?) -> PostgresValue { date.map { .double($0.timeIntervalSince1970) } ?? .text(nil) }

    private func insert(_ certificate: AgentCertificate, in connection: PostgresSessionConnection) throws {
        try connection.query(
            "INSERT INTO agent_certificate (\(SQLiteStore.certificateColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::double precision, $12, $13::double precision, $14)",
            [.text(certificate.serial), .text(certificate.site), .text(certificate.enrolmentID), .text(certificate.fingerprint),
             .text(certificate.keyFingerprint), .double(certificate.notBefore.timeIntervalSince1970), .double(certificate.notAfter.timeIntervalSince1970),
             .text(certificate.pem), .double(certificate.issuedAt.timeIntervalSince1970), .text(certificate.renews), Self.seconds(certificate.revokedAt),
             .text(certificate.revokedBy), Self.seconds(certificate.lastContact), .text(certificate.lastAddress)])
    }

    public func createEnrolment(_ enrolment: AgentEnrolment, entries: [AuditEntry]) throws {
        for entry in entries { try entry.validate() }
        try database("create an agent enrolment for \(enrolment.site)") {
            try session.transaction { connection in
                try connection.query(
                    "INSERT INTO agent_enrolment (\(SQLiteStore.enrolmentColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::double precision, $11, $12, $13::double precision, $14)",
                    [.text(enrolment.id), .text(enrolment.site), .text(enrolment.tokenHash), .text(enrolment.status.rawValue),
                     .double(enrolment.createdAt.timeIntervalSince1970), .double(enrolment.expiresAt.timeIntervalSince1970), .text(enrolment.createdBy),
                     .text(enrolment.request), .text(enrolment.keyFingerprint), Self.seconds(enrolment.requestedAt), .text(enrolment.requestedFrom),
                     .text(enrolment.decidedBy), Self.seconds(enrolment.decidedAt), .text(enrolment.serial)])
                _ = try appendRecords(entries, in: connection)
            }
        }
    }

    public func enrolment(id: String) throws -> AgentEnrolment? {
        try database("read an agent enrolment") {
            try session.withConnection { connection in
                try connection.query("SELECT \(SQLiteStore.enrolmentColumns) FROM agent_enrolment WHERE id = $1", [.text(id)]).first.map(Self.enrolment)
            }
        }
    }

    public func enrolments(site: String?) throws -> [AgentEnrolment] {
        try database("read the agent enrolments") {
            try session.withConnection { connection in
                try connection.query("SELECT \(SQLiteStore.enrolmentColumns) FROM agent_enrolment WHERE $1::text IS NULL OR site = $1 ORDER BY created_at DESC, id",
                                     [.text(site)]).map(Self.enrolment)
            }
        }
    }

    public func requestEnrolment(tokenHash: String, request: String, keyFingerprint: String, at date: Date, from address: String,
                                 entries: (AgentEnrolment) -> [AuditEntry], refusal: [AuditEntry]) throws -> AgentEnrolment? {
        for entry in refusal { try entry.validate() }
        return try database("record an agent's enrolment request") {
            try session.transaction { connection -> AgentEnrolment? in
                // One statement: of two agents presenting the same token at once, one wins.
                let rows = try connection.query(
                    """
                    UPDATE agent_enrolment SET status = 'requested', request = $2, key_fingerprint = $3, requested_at = $4, requested_from = $5
                    WHERE token_hash = $1 AND status = 'open' AND expires_at > $4 RETURNING \(SQLiteStore.enrolmentColumns)
                    """,
                    [.text(tokenHash), .text(request), .text(keyFingerprint), .double(date.timeIntervalSince1970), .text(address)])
                guard let row = rows.first else {
                    _ = try appendRecords(refusal, in: connection)
                    return nil
                }
                let enrolment = try Self.enrolment(row)
                _ = try appendRecords(entries(enrolment), in: connection)
                return enrolment
            }
        }
    }

    public func decideEnrolment(id: String, by user: String, at date: Date, certificate: AgentCertificate?, entries: [AuditEntry]) throws -> AgentEnrolment {
        for entry in entries { try entry.validate() }
        return try database("decide the agent enrolment \(id)") {
            try session.transaction { connection -> AgentEnrolment in
                guard let row = try connection.query("SELECT \(SQLiteStore.enrolmentColumns) FROM agent_enrolment WHERE id = $1 FOR UPDATE", [.text(id)]).first else {
                    throw AgentRegistryError(.notFound, "there is no agent enrolment \(id)")
                }
                var enrolment = try Self.enrolment(row)
                guard enrolment.status == .requested else {
                    throw AgentRegistryError(.conflict, "the enrolment \(id) is \(enrolment.status.rawValue), not waiting for a decision")
                }
                enrolment.status = certificate == nil ? .rejected : .approved
                enrolment.decidedBy = user
                enrolment.decidedAt = date
                enrolment.serial = certificate?.serial
                try connection.query("UPDATE agent_enrolment SET status = $1, decided_by = $2, decided_at = $3, serial = $4 WHERE id = $5",
                                     [.text(enrolment.status.rawValue), .text(user), .double(date.timeIntervalSince1970), .text(certificate?.serial), .text(id)])
                if let certificate { try insert(certificate, in: connection) }
                _ = try appendRecords(entries, in: connection)
                return enrolment
            }
        }
    }

    public func addCertificate(_ certificate: AgentCertificate, entries: [AuditEntry]) throws {
        for entry in entries { try entry.validate() }
        try database("store the agent certificate \(certificate.serial)") {
            try session.transaction { connection in
                try insert(certificate, in: connection)
                _ = try appendRecords(entries, in: connection)
            }
        }
    }

    public func certificate(serial: String) throws -> AgentCertificate? {
        try database("read an agent certificate") {
            try session.withConnection { connection in
                try connection.query("SELECT \(SQLiteStore.certificateColumns) FROM agent_certificate WHERE serial = $1", [.text(serial)]).first.map(Self.certificate)
            }
        }
    }

    public func certificates(site: String?) throws -> [AgentCertificate] {
        try database("read the agent certificates") {
            try session.withConnection { connection in
                try connection.query("SELECT \(SQLiteStore.certificateColumns) FROM agent_certificate WHERE $1::text IS NULL OR site = $1 ORDER BY issued_at DESC, serial",
                                     [.text(site)]).map(Self.certificate)
            }
        }
    }

    public func revokeCertificates(serials: [String], by user: String, at date: Date, entries: [AuditEntry]) throws -> [AgentCertificate] {
        for entry in entries { try entry.validate() }
        return try database("revoke agent certificates") {
            try session.transaction { connection -> [AgentCertificate] in
                var revoked: [AgentCertificate] = []
                for serial in serials {
                    let rows = try connection.query(
                        "UPDATE agent_certificate SET revoked_at = $1, revoked_by = $2 WHERE serial = $3 AND revoked_at IS NULL RETURNING \(SQLiteStore.certificateColumns)",
                        [.double(date.timeIntervalSince1970), .text(user), .text(serial)])
                    revoked += try rows.map(Self.certificate)
                }
                if !revoked.isEmpty { _ = try appendRecords(entries, in: connection) }
                return revoked
            }
        }
    }

    public func recordContact(serial: String, at date: Date, from address: String) throws {
        try database("record an agent's contact") {
            try session.withConnection { connection in
                try connection.query(
                    "UPDATE agent_certificate SET last_contact = $1, last_address = $2 WHERE serial = $3 AND (last_contact IS NULL OR last_contact < $1)",
                    [.double(date.timeIntervalSince1970), .text(address), .text(serial)])
            }
        }
    }
}

extension PostgresStore {
    public func saveObservation(site: String, report: LiveReport, at date: Date, serial: String) throws {
        let text = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        try database("store the agent's report of \(site)") {
            try session.withConnection { connection in
                try connection.query("""
                    INSERT INTO agent_observation (site, report, fingerprint, desired_version, reported_at, serial) VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (site) DO UPDATE SET report = EXCLUDED.report, fingerprint = EXCLUDED.fingerprint,
                        desired_version = EXCLUDED.desired_version, reported_at = EXCLUDED.reported_at, serial = EXCLUDED.serial
                    """, [.text(site), .text(text), .text(report.fingerprint), .text(report.desiredVersion), .double(date.timeIntervalSince1970), .text(serial)])
            }
        }
    }

    public func confirmObservation(site: String, fingerprint: String, desiredVersion: String, at date: Date, serial: String) throws -> Bool {
        try database("confirm the agent's report of \(site)") {
            try session.withConnection { connection in
                try !connection.query(
                    "UPDATE agent_observation SET reported_at = $1, serial = $2 WHERE site = $3 AND fingerprint = $4 AND desired_version = $5 RETURNING site",
                    [.double(date.timeIntervalSince1970), .text(serial), .text(site), .text(fingerprint), .text(desiredVersion)]).isEmpty
            }
        }
    }

    public func storedObservation(site: String) throws -> (report: LiveReport, reportedAt: Date, serial: String)? {
        let row = try database("read the agent's report of \(site)") {
            try session.withConnection { connection in
                try connection.query("SELECT report, reported_at, serial FROM agent_observation WHERE site = $1", [.text(site)]).first.map {
                    (try $0.text(0) ?? "", try $0.date(1) ?? .distantPast, try $0.text(2) ?? "")
                }
            }
        }
        guard let row else { return nil }
        do {
            return (try JSONDecoder().decode(LiveReport.self, from: Data(row.0.utf8)), row.1, row.2)
        } catch {
            throw AuditStoreError(.database, "the stored agent report of \(site) cannot be read (\(error)); the agent's next report replaces it")
        }
    }
}
