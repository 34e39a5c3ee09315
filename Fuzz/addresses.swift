// The address parsers (Sources/ENIModel/Addresses.swift, and parseIPv4/parseMAC of
// Sources/ENIMetadata/Answers.swift) on any text: IPv4Address(_:), MACAddress(_:), IPv4Prefix(_:),
// IPv4Prefix.length(ofNetmask:), IPv6Address(_:), IPv6Prefix(_:). Invariants: what parses is
// canonical (an IPv4 address or prefix is its own description; a MAC is its description but for
// case and `-`), the description parses to the same value, a prefix has no host bit set, a
// netmask's length gives back the mask; an IPv6 address's description is RFC 5952's form (lower
// case, at most one `::`, no group over 4 digits) and parses to the same value, the same text in
// upper case parses to the same value; errors hold no raw control character.
@testable import ENIMetadata
import ENIModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let s = String(decoding: bytes(data, size), as: UTF8.self)

    do {
        let a = try IPv4Address(s)
        check(a.description == s, "IPv4 \(quoted(s)) is not canonical: \(a)")
        check((try? IPv4Address(a.description)) == a, "IPv4 \(a) does not re-parse")
        check((try? parseIPv4(s, at: "u")) == a, "parseIPv4 differs")
    } catch { checkMessage(error.message) }

    do {
        let m = try MACAddress(s)
        let d = m.description
        check(d == d.lowercased() && d.count == 17, "MAC \(quoted(d)) printed oddly")
        check(d == s.lowercased().replacing("-", with: ":"), "MAC \(quoted(s)) is not canonical: \(d)")
        check((try? MACAddress(d)) == m && (try? MACAddress(d.uppercased())) == m, "MAC \(d) does not re-parse")
    } catch { checkMessage(error.message) }

    do {
        let p = try IPv4Prefix(s)
        check(p.description == s, "prefix \(quoted(s)) is not canonical: \(p)")
        check(p.network.value & ~IPv4Prefix.mask(p.length) == 0, "prefix \(p) has host bits")
        check((try? IPv4Prefix(p.description)) == p, "prefix \(p) does not re-parse")
        check((try? IPv4Prefix(containing: p.network, length: p.length)) == p, "prefix \(p) differs from its network")
    } catch { checkMessage(error.message) }

    do {
        let a = try IPv6Address(s)
        let d = a.description
        check((try? IPv6Address(d)) == a, "IPv6 \(d) does not re-parse")
        check((try? IPv6Address(s.uppercased())) == a, "IPv6 \(quoted(s)) differs in upper case")
        check(d == d.lowercased() && d.count <= 39, "IPv6 \(quoted(d)) printed oddly")
        check(d.ranges(of: "::").count <= 1 && !d.contains(":::"), "IPv6 \(quoted(d)) has two '::'")
        check(d.split(separator: ":").allSatisfy { $0.count <= 4 || $0.contains(".") }, "IPv6 \(quoted(d)) has a long group")
    } catch { checkMessage(error.message) }

    do {
        let p = try IPv6Prefix(s)
        check(p.network.value & ~IPv6Prefix.mask(p.length) == 0, "IPv6 prefix \(p) has host bits")
        check((try? IPv6Prefix(p.description)) == p, "IPv6 prefix \(p) does not re-parse")
    } catch { checkMessage(error.message) }

    do {
        let n = try IPv4Prefix.length(ofNetmask: s)
        check((0...32).contains(n), "netmask length \(n)")
        check((try? IPv4Address(s))?.value == IPv4Prefix.mask(n), "netmask \(quoted(s)) is not /\(n)")
    } catch { checkMessage(error.message) }
    return 0
}
