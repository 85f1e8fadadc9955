import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One `NOTIFY` as a listening connection received it.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// The server process of the session that sent it.
    public var senderPID: Int32
}

extension PostgresConnection {
    /// Starts listening on `channel` (an identifier of lowercase letters, digits and `_`).
    public func listen(_ channel: String, file: String = #fileID, line: Int = #line) throws {
        guard !channel.isEmpty, channel.utf8.count <= 63,
              channel.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F })
        else {
            throw PostgresError(kind: .invalidQuery, message: "a channel is 1 to 63 of [a-z0-9_]", file: file, line: line)
        }
        try executeScript("LISTEN \(channel)", file: file, line: line)
    }

    /// The notifications received on the channels this connection listens to,
    /// waiting up to `timeout` for the first when none has arrived yet; empty
    /// when none came. Throws `.connectionLost` when the connection breaks.
    public func notifications(waitingUpTo timeout: Duration, file: String = #fileID,
                              line: Int = #line) throws -> [PostgresNotification] {
        let handle = try openHandle(query: "(waiting for notifications)", file: file, line: line)
        var received = drainNotifications(handle)
        guard received.isEmpty else { return received }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(clamping: max(0, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        let ready = poll(&descriptor, 1, milliseconds)
        if ready < 0 && errno != EINTR {
            throw PostgresError(kind: .connectionLost, message: "poll failed: errno \(errno)", file: file, line: line)
        }
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else {
                throw PostgresError(kind: .connectionLost, message: Self.errorMessage(of: handle), file: file, line: line)
            }
            received = drainNotifications(handle)
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(kind: .connectionLost, message: Self.errorMessage(of: handle), file: file, line: line)
        }
        return received
    }

    private func drainNotifications(_ handle: OpaquePointer) -> [PostgresNotification] {
        var received: [PostgresNotification] = []
        while let notify = PQnotifies(handle) {
            received.append(PostgresNotification(channel: String(cString: notify.pointee.relname),
                                                 payload: String(cString: notify.pointee.extra),
                                                 senderPID: notify.pointee.be_pid))
            PQfreemem(notify)
        }
        return received
    }
}
