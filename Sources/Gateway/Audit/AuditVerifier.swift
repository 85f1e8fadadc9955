import Foundation
import PostgresClient

/// Walks the audit trail from the first event and recomputes its hash chain
/// (`account-gateway audit verify`): a changed, removed or inserted event
/// breaks it at that event.
///
/// It streams: events are read in pages by primary key, the next page is
/// fetched while the current one is hashed, and nothing but the two pages and
/// the previous hash is held, so memory is the same at any size of the trail.
/// The canonical text is rebuilt from the raw columns in Swift (never by a
/// database function, which whoever can change the schema could change too).
public struct AuditVerifier: Sendable {
    let pool: PostgresPool
    /// Events read per query.
    let pageSize: Int

    public init(pool: PostgresPool, pageSize: Int = 20_000) {
        self.pool = pool
        self.pageSize = pageSize
    }

    public struct Report: Sendable, Equatable {
        public var checked: Int
        /// The first event that breaks the chain, and why; nil when intact.
        public var firstBroken: (id: Int64, reason: String)?

        public static func == (a: Report, b: Report) -> Bool {
            a.checked == b.checked && a.firstBroken?.id == b.firstBroken?.id && a.firstBroken?.reason == b.firstBroken?.reason
        }
    }

    static let genesis = String(repeating: "0", count: 64)

    /// Stores a run's result, for the replicas' metrics and alerts.
    public func record(_ report: Report) async throws {
        _ = try await pool.query("""
            INSERT INTO audit_verifications (intact, checked, first_broken_id, reason)
            VALUES (\(report.firstBroken == nil), \(Int64(report.checked)), \(report.firstBroken?.id), \(report.firstBroken?.reason))
            """)
    }

    public func verify() async throws -> Report {
        // The head first: events written while this runs come after it and are left for the next run.
        guard let head = try await pool.query("SELECT last_id, last_hash FROM audit_chain").rows.first else {
            return Report(checked: 0, firstBroken: (1, "the chain head is missing"))
        }
        let lastID = try head.int64("last_id")
        var chain = ChainCheck()
        var next: Task<[PostgresRow], Error>? = lastID > 0 ? page(after: 0, through: lastID) : nil
        while let current = next {
            let rows = try await current.value
            // Read ahead while this page is hashed.
            if rows.count == pageSize, let last = rows.last?[0].flatMap({ Int64($0) }), last < lastID {
                next = page(after: last, through: lastID)
            } else {
                next = nil
            }
            for row in rows {
                if let broken = chain.check(row) {
                    next?.cancel()
                    return Report(checked: chain.checked, firstBroken: broken)
                }
            }
        }
        // The chain's head remembers the last event: events removed from the end show here.
        if lastID != chain.expectedID - 1 {
            return Report(checked: chain.checked, firstBroken: (chain.expectedID, "events \(chain.expectedID)…\(lastID) are missing from the end"))
        }
        if try head.string("last_hash") != chain.previousHashText {
            return Report(checked: chain.checked, firstBroken: (lastID, "the chain head does not match the last event"))
        }
        return Report(checked: chain.checked, firstBroken: nil)
    }

    private func page(after: Int64, through lastID: Int64) -> Task<[PostgresRow], Error> {
        let pool = self.pool
        let statement = Self.pageStatement(after: after, through: lastID, limit: pageSize)
        return Task {
            try await pool.withTransaction { connection in
                try connection.executeScript(Self.inIDOrder)
                return try connection.query(statement).rows
            }
        }
    }

    /// The next `limit` events after `after`, up to `lastID`, in id order, with the
    /// columns `ChainCheck` reads, by position.
    static func pageStatement(after: Int64, through lastID: Int64, limit: Int) -> PostgresQuery {
        """
        SELECT id, (extract(epoch FROM at) * 1000000)::bigint, request_id, caller, action, user_id,
               chat_user_id, outcome, http_status, tencent_error_code, tencent_error_info, attempt, latency_ms,
               idempotency_key, prev_hash, hash, route
        FROM audit_events WHERE id > \(after) AND id <= \(lastID) ORDER BY id LIMIT \(limit)
        """
    }

    /// Settings for the page's transaction, so it is read through the primary key
    /// in order whatever the statistics say. Where they know none of the events
    /// (a trail just written, or the events since the last ANALYZE), PostgreSQL
    /// expected a few hundred rows, read them all by a bitmap or sequential scan
    /// and sorted them on disk, for every page: 1.6-1.9 s for 200,000 events
    /// against 0.6-0.8 s through the index (`make bench`, 2026-12-03).
    static let inIDOrder = "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"
}

/// The running state of a verification: the next id expected and the hash the
/// next event must name as its `prev_hash`. Works on bytes, one reused buffer.
struct ChainCheck {
    private(set) var expectedID: Int64 = 1
    private(set) var checked = 0
    private var previousHash = Array(AuditVerifier.genesis.utf8)
    private var canonical: [UInt8] = []

    var previousHashText: String { String(decoding: previousHash, as: UTF8.self) }

    private static let actions = Set(AuditEvent.Action.allCases.map(\.rawValue))

    /// Checks the next row (columns as `AuditVerifier.page` selects them); the
    /// break it finds, or nil when the row continues the chain.
    mutating func check(_ row: PostgresRow) -> (id: Int64, reason: String)? {
        guard let idText = row[0], let id = Int64(idText), let atText = row[1], let action = row[4],
              let outcome = row[7], let prevHash = row[14], let hash = row[15] else {
            return (expectedID, "event \(expectedID) has a missing required field")
        }
        guard id == expectedID else {
            return (expectedID, "event \(expectedID) is missing (next is \(id))")
        }
        guard Self.actions.contains(action) else { return (id, "unknown action") }
        guard prevHash.utf8.elementsEqual(previousHash) else {
            return (id, "prev_hash does not match the hash of event \(id - 1)")
        }
        // Columns as `AuditVerifier.page` selects them, in their raw text.
        AuditCanonical.write(
            into: &canonical, previousHash: previousHash, id: idText, at: atText, requestID: row[2], caller: row[3],
            action: action, userID: row[5], chatUserID: row[6], outcome: outcome, httpStatus: row[8],
            tencentErrorCode: row[9], tencentErrorInfo: row[10], attempt: row[11], latencyMilliseconds: row[12],
            idempotencyKey: row[13], route: row[16])
        let computed = Digest.sha256Hex(bytes: canonical)
        guard hash.utf8.elementsEqual(computed) else {
            return (id, "its content does not match its hash (changed after it was written)")
        }
        previousHash = computed
        expectedID += 1
        checked += 1
        return nil
    }
}
