import Testing
@testable import Gateway

@Suite struct IDStrategyTests {
    @Test func verbatimAcceptsChatIDs() {
        #expect(IDStrategy.verbatim.problem(with: "user_01-A") == nil)
        #expect(IDStrategy.verbatim.problem(with: String(repeating: "a", count: 32)) == nil)
        #expect(IDStrategy.verbatim.chatUserID(for: "user_01-A") == "user_01-A")
    }

    @Test(arguments: ["", String(repeating: "a", count: 33), "a b", "a@b.com", "é", "a/b", "a.b"])
    func verbatimRejects(_ userID: String) {
        #expect(IDStrategy.verbatim.problem(with: userID) != nil)
    }

    @Test func hashedIsStableShortAndSafe() {
        let id = IDStrategy.hashed.chatUserID(for: "alice@example.com")
        #expect(id == IDStrategy.hashed.chatUserID(for: "alice@example.com"))
        #expect(id.utf8.count == 32)
        #expect(id.utf8.allSatisfy(ChatID.isAllowedByte))
        #expect(!id.contains("alice"))
        #expect(id != IDStrategy.hashed.chatUserID(for: "alice@example.co"))
        // Pinned: a change of derivation would remap every existing user.
        #expect(IDStrategy.hashed.chatUserID(for: "alice@example.com") == "DNFB7HJhEW4UW0gCqhxhgapVzGVtw0Gt")  // python3: urlsafe_b64encode(sha256(b"account-gateway/v1:alice@example.com"))[:32]
    }

    @Test func hashedAcceptsPrintableUTF8() {
        #expect(IDStrategy.hashed.problem(with: "Zoë Ångström <zoe@example.com>") == nil)
        #expect(IDStrategy.hashed.problem(with: String(repeating: "é", count: 128)) == nil)  // 256 bytes
    }

    @Test(arguments: ["", String(repeating: "é", count: 129), "tab\there", "nul\u{0}", "bell\u{7}", "del\u{7F}"])
    func hashedRejects(_ userID: String) {
        #expect(IDStrategy.hashed.problem(with: userID) != nil)
    }

    @Test func base64URLMatchesRFC4648() {
        #expect(Base64URL.encode(Array("f".utf8)) == "Zg")
        #expect(Base64URL.encode(Array("fo".utf8)) == "Zm8")
        #expect(Base64URL.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
        #expect(Base64URL.decode("Zm9v") == Array("foo".utf8))
        #expect(Base64URL.decode("Zm8") == Array("fo".utf8))
        #expect(Base64URL.decode("not base64!") == nil)
    }
}
