import Synchronization

/// Random (version 4) UUIDs for requests that bring no id of their own, from a
/// xoshiro256** generator seeded once from the system's: request ids correlate
/// logs, events and answers and are no secret, so they need no system call
/// (two `getrandom` calls per request before, a tenth of `GET /healthz`'s time).
enum RequestIDGenerator {
    private struct Xoshiro256StarStar {
        var state: (UInt64, UInt64, UInt64, UInt64)

        init() {
            var system = SystemRandomNumberGenerator()
            state = (system.next(), system.next(), system.next(), system.next())
            if state == (0, 0, 0, 0) { state.0 = 1 }
        }

        mutating func next() -> UInt64 {
            let result = rotate(state.1 &* 5, 7) &* 9
            let t = state.1 << 17
            state.2 ^= state.0
            state.3 ^= state.1
            state.1 ^= state.2
            state.0 ^= state.3
            state.2 ^= t
            state.3 = rotate(state.3, 45)
            return result
        }

        private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
    }

    private static let generator = Mutex(Xoshiro256StarStar())
    private static let digits = Array("0123456789abcdef".utf8)

    static func next() -> String {
        let (high, low) = generator.withLock { ($0.next(), $0.next()) }
        let versioned = high & ~(0xF << 12) | (0x4 << 12)  // version 4
        let variant = low & ~(0x3 << 62) | (0x2 << 62)  // variant 10
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var index = 0
            for nibble in 0..<32 {
                if nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20 {
                    buffer[index] = UInt8(ascii: "-")
                    index += 1
                }
                let word = nibble < 16 ? versioned >> UInt64(60 - nibble * 4) : variant >> UInt64(60 - (nibble - 16) * 4)
                buffer[index] = digits[Int(word & 0xF)]
                index += 1
            }
            return index
        }
    }
}
