// The fuzz build's stand-in for Sources/ENIApply/FileStore.swift (which needs swift-system): only
// the members that Config.swift names. The targets parse bytes and never reach these.
public struct FileStore: Sendable {
    public func isDirectory(_ path: String) -> Bool { fatalError("not in the fuzz build") }
    public func hostPath(_ path: String) -> String { fatalError("not in the fuzz build") }
    public static func readFile(atPath path: String, limit: Int) throws -> [UInt8] { fatalError("not in the fuzz build") }
    public func cannotWrite(_ path: String) -> String? { fatalError("not in the fuzz build") }
    public static func parent(of path: String) -> String { fatalError("not in the fuzz build") }
}
