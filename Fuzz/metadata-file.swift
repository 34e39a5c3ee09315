// InstanceJSON.parse (Sources/ENIModel/InstanceJSON.swift: strict JSON, schema, the model's
// validation) on any bytes. Invariants: errors, and the reasons an ENI's IPv6 is unknown, hold no
// raw control character; the instance it returns, written back in the file's format (an unknown
// IPv6 as none; an IPv6-only ENI's as another error), parses to the same instance (its unknown
// IPv6 as none).
import ENIModel

func write(_ i: Instance) -> String {
    let enis = i.enis.map { e in
        var f = ["\"mac\":\(jsonString(e.mac.description))"]
        if let v4 = e.ipv4 {
            f += ["\"primary_ip\":\(jsonString(v4.primaryIP.description))",
                  "\"secondary_ips\":[" + v4.secondaryIPs.map { jsonString($0.description) }.joined(separator: ",") + "]",
                  "\"subnet\":\(jsonString(v4.subnet.description))", "\"gateway\":\(jsonString(v4.gateway.description))"]
        } else if e.ipv6 == nil {
            // An IPv6-only ENI whose IPv6 is unknown: written with an IPv6 in error again.
            f.append("\"ipv6s\":[0]")
        }
        if let d = e.deviceNumber { f.append("\"device_number\":\(d)") }
        if let c = e.networkCard { f.append("\"network_card\":\(c)") }
        if let id = e.id { f.append("\"id\":\(jsonString(id))") }
        if let v6 = e.ipv6 {
            f.append("\"ipv6s\":[" + v6.addresses.map { jsonString($0.description) }.joined(separator: ",") + "]")
            f.append("\"subnet6\":\(jsonString(v6.subnet.description))")
            if let g = v6.gateway { f.append("\"gateway6\":\(jsonString(g.description))") }
        }
        return "{" + f.joined(separator: ",") + "}"
    }
    return "{\"primary_mac\":\(jsonString(i.primaryMAC.description)),\"enis\":[" + enis.joined(separator: ",") + "]}"
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let instance: Instance
    do { instance = try InstanceJSON.parse(bytes(data, size), source: "fuzz.json") } catch {
        checkMessage(error.message)
        return 0
    }
    check(instance.unknown.isEmpty, "a file describes every ENI it lists")
    for e in instance.enis {
        if let u = e.ipv6Unknown { checkMessage(u.reason) }
        check(e.ipv6 == nil || e.ipv6Unknown == nil, "IPv6 both described and unknown")
        check(e.ipv4 != nil || e.ipv6 != nil || e.ipv6Unknown != nil, "an ENI with no family")
    }
    func known(_ i: Instance) -> Instance {
        var i = i
        for k in i.enis.indices { i.enis[k].ipv6Unknown = nil }
        return i
    }
    let written = write(instance)
    do {
        check(known(try InstanceJSON.parse(Array(written.utf8), source: "again.json")) == known(instance),
              "round trip differs: \(quoted(written))")
    } catch {
        check(false, "written back, it does not parse: \(error) in \(quoted(written))")
    }
    return 0
}
