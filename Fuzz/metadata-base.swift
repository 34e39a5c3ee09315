// Cloud.metadataBase (Sources/ENIMetadata/Answers.swift), the base URL made of `metadata_url` /
// `--metadata-url`, on any text. Invariants: it ends in `/`, it is its own base (applying it twice
// changes nothing), and it begins with the URL given or with the URL's scheme and host.
@testable import ENIMetadata
import ENIModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = String(decoding: bytes(data, size), as: UTF8.self)
    let base = Cloud.metadataBase(url)
    check(base.hasSuffix("/"), "\(quoted(base)) does not end in /")
    check(Cloud.metadataBase(base) == base, "\(quoted(base)) is not its own base")
    check(base.hasPrefix(url) || base.hasSuffix("/latest/meta-data/"), "\(quoted(base)) lost \(quoted(url))")
    return 0
}
