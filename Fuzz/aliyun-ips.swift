// Alibaba's `private-ipv4s` and `ipv6s` as the provider reads them (Sources/ENIMetadata/Answers.swift):
// Answer.text, Answer.leaf, then Answer.jsonIPs and Answer.bracketedIPv6s. Invariants: what jsonIPs
// accepts is JSON that the strict parser (Sources/ENIModel/StrictJSON.swift) reads as an array of
// the same addresses, in order; at most `max` IPs; what bracketedIPv6s accepts, written back as
// `[a,b]` in RFC 5952 form, reads as the same addresses; errors hold no raw control character.
@testable import ENIMetadata
@testable import ENIModel

let max = 64

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let leaf: String
    do { leaf = try Answer.leaf(try Answer.text(bytes(data, size), url: "u"), url: "u") } catch {
        checkMessage(error.message)
        return 0
    }
    do {
        let v6 = try Answer.bracketedIPv6s(leaf, at: "http://m/ipv6s", max: max)
        check(v6.count <= max, "\(v6.count) IPv6 addresses")
        let again = "[" + v6.map(\.description).joined(separator: ",") + "]"
        check((try? Answer.bracketedIPv6s(again, at: "u", max: max)) == v6, "\(quoted(again)) reads otherwise")
    } catch { checkMessage(error.message) }
    let ips: [IPv4Address]
    do { ips = try Answer.jsonIPs(leaf, at: "http://m/private-ipv4s", max: max) } catch {
        switch error {
        case .invalid(let m), .pending(let m): checkMessage(m)
        }
        return 0
    }
    check(!ips.isEmpty && ips.count <= max, "\(ips.count) IPs")
    do {
        let json = try JSON.parse(Array(leaf.utf8))
        guard case .array(let items) = json else { check(false, "not a JSON array: \(quoted(leaf))"); return 0 }
        check(items == ips.map { JSON.string($0.description) }, "JSON reads \(quoted(leaf)) otherwise")
    } catch {
        check(false, "jsonIPs accepts what is not JSON: \(quoted(leaf)): \(error)")
    }
    return 0
}
