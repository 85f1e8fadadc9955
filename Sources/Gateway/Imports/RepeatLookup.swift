import Logging
import PostgresClient
import Synchronization

/// The common repeat, a `POST /accounts` for an account already imported as
/// asked, answered in one statement per group of requests: it reads the
/// group's accounts and writes the `account.import` event (200,
/// `already_imported`) of every request whose account it finds imported with
/// the asked profile. Requests that arrive while a group's statement runs go
/// together in the next one (`GroupCommit`), so under load such a request
/// costs a share of one round trip instead of a lookup plus an event write.
/// Every other request (no row, pending, failed, a changed profile) comes back
/// with no event written and takes the usual path.
final class RepeatLookup: Sendable {
    /// The request's `account.import` event as far as the edge knows it before
    /// an answer. If the request is answered here, the statement writes it with
    /// what `GatewayApplication.event(_:for:)` sets for `already_imported`:
    /// outcome `already_imported`, status 200, and the row's attempts and last
    /// Tencent error; its latency is the time until the statement is sent.
    struct Event: Sendable {
        var template: AuditEvent
        var started: ContinuousClock.Instant
    }

    struct Request: Sendable {
        var input: AccountInput
        var event: Event
    }

    /// Requests per statement at most.
    static let maxBatch = 200

    private let group: GroupCommit<Request, Account?>

    init(pool: PostgresPool, logger: Logger) {
        group = GroupCommit("repeat lookup", logger: logger, nextBatch: { min($0.count, Self.maxBatch) }) { requests in
            try Self.answers(try await pool.query(Self.statement(requests)), count: requests.count)
        }
    }

    /// The account, when the request is answered `already_imported` with its
    /// event written; nil when it must take the usual path.
    func answer(_ input: AccountInput, event: Event) async throws -> Account? {
        let account = try await group.submit(Request(input: input, event: event))
        hits.withLock { $0.record(hit: account != nil) }
        return account
    }

    /// Whether asking is likely to pay: for a new account it is a shared round
    /// trip more, so while most recent askers were not answered (a flood of new
    /// accounts) requests go straight on; every `HitRate.probeEvery`-th asks
    /// anyway, so a return of repeats is seen.
    func worthAsking() -> Bool {
        hits.withLock { $0.worthAsking() }
    }

    private let hits = Mutex(HitRate())

    /// The recent share of askers answered, as a moving average.
    struct HitRate: Sendable {
        /// Answered share below which only probes ask.
        static let threshold = 0.25
        static let probeEvery = 16
        /// Weight of the newest answer.
        static let weight = 1.0 / 32

        private(set) var rate = 1.0
        private var skipped = 0

        mutating func record(hit: Bool) {
            rate += Self.weight * ((hit ? 1 : 0) - rate)
        }

        mutating func worthAsking() -> Bool {
            if rate >= Self.threshold { return true }
            skipped += 1
            guard skipped >= Self.probeEvery else { return false }
            skipped = 0
            return true
        }
    }

    /// What a request asks, as one row of the statement's `jsonb_to_recordset` (written by
    /// `JSONWriter`: JSONEncoder took about as long as the rest of building the statement).
    private struct Asked: JSONWritable {
        var position: Int
        var input: AccountInput

        func write(to json: inout JSONWriter) {
            json.object { json in
                json.field("position", position)
                json.field("user_id", input.userID)
                json.field("nick", input.nick)
                json.field("face_url", input.faceURL)
            }
        }
    }

    /// An account is unchanged as `Account.changes` has it: each profile field is
    /// either not asked for or asked as stored. The events are written in the
    /// requests' order; `answered` tells which were.
    static func statement(_ requests: [Request]) -> PostgresQuery {
        let asked = requests.enumerated().map { index, request in
            Asked(position: index + 1, input: request.input)
        }
        let sent = ContinuousClock.now
        let events = requests.map { request in
            var event = request.event.template
            event.latencyMilliseconds = (sent - request.event.started).milliseconds
            return event
        }
        return """
            WITH asked AS (
                SELECT * FROM jsonb_to_recordset(\(JSON.text(asked))::jsonb) AS q(position bigint, user_id text, nick text, face_url text)
            ), found AS (
                SELECT q.position, \(unescaped: AccountStore.qualifiedColumns),
                       a.status = 'imported' AND (q.nick IS NULL OR q.nick IS NOT DISTINCT FROM a.nick)
                           AND (q.face_url IS NULL OR q.face_url IS NOT DISTINCT FROM a.face_url) AS answered
                FROM asked q JOIN accounts a ON a.user_id = q.user_id
                -- Through the primary key: a plain join hashed the function's rows and scanned the table.
                WHERE a.user_id = ANY (ARRAY(SELECT user_id FROM asked))
            ), written AS (
                INSERT INTO audit_events (\(unescaped: AuditLog.insertColumns))
                SELECT e.request_id, e.caller, e.action, e.user_id, e.chat_user_id, 'already_imported', 200,
                    f.last_error_code, CASE WHEN f.last_error_code IS NULL THEN NULL ELSE coalesce(f.last_error_info, '') END,
                    f.attempts, e.latency_ms, e.idempotency_key, e.route, '', '', now(), 0
                FROM \(fragment: AuditLog.rows(events))
                JOIN found f ON f.position = e.position AND f.answered
                ORDER BY e.position
            )
            SELECT * FROM found
            """
    }

    private static func answers(_ result: PostgresResult, count: Int) throws -> [Account?] {
        var answers = [Account?](repeating: nil, count: count)
        for row in result.rows where try row.bool("answered") {
            answers[try row.int("position") - 1] = try AccountStore.decode(row)
        }
        return answers
    }
}
