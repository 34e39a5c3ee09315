import ENIMetadata
import ENIApply
import ENIModel

/// The instance description as a JSON document (`--metadata-file`). Format:
///
///     {
///       "primary_mac": "52:54:00:00:00:01",
///       "enis": [
///         { "mac": "52:54:00:00:00:01", "primary_ip": "10.0.1.10", "subnet": "10.0.1.0/24",
///           "gateway": "10.0.1.1" },
///         { "mac": "52:54:00:00:00:02", "primary_ip": "10.0.2.10",
///           "secondary_ips": ["10.0.2.11"], "subnet": "10.0.2.0/24", "gateway": "10.0.2.1",
///           "device_number": 1, "network_card": 0, "id": "eni-0a1b2c" }
///       ]
///     }
///
/// `secondary_ips`, `device_number`, `network_card` and `id` are optional. Unknown keys are errors.
///
/// The file is a regular file of at most 4 MiB, read as strict JSON (RFC 8259, `StrictJSON.swift`):
/// UTF-8 only, no key twice in an object, arrays and objects nested at most 32 deep, nothing after
/// the value. `device_number` and `network_card` are plain JSON integers: `1`, not `1.0` or `1e0`
/// (`-0` is 0). A syntax error names the line and column (`not valid JSON: line 3, column 17: lone
/// surrogate \ud800 in string`); any other error names the JSON path and the value
/// (`enis[0].device_number: 1e400 is not an integer`, `enis[0].primary_ip: key appears twice`).
public struct MetadataFileProvider: MetadataProvider {
    public var path: String
    public init(path: String) { self.path = path }

    public var name: String { "file \(path)" }

    /// The file says what it says: there is nothing to wait for.
    public func fetch(waitingFor: Set<MACAddress>) throws -> MetadataResult {
        MetadataResult(instance: try read())
    }

    /// The largest file read.
    public static let maxSize = 4 << 20

    public func read() throws -> Instance {
        let data: [UInt8]
        do { data = try FileStore.readFile(atPath: path, limit: Self.maxSize) } catch {
            throw MetadataError("metadata file \(path): \(error)")
        }
        return try Self.parse(data, source: path)
    }

    public static func parse(_ data: some Collection<UInt8>, source: String) throws(MetadataError) -> Instance {
        guard data.count <= maxSize else { throw MetadataError("\(source): larger than \(maxSize) bytes") }
        let json: JSON
        do { json = try JSON.parse(Array(data)) } catch {
            throw MetadataError("\(source): \(error)")
        }
        do {
            let top = try json.object(at: "", keys: ["primary_mac", "enis"], required: ["primary_mac", "enis"])
            let primary = try top["primary_mac"]!.mac(at: "primary_mac")
            guard case .array(let list) = top["enis"]! else { throw MetadataError("enis: expected an array, found \(top["enis"]!.summary)") }
            var enis: [ENI] = []
            for (i, item) in list.enumerated() {
                let at = "enis[\(i)]"
                let o = try item.object(at: at,
                    keys: ["mac", "primary_ip", "secondary_ips", "subnet", "gateway", "device_number", "network_card", "id"],
                    required: ["mac", "primary_ip", "subnet", "gateway"])
                var secondaries: [IPv4Address] = []
                if let s = o["secondary_ips"] {
                    guard case .array(let ips) = s else { throw MetadataError("\(at).secondary_ips: expected an array, found \(s.summary)") }
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

/// The schema's accessors: each error names the JSON path and the value.
extension JSON {
    func object(at path: String, keys: Set<String>, required: [String]) throws(MetadataError) -> [String: JSON] {
        guard case .object(let members) = self else {
            throw MetadataError("\(path.isEmpty ? "top level" : path): expected an object, found \(summary)")
        }
        if let unknown = members.first(where: { !keys.contains($0.key) }) {
            throw MetadataError("\(JSON.path(path, key: unknown.key)): unknown key")
        }
        var o: [String: JSON] = [:]
        for m in members { o[m.key] = m.value }
        if let missing = required.first(where: { o[$0] == nil }) { throw MetadataError("\(JSON.path(path, key: missing)): missing") }
        return o
    }

    func string(at path: String) throws(MetadataError) -> String {
        guard case .string(let s) = self else { throw MetadataError("\(path): expected a string, found \(summary)") }
        return s
    }

    /// A plain JSON integer (`-0` is 0): no fraction or exponent, even `1.0` or `1e0`.
    func int(at path: String) throws(MetadataError) -> Int {
        guard case .number(let text) = self else { throw MetadataError("\(path): expected an integer, found \(summary)") }
        guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            throw MetadataError("\(path): \(summary) is not an integer")
        }
        guard let n = Int(text) else { throw MetadataError("\(path): \(summary) is out of range") }
        return n
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
