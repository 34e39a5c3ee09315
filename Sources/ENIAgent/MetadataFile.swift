import ENIMetadata
import ENIModel
import FoundationEssentials

/// The instance description as a JSON document (`--metadata-file`). Format:
///
///     {
///       "primary_mac": "52:54:00:00:00:01",
///       "enis": [
///         { "mac": "52:54:00:00:00:02", "primary_ip": "10.0.2.10",
///           "secondary_ips": ["10.0.2.11"], "subnet": "10.0.2.0/24", "gateway": "10.0.2.1",
///           "device_number": 1, "network_card": 0, "id": "eni-0a1b2c" }
///       ]
///     }
///
/// `secondary_ips`, `device_number`, `network_card` and `id` are optional. Unknown keys are errors.
public struct MetadataFileProvider: MetadataProvider {
    public var path: String
    public init(path: String) { self.path = path }

    public var name: String { "file \(path)" }

    /// The file says what it says: there is nothing to wait for.
    public func fetch(waitingFor: Set<MACAddress>) async throws -> MetadataResult {
        MetadataResult(instance: try await read())
    }

    public func read() async throws -> Instance {
        let data: [UInt8]
        do { data = try FileStore.readFile(atPath: path, limit: 4 << 20) } catch {
            throw MetadataError("metadata file \(path): \(error)")
        }
        return try Self.parse(data, source: path)
    }

    public static func parse(_ data: some Collection<UInt8>, source: String) throws(MetadataError) -> Instance {
        let json: JSON
        do { json = try JSONDecoder().decode(JSON.self, from: Data(data)) } catch {
            throw MetadataError("\(source): not valid JSON: \(error)")
        }
        do {
            let top = try json.object(at: "", keys: ["primary_mac", "enis"], required: ["primary_mac", "enis"])
            let primary = try top["primary_mac"]!.mac(at: "primary_mac")
            guard case .array(let list) = top["enis"]! else { throw MetadataError("enis: expected an array") }
            var enis: [ENI] = []
            for (i, item) in list.enumerated() {
                let at = "enis[\(i)]"
                let o = try item.object(at: at,
                    keys: ["mac", "primary_ip", "secondary_ips", "subnet", "gateway", "device_number", "network_card", "id"],
                    required: ["mac", "primary_ip", "subnet", "gateway"])
                var secondaries: [IPv4Address] = []
                if let s = o["secondary_ips"] {
                    guard case .array(let ips) = s else { throw MetadataError("\(at).secondary_ips: expected an array") }
                    for (j, ip) in ips.enumerated() { secondaries.append(try ip.ipv4(at: "\(at).secondary_ips[\(j)]")) }
                }
                let subnet = try o["subnet"]!.string(at: "\(at).subnet")
                do {
                    enis.append(try ENI(
                        mac: try o["mac"]!.mac(at: "\(at).mac"),
                        primaryIP: try o["primary_ip"]!.ipv4(at: "\(at).primary_ip"),
                        secondaryIPs: secondaries,
                        subnet: { () throws(MetadataError) -> IPv4Prefix in
                            do { return try IPv4Prefix(subnet) } catch { throw MetadataError("\(at).subnet: \(error)") }
                        }(),
                        gateway: try o["gateway"]!.ipv4(at: "\(at).gateway"),
                        deviceNumber: try o["device_number"]?.int(at: "\(at).device_number"),
                        networkCard: try o["network_card"]?.int(at: "\(at).network_card"),
                        id: try o["id"]?.string(at: "\(at).id")))
                } catch let e as ModelError {
                    throw MetadataError("\(at): \(e)")
                }
            }
            do { return try Instance(primaryMAC: primary, enis: enis) } catch { throw MetadataError(error.description) }
        } catch let e as MetadataError {
            throw MetadataError("\(source): \(e.message)")
        } catch {
            throw MetadataError("\(source): \(error)")
        }
    }
}

/// A JSON value, decoded without losing what was there (so unknown keys can be reported).
enum JSON: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSON]), object([String: JSON])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSON].self)) }
    }

    func object(at path: String, keys: Set<String>, required: [String]) throws(MetadataError) -> [String: JSON] {
        guard case .object(let o) = self else { throw MetadataError("\(path.isEmpty ? "top level" : path): expected an object") }
        let prefix = path.isEmpty ? "" : path + "."
        if let unknown = o.keys.sorted().first(where: { !keys.contains($0) }) {
            throw MetadataError("\(prefix)\(unknown): unknown key")
        }
        if let missing = required.first(where: { o[$0] == nil }) { throw MetadataError("\(prefix)\(missing): missing") }
        return o
    }

    func string(at path: String) throws(MetadataError) -> String {
        guard case .string(let s) = self else { throw MetadataError("\(path): expected a string") }
        return s
    }

    func int(at path: String) throws(MetadataError) -> Int {
        guard case .number(let n) = self, n.rounded() == n, abs(n) < 1e9 else { throw MetadataError("\(path): expected an integer") }
        return Int(n)
    }

    func ipv4(at path: String) throws(MetadataError) -> IPv4Address {
        let s = try string(at: path)
        do { return try IPv4Address(s) } catch { throw MetadataError("\(path): \(error)") }
    }

    func mac(at path: String) throws(MetadataError) -> MACAddress {
        let s = try string(at: path)
        do { return try MACAddress(s) } catch { throw MetadataError("\(path): \(error)") }
    }
}
