import Foundation

/// `Codable` with the canonical field names and the timestamp as ``AuditTimestamp`` text, so any JSON
/// encoder produces the same fields as the JSON Lines export (key order and spacing aside).
extension AuditRecord: Codable {
    enum CodingKeys: String, CodingKey {
        case sequence, id, timestamp, actor, source, category, action, site, resource, changeID, planID, commit
        case before, after, reason, result, error, details, previousHash, hash
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .timestamp)
        guard let timestamp = AuditTimestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .timestamp, in: c, debugDescription: "'\(text)' is not an ISO-8601 UTC timestamp")
        }
        self.init(
            sequence: try c.decode(Int64.self, forKey: .sequence), id: try c.decode(String.self, forKey: .id), timestamp: timestamp,
            actor: try c.decode(AuditActor.self, forKey: .actor), source: try c.decode(AuditSource.self, forKey: .source),
            category: try c.decode(AuditCategory.self, forKey: .category), action: try c.decode(String.self, forKey: .action),
            site: try c.decodeIfPresent(String.self, forKey: .site), resource: try c.decodeIfPresent(String.self, forKey: .resource),
            changeID: try c.decodeIfPresent(String.self, forKey: .changeID), planID: try c.decodeIfPresent(String.self, forKey: .planID),
            commit: try c.decodeIfPresent(String.self, forKey: .commit), before: try c.decodeIfPresent(String.self, forKey: .before),
            after: try c.decodeIfPresent(String.self, forKey: .after), reason: try c.decodeIfPresent(String.self, forKey: .reason),
            result: try c.decode(AuditResult.self, forKey: .result), error: try c.decodeIfPresent(String.self, forKey: .error),
            details: try c.decodeIfPresent([String: String].self, forKey: .details) ?? [:],
            previousHash: try c.decode(String.self, forKey: .previousHash), hash: try c.decode(String.self, forKey: .hash)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(id, forKey: .id)
        try c.encode(timestampText, forKey: .timestamp)
        try c.encode(actor, forKey: .actor)
        try c.encode(source, forKey: .source)
        try c.encode(category, forKey: .category)
        try c.encode(action, forKey: .action)
        try c.encode(site, forKey: .site)
        try c.encode(resource, forKey: .resource)
        try c.encode(changeID, forKey: .changeID)
        try c.encode(planID, forKey: .planID)
        try c.encode(commit, forKey: .commit)
        try c.encode(before, forKey: .before)
        try c.encode(after, forKey: .after)
        try c.encode(reason, forKey: .reason)
        try c.encode(result, forKey: .result)
        try c.encode(error, forKey: .error)
        try c.encode(details, forKey: .details)
        try c.encode(previousHash, forKey: .previousHash)
        try c.encode(hash, forKey: .hash)
    }
}

extension AuditCheckpoint: Codable {
    enum CodingKeys: String, CodingKey { case sequence, headHash, timestamp, signature, keyID }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .timestamp)
        guard let timestamp = AuditTimestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .timestamp, in: c, debugDescription: "'\(text)' is not an ISO-8601 UTC timestamp")
        }
        self.init(sequence: try c.decode(Int64.self, forKey: .sequence), headHash: try c.decode(String.self, forKey: .headHash),
                  timestamp: timestamp, signature: try c.decode(String.self, forKey: .signature), keyID: try c.decode(String.self, forKey: .keyID))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(headHash, forKey: .headHash)
        try c.encode(AuditTimestamp.format(timestamp), forKey: .timestamp)
        try c.encode(signature, forKey: .signature)
        try c.encode(keyID, forKey: .keyID)
    }
}
