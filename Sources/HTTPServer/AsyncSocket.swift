/// A `Socket` whose calls suspend (on an `EventLoop`) instead of blocking.
/// Every wait takes an optional deadline and honours task cancellation.
public struct AsyncSocket: Sendable {
    public let socket: Socket
    public let loop: EventLoop

    public init(socket: Socket, loop: EventLoop) {
        self.socket = socket
        self.loop = loop
    }

    /// Connects a new socket to the address.
    public static func connect(
        to address: SocketAddress, loop: EventLoop, deadline: ContinuousClock.Instant? = nil
    ) async throws -> AsyncSocket {
        let socket = try Socket.makeTCP(family: address.family)
        let connection = AsyncSocket(socket: socket, loop: loop)
        do {
            if try !socket.connect(to: address) {
                try await loop.wait(for: .writable, on: socket.fileDescriptor, deadline: deadline)
                let error = socket.pendingError()
                if error != 0 { throw SocketError.failed(operation: "connect", errno: error) }
            }
            return connection
        } catch {
            connection.close()
            throw error
        }
    }

    /// The next incoming connection.
    public func accept() async throws -> (socket: AsyncSocket, peer: SocketAddress?) {
        while true {
            try Task.checkCancellation()
            if let (client, peer) = try socket.accept() {
                return (AsyncSocket(socket: client, loop: loop), peer)
            }
            try await loop.wait(for: .readable, on: socket.fileDescriptor)
        }
    }

    /// Whatever is available, up to `maxBytes`, waiting for at least one byte.
    /// Throws `SocketError.disconnected` at end of stream.
    ///
    /// `waitingFirst`: the caller knows the socket was empty after its last
    /// read (it returned less than asked for), so the first `recv` would only
    /// say EAGAIN: wait for readiness before it. Bytes that came since were
    /// reported to the loop, which remembers them, so the wait returns at once.
    public func read(
        maxBytes: Int = 16 * 1024, deadline: ContinuousClock.Instant? = nil, waitingFirst: Bool = false
    ) async throws -> [UInt8] {
        if waitingFirst { try await loop.wait(for: .readable, on: socket.fileDescriptor, deadline: deadline) }
        while true {
            try Task.checkCancellation()
            if let bytes = try socket.read(maxBytes: maxBytes) {
                guard !bytes.isEmpty else { throw SocketError.disconnected }
                return bytes
            }
            try await loop.wait(for: .readable, on: socket.fileDescriptor, deadline: deadline)
        }
    }

    /// Writes every byte, waiting whenever the send buffer is full.
    public func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant? = nil) async throws {
        var remaining = bytes[...]
        while !remaining.isEmpty {
            try Task.checkCancellation()
            if let written = try socket.write(remaining) {
                remaining = remaining.dropFirst(written)
            } else {
                try await loop.wait(for: .writable, on: socket.fileDescriptor, deadline: deadline)
            }
        }
    }

    /// Deregisters from the loop (failing any wait still pending) and closes.
    public func close() {
        loop.deregister(socket.fileDescriptor)
        socket.close()
    }
}
