import CEpoll
import Glibc

/// A non-blocking TCP socket: a thin value over a file descriptor. It never
/// waits; calls that would block return nil, and `AsyncSocket` does the waiting.
/// Copies share the descriptor, so exactly one owner must call `close()`.
public struct Socket: Sendable, Hashable {
    public let fileDescriptor: Int32

    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// A new non-blocking, close-on-exec stream socket for the family.
    public static func makeTCP(family: Int32) throws -> Socket {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = Glibc.socket(family, type, 0)
        guard fd >= 0 else { throw SocketError.makeFailed("socket") }
        return Socket(fileDescriptor: fd)
    }

    /// A socket bound to the address and listening, with SO_REUSEADDR so a
    /// restart does not wait out TIME_WAIT.
    public static func listening(on address: SocketAddress, backlog: Int32) throws -> Socket {
        let socket = try makeTCP(family: address.family)
        do {
            try socket.setOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            try socket.bind(to: address)
            guard Glibc.listen(socket.fileDescriptor, backlog) == 0 else { throw SocketError.makeFailed("listen") }
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    public func setOption(level: Int32, name: Int32, value: Int32) throws {
        var value = value
        guard setsockopt(fileDescriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SocketError.makeFailed("setsockopt")
        }
    }

    public func bind(to address: SocketAddress) throws {
        let result = address.withSockAddr { Glibc.bind(fileDescriptor, $0, $1) }
        guard result == 0 else { throw SocketError.makeFailed("bind") }
    }

    /// Starts connecting; true when already connected, false when in progress
    /// (wait for writability, then check `pendingError()`).
    public func connect(to address: SocketAddress) throws -> Bool {
        let result = address.withSockAddr { Glibc.connect(fileDescriptor, $0, $1) }
        if result == 0 { return true }
        if errno == EINPROGRESS || errno == EINTR { return false }
        throw SocketError.makeFailed("connect")
    }

    /// The socket's SO_ERROR, e.g. the outcome of a non-blocking connect.
    public func pendingError() -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fileDescriptor, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return errno }
        return value
    }

    /// Accepts one pending connection (non-blocking, close-on-exec, TCP_NODELAY),
    /// or nil when none is pending.
    public func accept() throws -> (socket: Socket, peer: SocketAddress?)? {
        var storage = sockaddr_storage()
        var length = UInt32(MemoryLayout<sockaddr_storage>.size)
        while true {
            let fd = caccept4(fileDescriptor, &storage, &length)
            if fd >= 0 {
                let client = Socket(fileDescriptor: fd)
                // Responses are written whole; Nagle would only delay them.
                try? client.setOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
                return (client, SocketAddress(storage: storage))
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw SocketError.makeFailed("accept")
            }
        }
    }

    /// Up to `maxBytes` bytes; nil when nothing is available yet, empty at end of stream.
    public func read(maxBytes: Int) throws -> [UInt8]? {
        while true {
            var failure: Int32 = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: maxBytes) { buffer, count in
                let result = recv(fileDescriptor, buffer.baseAddress, maxBytes, 0)
                count = max(result, 0)
                if result < 0 { failure = errno }
            }
            switch failure {
            case 0: return bytes
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            case ECONNRESET, ETIMEDOUT: throw SocketError.disconnected
            default: throw SocketError.failed(operation: "read", errno: failure)
            }
        }
    }

    /// Sends a prefix of the bytes and returns its length, or nil when the send
    /// buffer is full. MSG_NOSIGNAL turns SIGPIPE into EPIPE.
    public func write(_ bytes: ArraySlice<UInt8>) throws -> Int? {
        while true {
            let result = bytes.withUnsafeBytes { send(fileDescriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if result >= 0 { return result }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            case EPIPE, ECONNRESET: throw SocketError.disconnected
            default: throw SocketError.makeFailed("write")
            }
        }
    }

    /// `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`; errors (e.g. not connected) are ignored.
    public func shutdown(_ how: Int) {
        _ = Glibc.shutdown(fileDescriptor, Int32(how))
    }

    public func close() {
        _ = Glibc.close(fileDescriptor)
    }

    public func localAddress() throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fileDescriptor, $0, &length) }
        }
        guard result == 0 else { throw SocketError.makeFailed("getsockname") }
        guard let address = SocketAddress(storage: storage) else { throw SocketError.invalidAddress("not IPv4 or IPv6") }
        return address
    }
}
