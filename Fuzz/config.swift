// AgentConfig.load(tomlBytes:file:) (Sources/ENIAgent/Config.swift: UTF-8 check, TOML, keys, types,
// ranges, validate()) on any bytes. Invariants: errors hold no raw control character; a config that
// loads passes validate(); loading the same file again over it changes nothing.
@testable import ENIAgent
import ENIModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = bytes(data, size)
    var config = AgentConfig()
    do { try config.load(tomlBytes: input, file: "fuzz.toml") } catch {
        checkMessage(error.message)
        return 0
    }
    do { try config.validate() } catch { check(false, "loaded, yet validate() says: \(error)") }
    var again = config
    do { try again.load(tomlBytes: input, file: "fuzz.toml") } catch { check(false, "loads once, not twice: \(error)") }
    check(again == config, "loading the file twice gives another config")
    return 0
}
