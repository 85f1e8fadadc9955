/// A run of slots, as offsets from the moment the database reserved them.
struct RateLimitReservation: Sendable, Equatable {
    var granted: Int
    /// The granted run: its first slot, and the time between two slots.
    var firstOffset, spacing: Duration
    /// When nothing (more) was granted: how far away the next free slot is.
    var nextFree: Duration
    /// The adaptive share of the configured rate in force.
    var factor: Double
    /// The database's clock when it reserved, in microseconds since 1970.
    var databaseNowMicroseconds: Double
}
