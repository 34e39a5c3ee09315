extension Duration {
    /// Whole milliseconds, rounded toward zero (negative when the duration is).
    public var milliseconds: Int { Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000) }
}
