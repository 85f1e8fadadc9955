/// Event times within the last `width` seconds: the window is `(now - width, now]`.
struct SlidingWindow {
    let width: Double
    private var times: [Double] = []  // ascending

    init(width: Double) {
        self.width = width
    }

    /// Events still inside the window ending at `now`.
    mutating func count(at now: Double) -> Int {
        let cutoff = now - width
        let stale = times.prefix { $0 <= cutoff }.count
        times.removeFirst(stale)
        return times.count
    }

    mutating func record(_ time: Double) {
        times.append(time)
    }

    mutating func removeAll() {
        times.removeAll()
    }
}
