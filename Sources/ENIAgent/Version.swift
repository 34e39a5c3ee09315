/// The version the binary and the packages carry (one source of truth).
public let eniAgentVersion = "0.1.0"
