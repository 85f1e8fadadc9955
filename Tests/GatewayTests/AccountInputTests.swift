import Foundation
import Testing
@testable import Gateway

@Suite struct AccountInputTests {
    enum Parsed {
        case success(AccountInput)
        case failure([FieldError])

        func get() throws -> AccountInput {
            guard case .success(let input) = self else { throw ValidationFailure(errors: []) }
            return input
        }
    }

    func parse(_ json: String, strategy: IDStrategy = .verbatim) -> Parsed {
        switch JSON.object(Array(json.utf8)) {
        case .success(let object):
            do { return .success(try AccountInput.parse(object, strategy: strategy)) } catch { return .failure(error.errors) }
        case .failure(let error): Issue.record("not an object: \(error)"); return .failure([])
        }
    }

    @Test func validMinimalAndFull() throws {
        let minimal = try parse(#"{"user_id":"u1"}"#).get()
        #expect(minimal == AccountInput(userID: "u1", chatUserID: "u1", nick: nil, faceURL: nil))
        let full = try parse(#"{"user_id":"u1","nick":"Ann","face_url":"https://x/a.png"}"#).get()
        #expect(full.nick == "Ann")
        #expect(full.faceURL == "https://x/a.png")
        let nulls = try parse(#"{"user_id":"u1","nick":null,"face_url":null}"#).get()
        #expect(nulls.nick == nil && nulls.faceURL == nil)
    }

    @Test func everyProblemIsListed() {
        let long = String(repeating: "x", count: 501)
        guard case .failure(let errors) = parse(#"{"user_id":"bad id!","nick":"\#(long)","face_url":5,"faceUrl":"typo"}"#) else {
            Issue.record("expected failure"); return
        }
        #expect(errors.map(\.field) == ["faceUrl", "user_id", "nick", "face_url"])
    }

    @Test func profileLimitIsInBytes() throws {
        let exactly500 = String(repeating: "é", count: 250)
        #expect(throws: Never.self) { try parse(#"{"user_id":"u","nick":"\#(exactly500)"}"#).get() }
        let over = String(repeating: "é", count: 251)
        guard case .failure(let errors) = parse(#"{"user_id":"u","nick":"\#(over)"}"#) else { Issue.record("accepted"); return }
        #expect(errors == [FieldError(field: "nick", message: "must be at most 500 bytes (got 502)")])
    }

    @Test func missingOrWrongTypeUserID() {
        guard case .failure(let missing) = parse(#"{"nick":"a"}"#) else { Issue.record("accepted"); return }
        #expect(missing == [FieldError(field: "user_id", message: "is required")])
        guard case .failure(let number) = parse(#"{"user_id":12}"#) else { Issue.record("accepted"); return }
        #expect(number == [FieldError(field: "user_id", message: "must be a string")])
    }

    @Test func hashedStrategyMapsEmail() throws {
        let input = try parse(#"{"user_id":"bob@example.com"}"#, strategy: .hashed).get()
        #expect(input.chatUserID == IDStrategy.hashed.chatUserID(for: "bob@example.com"))
    }

    @Test func bodyMustBeAnObject() {
        for body in ["", "[]", "\"x\"", "{", "nul"] {
            guard case .failure(let error) = JSON.object(Array(body.utf8)) else { Issue.record("accepted \(body)"); continue }
            #expect(!error.message.isEmpty)
        }
    }
}
