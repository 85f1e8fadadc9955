import Foundation
import Testing
@testable import Gateway

@Suite(.serialized) struct AuditRouteTests {
    @Test func pagesNewestFirstWithFiltersAndCursors() async throws {
        try await GatewayHarness.with { h in
            for i in 1...5 { #expect(try await h.postAccount(#"{"user_id":"aud_\#(i)"}"#).status == 201) }
            let first = try await h.request("GET", "/audit?action=account.import&limit=2", token: h.auditorToken)
            #expect(first.status == 200)
            let events = try #require(first.json["events"] as? [[String: Any]])
            #expect(events.compactMap { $0["user_id"] as? String } == ["aud_5", "aud_4"])
            #expect(Set(events[0].keys) == Set(AuditEventBody.fields))
            #expect(events[0]["caller"] as? String == "test-importer")
            #expect(events[0]["http_status"] as? Int == 201)
            #expect((events[0]["hash"] as? String)?.count == 64)
            let cursor = try #require(first.json["next_cursor"] as? String)
            let second = try await h.request("GET", "/audit?action=account.import&limit=2&cursor=\(cursor)", token: h.auditorToken)
            #expect((second.json["events"] as? [[String: Any]])?.compactMap { $0["user_id"] as? String } == ["aud_3", "aud_2"])
            let last = try await h.request("GET", "/audit?action=account.import&limit=2&cursor=\(second.json["next_cursor"] as! String)",
                                           token: h.auditorToken)
            #expect((last.json["events"] as? [[String: Any]])?.count == 1)
            #expect(last.json["next_cursor"] is NSNull)

            let one = try await h.request("GET", "/audit?user_id=aud_3", token: h.auditorToken)
            #expect((one.json["events"] as? [[String: Any]])?.map { $0["action"] as? String } == ["account.import", "upstream.account_import"])
            // The queries themselves are audited (this one after its answer).
            let queries = try await h.request("GET", "/audit?action=audit.query", token: h.auditorToken)
            #expect((queries.json["events"] as? [[String: Any]])?.count == 4)
        }
    }

    @Test func csvAndNDJSON() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"csv_1","nick":"a, \"quoted\" nick"}"#).status == 201)
            let csv = try await h.request("GET", "/audit?action=account.import", token: h.auditorToken, headers: ["Accept": "text/csv"])
            #expect(csv.status == 200)
            #expect(csv.header("Content-Type") == "text/csv; charset=utf-8")
            let lines = String(decoding: csv.body, as: UTF8.self).split(separator: "\r\n")
            #expect(lines.first == Substring(AuditEventBody.fields.map { "\"\($0)\"" }.joined(separator: ",")))
            #expect(lines.count == 2)
            #expect(lines[1].contains(#","csv_1","csv_1","imported","201","#))
            let ndjson = try await h.request("GET", "/audit", token: h.auditorToken, headers: ["Accept": "application/x-ndjson"])
            #expect(ndjson.header("Content-Type") == "application/x-ndjson; charset=utf-8")
            let objects = String(decoding: ndjson.body, as: UTF8.self).split(separator: "\n").map {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            #expect(objects.count == 3 && objects.allSatisfy { $0?["hash"] is String })
        }
    }

    @Test func badQueriesAre400AndImportersAre403() async throws {
        try await GatewayHarness.with { h in
            let bad = try await h.request("GET", "/audit?limit=0&since=yesterday&action=nope&colour=red&cursor=xyz", token: h.auditorToken)
            #expect(bad.status == 400)
            let fields = (bad.json["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }.sorted()
            #expect(fields == ["action", "colour", "cursor", "limit", "since"])
            #expect(try await h.request("GET", "/audit", token: h.importerToken).status == 403)
            #expect(try await h.request("GET", "/audit", token: nil).status == 401)
        }
    }

    /// Found from outside: an offset's '+' typed into a URL arrives as a space.
    @Test func anUnencodedPlusInAnOffsetIsTheOffset() async throws {
        try await GatewayHarness.with { h in
            for query in ["since=2026-12-04T08:00:00+08:00", "since=2026-12-04T08:00:00%2B08:00", "until=2030-01-01T00:00:00+00:00"] {
                let answer = try await h.request("GET", "/audit?\(query)", token: h.auditorToken)
                #expect(answer.status == 200, "\(query)")
            }
        }
    }

    @Test func cursorsRoundTripAndRejectForgeries() {
        #expect(AuditQuery.decodeCursor(AuditQuery.encodeCursor(42)) == 42)
        #expect(AuditQuery.decodeCursor("abc") == nil)
        #expect(AuditQuery.decodeCursor(Base64URL.encode(Array("a1:-5".utf8))) == nil)
        #expect(GatewayApplication.csvField("plain") == "\"plain\"")
        #expect(GatewayApplication.csvField("a,\"b\"") == "\"a,\"\"b\"\"\"")
        #expect(GatewayApplication.csvField(nil) == "")
        #expect(GatewayApplication.csvField("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(GatewayApplication.csvField("@sum") == "\"'@sum\"")
        #expect(GatewayApplication.csvField("a-b") == "\"a-b\"")
    }

    /// Whatever a spreadsheet splits on, no cell it makes starts a formula.
    @Test func csvNeutralizesFormulasInEverySeparatorLocale() {
        for (value, expected) in [
            ("x;=HYPERLINK(1)", "\"x;'=HYPERLINK(1)\""), ("x,+1", "\"x,'+1\""), ("x\t-1", "\"x\t'-1\""),
            ("x|@a", "\"x|'@a\""), ("x\n=1", "\"x\n'=1\""), ("a=b;c", "\"a=b;c\""), ("\t=1", "\"'\t'=1\""),
        ] {
            let field = GatewayApplication.csvField(value)
            #expect(field == expected, "\(value)")
            for separator in [",", ";", "\t", "|", "\n"] {
                let cells = field.dropFirst().dropLast().components(separatedBy: separator)
                #expect(cells.allSatisfy { cell in cell.first.map { !"=+-@\t\r".contains($0) } ?? true } || cells.count == 1 && field.hasPrefix("\"'"),
                        "\(value) split on \(separator.debugDescription)")
            }
        }
    }
}

@Suite struct AuditFormatTests {
    @Test func acceptChoosesByQualityThenOrder() {
        let cases: [(String?, GatewayApplication.AuditFormat)] = [
            (nil, .json), ("", .json), ("*/*", .json), ("text/html", .json),
            ("text/csv", .csv), ("application/x-ndjson", .ndjson), ("TEXT/CSV; charset=utf-8", .csv),
            ("text/csv, application/x-ndjson", .csv), ("application/x-ndjson, text/csv", .ndjson),
            // Found from outside: q-values were ignored, so "not CSV" still gave CSV.
            ("text/csv;q=0", .json), ("text/csv;q=0, application/x-ndjson", .ndjson),
            ("text/csv;q=0.5, application/x-ndjson", .ndjson), ("text/csv;q=0.9, application/json;q=0.8", .csv),
            ("application/json;q=0.1, text/csv;q=0.2", .csv), ("text/csv;q=junk", .json),
        ]
        for (accept, expected) in cases {
            #expect(GatewayApplication.auditFormat(accept: accept) == expected, "\(accept ?? "nil")")
        }
    }
}
