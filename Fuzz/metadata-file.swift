// InstanceJSON.parse (Sources/ENIModel/InstanceJSON.swift: strict JSON, schema, the model's
// validation) on any bytes. Invariants: errors hold no raw control character; the instance it
// returns, written back in the file's format, parses to the same instance.
import ENIModel

func write(_ i: Instance) -> String {
    let enis = i.enis.map { e in
        var f = ["\"mac\":\(jsonString(e.mac.description))", "\"primary_ip\":\(jsonString(e.primaryIP.description))",
                 "\"secondary_ips\":[" + e.secondaryIPs.map { jsonString($0.description) }.joined(separator: ",") + "]",
                 "\"subnet\":\(jsonString(e.subnet.description))", "\"gateway\":\(jsonString(e.gateway.description))"]
        if let d = e.deviceNumber { f.append("\"device_number\":\(d)") }
        if let c = e.networkCard { f.append("\"network_card\":\(c)") }
        if let id = e.id { f.append("\"id\":\(jsonString(id))") }
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
    let written = write(instance)
    do {
        check(try InstanceJSON.parse(Array(written.utf8), source: "again.json") == instance,
              "round trip differs: \(quoted(written))")
    } catch {
        check(false, "written back, it does not parse: \(error) in \(quoted(written))")
    }
    return 0
}
