import ENIModel

/// The instance description as a JSON document (`--metadata-file`): a file of at most
/// `InstanceJSON.maxSize` bytes, read by `readFile` (the agent's: regular files only, so that a
/// FIFO cannot hang a run) and parsed by `InstanceJSON` (ENIModel: the format, strict JSON, the
/// messages).
public struct MetadataFileProvider: MetadataProvider {
    public var path: String
    /// Reads a whole file of at most `limit` bytes.
    let readFile: (_ path: String, _ limit: Int) throws -> [UInt8]

    public init(path: String, readFile: @escaping (_ path: String, _ limit: Int) throws -> [UInt8]) {
        self.path = path
        self.readFile = readFile
    }

    public var name: String { "file \(path)" }

    /// The file says what it says: there is nothing to wait for.
    public func fetch(waitingFor: Set<MACAddress>) throws -> MetadataResult {
        MetadataResult(instance: try read())
    }

    /// The largest file read.
    public static let maxSize = InstanceJSON.maxSize

    public func read() throws -> Instance {
        let data: [UInt8]
        do { data = try readFile(path, Self.maxSize) } catch {
            throw MetadataError("metadata file \(path): \(error)")
        }
        return try Self.parse(data, source: path)
    }

    /// `InstanceJSON.parse`, its error a `MetadataError` with the same message.
    public static func parse(_ data: some Collection<UInt8>, source: String) throws(MetadataError) -> Instance {
        do { return try InstanceJSON.parse(data, source: source) } catch { throw MetadataError(error.message) }
    }
}
