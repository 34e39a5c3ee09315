import ENIModel

/// The clouds whose metadata tree eni-agent reads.
public enum Cloud: String, CaseIterable, Sendable {
    case tencent, aliyun, aws

    /// The metadata bases of each cloud, tried in this order until one answers. Tencent's by its
    /// address first: its name needs DNS, which early boot may not have yet (cloud-init's Tencent
    /// datasource does the same).
    public var defaultBaseURLs: [String] {
        switch self {
        case .tencent: ["http://169.254.0.23/latest/meta-data/", "http://metadata.tencentyun.com/latest/meta-data/"]
        case .aliyun: ["http://100.100.100.200/latest/meta-data/"]
        case .aws: ["http://169.254.169.254/latest/meta-data/"]
        }
    }

    /// What the agent says about IPv6 on this cloud, where it configures none: Tencent documents no
    /// per-ENI IPv6 leaf, so its ENIs are described without IPv6. Nil where the metadata has IPv6.
    public var ipv6Note: String? {
        switch self {
        case .tencent: "Tencent Cloud's metadata has no per-ENI IPv6 leaf; IPv6 is not configured"
        case .aliyun, .aws: nil
        }
    }

    /// The metadata base for a URL as operators spell it: the endpoint's root (`http://169.254.169.254`,
    /// as cloud-init's `metadata_urls`, nm-cloud-setup and the AWS SDKs name it) or `…/latest` get
    /// `/latest/meta-data/`; any other path is taken as the base itself. Always ends in `/`.
    /// Split by bytes, not Characters: a "/" can be part of the Character before it (after U+0605,
    /// which joins what follows), and the host would then take the path.
    public static func metadataBase(_ url: String) -> String {
        let b = Array(url.utf8)
        let slash = UInt8(ascii: "/")
        let afterScheme = b.indices.first { b[$0...].starts(with: "://".utf8) }.map { $0 + 3 } ?? 0
        let hostEnd = b[afterScheme...].firstIndex(of: slash) ?? b.count
        let path = b[hostEnd...]
        if [[], [slash], Array("/latest".utf8), Array("/latest/".utf8)].contains(Array(path)) {
            return String(decoding: b[..<hostEnd], as: UTF8.self) + "/latest/meta-data/"
        }
        return b.last == slash ? url : url + "/"
    }
}

/// Why one ENI (or its IPv6) could not be described this round.
enum ENIRead: Error {
    /// Not there yet (404): poll again until the pending deadline.
    case pending(String)
    /// An error or an invalid value: the ENI is unknown this pass.
    case invalid(String)

    /// The same, as the model says it.
    var undescribed: Undescribed {
        switch self {
        case .pending(let why): .pending(why)
        case .invalid(let why): .invalid(why)
        }
    }
}

/// Reading the metadata service's answers: pure functions of a body or its text, without I/O, so
/// that the unit tests and the fuzz targets (`Fuzz/`) reach them without libcurl.
enum Answer {
    /// A response body as text: UTF-8, and no control character but line ends.
    static func text(_ body: [UInt8], url: String) throws(MetadataError) -> String {
        guard let s = String(validating: body, as: UTF8.self) else {
            throw MetadataError("\(url): the answer is not UTF-8")
        }
        if let bad = s.unicodeScalars.first(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\r") || $0.value == 0x7f }) {
            throw MetadataError("\(url): control character U+\(String(bad.value, radix: 16, uppercase: true)) in \(quoted(String(s.prefix(80))))")
        }
        return s
    }

    /// A leaf: one line. Trailing line ends are dropped; anything else is kept and validated.
    static func leaf(_ s: String, url: String) throws(MetadataError) -> String {
        let v = s.trimmingTrailingNewlines
        // By scalar: "\r\n" inside the text is one Character, equal to neither "\n" nor "\r".
        if v.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) {
            throw MetadataError("\(url): expected one value, got \(quoted(v))")
        }
        return v
    }

    /// A listing: one entry per line (empty lines dropped), at most `max`.
    static func entries(_ s: String, url: String, max: Int) throws(MetadataError) -> [String] {
        let entries = s.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).map(String.init).filter { !$0.isEmpty }
        guard entries.count <= max else {
            throw MetadataError("\(url): \(entries.count) entries, more than the limit of \(max)")
        }
        return entries
    }

    /// Alibaba's `private-ipv4s`, `["192.168.1.10","192.168.1.11"]`: a JSON array of strings, nothing else.
    static func jsonIPs(_ text: String, at url: String, max: Int) throws(ENIRead) -> [IPv4Address] {
        guard let items = bracketed(text, quotes: .required) else {
            let t = text.trimmingSpaces
            throw .invalid("\(url): expected a JSON array\(t.hasPrefix("[") && t.hasSuffix("]") ? " of strings" : ""), got \(quoted(text))")
        }
        if items.isEmpty { throw .invalid("\(url): the list of IPs is empty") }
        var out: [IPv4Address] = []
        for s in items {
            do { out.append(try parseIPv4(s, at: url)) } catch { throw .invalid(error.message) }
        }
        guard out.count <= max else { throw .invalid("\(url): \(out.count) IPs, more than the limit of \(max)") }
        return out
    }

    /// Alibaba's `ipv6s`, `[fd00::1,fd00::2]`: brackets, items separated by commas, spaces and tabs
    /// around each ignored, each bare or in double quotes (as `private-ipv4s` spells its items); an
    /// empty item (`[a,,b]`) is refused. `[]` is an empty list: the caller decides what it means.
    static func bracketedIPv6s(_ text: String, at url: String, max: Int) throws(MetadataError) -> [IPv6Address] {
        guard let items = bracketed(text, quotes: .optional) else {
            throw MetadataError("\(url): expected a list in brackets, [a,b], got \(quoted(text))")
        }
        return try ipv6s(items, at: url, max: max)
    }

    /// Each of `items` as an IPv6 address, at most `max` of them.
    static func ipv6s(_ items: [String], at url: String, max: Int) throws(MetadataError) -> [IPv6Address] {
        guard items.count <= max else { throw MetadataError("\(url): \(items.count) IPv6 addresses, more than the limit of \(max)") }
        var out: [IPv6Address] = []
        for s in items { out.append(try parseIPv6(s, at: url)) }
        return out
    }

    enum Quotes { case required, optional }

    /// The items of `[a,b]` (Alibaba's lists): split at commas, spaces and tabs around each dropped,
    /// each in double quotes (`"a"`, returned without them) as `quotes` says. `[]` (or `[ ]`): no
    /// item. Nil when the text is not such a list: no brackets, an empty item, a quote missing or
    /// not allowed.
    static func bracketed(_ text: String, quotes: Quotes) -> [String]? {
        let t = text.trimmingSpaces
        guard t.hasPrefix("["), t.hasSuffix("]") else { return nil }
        let inner = t.dropFirst().dropLast().trimmingSpaces
        if inner.isEmpty { return [] }
        var out: [String] = []
        for item in inner.split(separator: ",", omittingEmptySubsequences: false) {
            let s = item.trimmingSpaces
            let isQuoted = s.count >= 2 && s.hasPrefix("\"") && s.hasSuffix("\"")
            switch (quotes, isQuoted) {
            case (_, true): out.append(String(s.dropFirst().dropLast()))
            case (.optional, false) where !s.isEmpty && !s.contains("\""): out.append(s)
            default: return nil
            }
        }
        return out
    }
}

func parseIPv4(_ v: String, at url: String) throws(MetadataError) -> IPv4Address {
    do { return try IPv4Address(v) } catch { throw MetadataError("\(url): \(error)") }
}

func parseIPv6(_ v: String, at url: String) throws(MetadataError) -> IPv6Address {
    do { return try IPv6Address(v) } catch { throw MetadataError("\(url): \(error)") }
}

func parseIPv6Prefix(_ v: String, at url: String) throws(MetadataError) -> IPv6Prefix {
    do { return try IPv6Prefix(v) } catch { throw MetadataError("\(url): \(error)") }
}

func parseMAC(_ v: String, at url: String) throws(MetadataError) -> MACAddress {
    do { return try MACAddress(v) } catch { throw MetadataError("\(url): \(error)") }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == "\r" || l == "\r\n" { s.removeLast() }
        return String(s)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
