// eni-metadata-sim: the metadata simulator as a process, for the demo and shell tests.
// Test support only; never packaged.
//
//   eni-metadata-sim --scenario FILE [--listen ADDRESS:PORT]
//
// Prints "listening on http://ADDRESS:PORT/latest/meta-data/" once it accepts connections, then
// serves until killed. Control endpoints: see MetadataSimulator.
import Glibc
import MetadataSimulator

func fail(_ message: String) -> Never {
    let bytes = Array("eni-metadata-sim: \(message)\n".utf8)
    _ = write(2, bytes, bytes.count)
    exit(2)
}

var scenarioPath: String?
var listen = "127.0.0.1:0"
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--scenario":
        guard let v = args.popFirst() else { fail("--scenario needs a file") }
        scenarioPath = v
    case "--listen":
        guard let v = args.popFirst() else { fail("--listen needs ADDRESS:PORT") }
        listen = v
    case "-h", "--help":
        print("usage: eni-metadata-sim --scenario FILE [--listen ADDRESS:PORT]")
        exit(0)
    default: fail("unknown argument \(a)")
    }
}
guard let scenarioPath else { fail("--scenario FILE is required") }
guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
    fail("--listen \(listen): expected ADDRESS:PORT")
}
let host = String(listen[..<colon])

let fd = open(scenarioPath, O_RDONLY)
guard fd >= 0 else { fail("\(scenarioPath): \(String(cString: strerror(errno)))") }
var bytes: [UInt8] = []
var chunk = [UInt8](repeating: 0, count: 65536)
while true {
    let n = read(fd, &chunk, chunk.count)
    if n <= 0 { break }
    bytes += chunk[..<n]
}
close(fd)

let scenario: Scenario
do { scenario = try Scenario.decode(bytes) } catch { fail("\(scenarioPath): \(error)") }
let sim: MetadataSimulator
do { sim = try MetadataSimulator(scenario: scenario, host: host, port: port) } catch { fail("\(error)") }
let line = Array("listening on \(sim.baseURL)\n".utf8)
_ = write(1, line, line.count)
while true { pause() }
