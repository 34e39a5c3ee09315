// Cloud.metadataBase (Sources/ENIMetadata/Answers.swift), the base URL made of `metadata_url` /
// `--metadata-url`, on any text. Invariants: it ends in `/`, it is its own base (applying it twice
// changes nothing), and it begins with the URL given or with the URL's scheme and host.
@testable import ENIMetadata
import ENIModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = String(decoding: bytes(data, size), as: UTF8.self)
    let base = Cloud.metadataBase(url)
    // By bytes: String's hasPrefix/hasSuffix compare Characters, and "\u{605}/" is one.
    check(base.utf8.last == UInt8(ascii: "/"), "\(quoted(base)) does not end in /")
    check(Array(Cloud.metadataBase(base).utf8) == Array(base.utf8), "\(quoted(base)) is not its own base")
    check(base.utf8.starts(with: url.utf8) || base.utf8.reversed().starts(with: "/latest/meta-data/".utf8.reversed()),
          "\(quoted(base)) lost \(quoted(url))")
    if !url.utf8.contains(UInt8(ascii: "/")) {
        check(Array(base.utf8) == Array((url + "/latest/meta-data/").utf8), "\(quoted(url)), a bare host, gave \(quoted(base))")
    }
    return 0
}
