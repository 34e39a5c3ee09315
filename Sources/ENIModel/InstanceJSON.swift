/// The instance description as a JSON document: the metadata file's format (`--metadata-file`,
/// `metadata_file`), and the golden tests' `instance.json`.
///
///     {
///       "primary_mac": "52:54:00:00:00:01",
///       "enis": [
///         { "mac": "52:54:00:00:00:01", "primary_ip": "10.0.1.10", "subnet": "10.0.1.0/24",
///           "gateway": "10.0.1.1" },
///         { "mac": "52:54:00:00:00:02", "primary_ip": "10.0.2.10",
///           "secondary_ips": ["10.0.2.11"], "subnet": "10.0.2.0/24", "gateway": "10.0.2.1",
///           "device_number": 1, "network_card": 0, "id": "eni-0a1b2c",
///           "ipv6s": ["2001:db8:0:2::10"], "subnet6": "2001:db8:0:2::/64", "gateway6": "fe80::1" }
///       ]
///     }
///
/// `secondary_ips`, `device_number`, `network_card` and `id` are optional. Unknown keys are errors.
/// An IPv6-only ENI has none of `primary_ip`, `subnet`, `gateway` and `secondary_ips`, and lists
/// addresses in `ipv6s`; an ENI with one of the three IPv4 keys needs all three.
///
/// IPv6, optional: `ipv6s` (the ENI's addresses, any RFC 4291 text form), `subnet6` (their
/// subnet, `ADDR/n`, host bits zero), needed when `ipv6s` lists addresses, and `gateway6` (the
/// router, link-local or inside `subnet6`; absent: the link's router advertisements name it).
/// No `ipv6s`, or `[]`: the ENI has no IPv6 (`subnet6` and `gateway6` are still checked). An error
/// in these keys (a type, a value, `ENIIPv6`'s validation) holds that ENI's IPv6 only: its
/// `ipv6Unknown` is invalid with the message (`enis[1].ipv6s[0]: invalid IPv6 address
/// "fe80::zz"`), and its IPv4 is described as usual.
///
/// A document is at most 4 MiB, read as strict JSON (RFC 8259, `StrictJSON.swift`): UTF-8 only,
/// no key twice in an object, arrays and objects nested at most 32 deep, nothing after the value.
/// `device_number` and `network_card` are plain JSON integers: `1`, not `1.0` or `1e0` (`-0` is 0).
/// A syntax error names the line and column (`not valid JSON: line 3, column 17: lone surrogate
/// \ud800 in string`); any other error names the JSON path and the value
/// (`enis[0].device_number: 1e400 is not an integer`, `enis[0].primary_ip: key appears twice`).
/// Pure: bytes in, a validated `Instance` (or the error) out.
public enum InstanceJSON {
    /// The largest document read.
    public static let maxSize = 4 << 20

    /// The instance `data` describes; every error begins with `source` (the file's name).
    public static func parse(_ data: some Collection<UInt8>, source: String) throws(ModelError) -> Instance {
        guard data.count <= maxSize else { throw ModelError("\(source): larger than \(maxSize) bytes") }
        let json: JSON
        do { json = try JSON.parse(Array(data)) } catch {
            throw ModelError("\(source): \(error)")
        }
        do { return try instance(json) } catch {
            throw ModelError("\(source): \(error.message)")
        }
    }

    static func instance(_ json: JSON) throws(ModelError) -> Instance {
        let top = try json.object(at: "", keys: ["primary_mac", "enis"], required: ["primary_mac", "enis"])
        let primary = try top["primary_mac"]!.mac(at: "primary_mac")
        guard case .array(let list) = top["enis"]! else { throw ModelError("enis: expected an array, found \(top["enis"]!.summary)") }
        var enis: [ENI] = []
        for (i, item) in list.enumerated() { enis.append(try eni(item, at: "enis[\(i)]")) }
        return try Instance(primaryMAC: primary, enis: enis)
    }

    /// One ENI at `at` (`enis[1]`): each field's error names its path; the ENI's own validation
    /// names the ENI's path.
    static func eni(_ item: JSON, at: String) throws(ModelError) -> ENI {
        let o = try item.object(at: at,
            keys: ["mac", "primary_ip", "secondary_ips", "subnet", "gateway", "device_number", "network_card", "id",
                   "ipv6s", "subnet6", "gateway6"],
            required: ["mac"])
        // A fixed order (the secondary IPs, the subnet's text, then `ENI.init`'s parameters): of
        // several bad fields, the first in that order is named.
        var secondaries: [IPv4Address] = []
        if let s = o["secondary_ips"] {
            guard case .array(let ips) = s else { throw ModelError("\(at).secondary_ips: expected an array, found \(s.summary)") }
            for (j, ip) in ips.enumerated() { secondaries.append(try ip.ipv4(at: "\(at).secondary_ips[\(j)]")) }
        }
        let ipv4Keys = ["primary_ip", "subnet", "gateway"]
        let hasIPv4 = ipv4Keys.contains { o[$0] != nil } || o["secondary_ips"] != nil
        if hasIPv4, let missing = ipv4Keys.first(where: { o[$0] == nil }) {
            throw ModelError("\(at).\(missing): missing (an ENI with IPv4 needs primary_ip, subnet and gateway)")
        }
        let subnetText = try o["subnet"]?.string(at: "\(at).subnet")
        let mac = try o["mac"]!.mac(at: "\(at).mac")
        var ipv4: ENIIPv4?
        if hasIPv4 {
            let primaryIP = try o["primary_ip"]!.ipv4(at: "\(at).primary_ip")
            let subnet: IPv4Prefix
            do { subnet = try IPv4Prefix(subnetText!) } catch { throw ModelError("\(at).subnet: \(error)") }
            let gateway = try o["gateway"]!.ipv4(at: "\(at).gateway")
            do {
                try mac.requireUnicast(for: "ENI \(mac)")
                ipv4 = try ENIIPv4(primaryIP: primaryIP, secondaryIPs: secondaries, subnet: subnet, gateway: gateway, name: "ENI \(mac)")
            } catch {
                throw ModelError("\(at): \(error)")
            }
        }
        let deviceNumber = try o["device_number"]?.int(at: "\(at).device_number")
        let networkCard = try o["network_card"]?.int(at: "\(at).network_card")
        let id = try o["id"]?.string(at: "\(at).id")
        let (ipv6, ipv6Unknown) = Self.ipv6(o, mac: mac, at: at)
        if ipv4 == nil, ipv6 == nil, ipv6Unknown == nil {
            throw ModelError("\(at): no IPv4 (primary_ip, subnet, gateway) and no IPv6 (ipv6s)")
        }
        do {
            return try ENI(mac: mac, ipv4: ipv4, deviceNumber: deviceNumber, networkCard: networkCard, id: id,
                           ipv6: ipv6, ipv6Unknown: ipv6Unknown)
        } catch {
            throw ModelError("\(at): \(error)")
        }
    }

    /// The IPv6 of the ENI at `at`: nil when it has none, or why it is unknown (its IPv6 only).
    static func ipv6(_ o: [String: JSON], mac: MACAddress, at: String) -> (ENIIPv6?, Undescribed?) {
        do throws(ModelError) {
            var addresses: [IPv6Address] = []
            if let s = o["ipv6s"] {
                guard case .array(let items) = s else { throw ModelError("\(at).ipv6s: expected an array, found \(s.summary)") }
                for (j, a) in items.enumerated() { addresses.append(try a.ipv6(at: "\(at).ipv6s[\(j)]")) }
            }
            let subnet = try o["subnet6"]?.ipv6Prefix(at: "\(at).subnet6")
            let gateway = try o["gateway6"]?.ipv6(at: "\(at).gateway6")
            if addresses.isEmpty { return (nil, nil) }
            guard let subnet else { throw ModelError("\(at).subnet6: missing (ipv6s lists addresses)") }
            do { return (try ENIIPv6(addresses: addresses, subnet: subnet, gateway: gateway, name: "ENI \(mac)"), nil) } catch {
                throw ModelError("\(at): \(error)")
            }
        } catch {
            return (nil, .invalid(error.message))
        }
    }
}

/// The schema's accessors: each error names the JSON path and the value.
extension JSON {
    func object(at path: String, keys: Set<String>, required: [String]) throws(ModelError) -> [String: JSON] {
        guard case .object(let members) = self else {
            throw ModelError("\(path.isEmpty ? "top level" : path): expected an object, found \(summary)")
        }
        if let unknown = members.first(where: { !keys.contains($0.key) }) {
            throw ModelError("\(JSON.path(path, key: unknown.key)): unknown key")
        }
        var o: [String: JSON] = [:]
        for m in members { o[m.key] = m.value }
        if let missing = required.first(where: { o[$0] == nil }) { throw ModelError("\(JSON.path(path, key: missing)): missing") }
        return o
    }

    func string(at path: String) throws(ModelError) -> String {
        guard case .string(let s) = self else { throw ModelError("\(path): expected a string, found \(summary)") }
        return s
    }

    /// A plain JSON integer (`-0` is 0): no fraction or exponent, even `1.0` or `1e0`.
    func int(at path: String) throws(ModelError) -> Int {
        guard case .number(let text) = self else { throw ModelError("\(path): expected an integer, found \(summary)") }
        guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            throw ModelError("\(path): \(summary) is not an integer")
        }
        guard let n = Int(text) else { throw ModelError("\(path): \(summary) is out of range") }
        return n
    }

    /// A string as `parse` reads it; its error names the path.
    func parsed<T>(at path: String, _ parse: (String) throws(ModelError) -> T) throws(ModelError) -> T {
        let s = try string(at: path)
        do { return try parse(s) } catch { throw ModelError("\(path): \(error)") }
    }

    func ipv4(at path: String) throws(ModelError) -> IPv4Address { try parsed(at: path) { s throws(ModelError) in try IPv4Address(s) } }
    func ipv6(at path: String) throws(ModelError) -> IPv6Address { try parsed(at: path) { s throws(ModelError) in try IPv6Address(s) } }
    func ipv6Prefix(at path: String) throws(ModelError) -> IPv6Prefix { try parsed(at: path) { s throws(ModelError) in try IPv6Prefix(s) } }
    func mac(at path: String) throws(ModelError) -> MACAddress { try parsed(at: path) { s throws(ModelError) in try MACAddress(s) } }
}
