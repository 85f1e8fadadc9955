import Glibc
import Logging

/// The process's file descriptor limit (`RLIMIT_NOFILE`) against the
/// connections the server is configured for: the soft limit is raised as far
/// as the hard one allows, and what it allows is logged at start, so running
/// out of descriptors is known before the first `accept` fails.
enum DescriptorLimit {
    /// Descriptors kept for everything but connections: the listener, epoll,
    /// database connections, log and key files.
    static let reserve = 128

    /// The connections the limit allows after raising it, given `wanted`.
    @discardableResult
    static func ensure(connections wanted: Int, logger: Logger) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return wanted }
        let needed = rlim_t(wanted + reserve)
        if limit.rlim_cur < needed {
            var raised = limit
            raised.rlim_cur = min(needed, limit.rlim_max)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let allowed = max(0, Int(clamping: limit.rlim_cur) - reserve)
        let metadata: Logger.Metadata = [
            "fd.soft_limit": "\(limit.rlim_cur)", "fd.hard_limit": "\(limit.rlim_max)",
            "http.max_connections": "\(wanted)", "http.connections_allowed": "\(min(allowed, wanted))",
        ]
        if allowed < wanted {
            logger.warning("the file descriptor limit allows fewer connections than configured; raise it (ulimit -n, LimitNOFILE=)",
                           metadata: metadata)
        } else {
            logger.info("file descriptor limit checked", metadata: metadata)
        }
        return min(allowed, wanted)
    }
}
