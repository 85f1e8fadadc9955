extension Duration {
    /// The duration in (fractional) seconds; the one definition the gateway's modules share.
    public var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
