import ENIApply
import ENIMetadata
import ENIModel
import Foundation
import Logging
import Synchronization

/// An in-memory kernel: links, addresses, routes and rules, with the refusals the executor acts
/// on (an object that exists, one that is gone, a device that is not there).
final class FakeKernel: Kernel, @unchecked Sendable {
    struct Refused: KernelError, CustomStringConvertible {
        var refusal: KernelRefusal
        var description: String
    }
    var linkList: [Link]
    var addressSet: Set<InterfaceAddress> = []
    var routeSet: Set<Route> = []
    var ruleSet: Set<Rule> = []
    var routerList: [IPv6Router] = []
    private(set) var writes = 0

    init(links: [Link]) { linkList = links }

    func links() throws -> [Link] { linkList }
    func addresses() throws -> [InterfaceAddress] { addressSet.sorted() }
    func routes() throws -> [Route] { routeSet.sorted() }
    func rules() throws -> [Rule] { ruleSet.sorted() }
    func routers() throws -> [IPv6Router] { routerList }

    private func device(_ name: String?, _ what: String) throws {
        guard let name, linkList.contains(where: { $0.name == name }) else {
            throw Refused(refusal: .noDevice, description: "\(what): no such interface")
        }
    }

    func setUp(_ device: String) throws {
        writes += 1
        try self.device(device, "link set \(device) up")
        for i in linkList.indices where linkList[i].name == device { linkList[i].isUp = true; linkList[i].hasCarrier = true }
    }

    func add(_ a: InterfaceAddress) throws {
        writes += 1
        try device(a.device, "add address \(a)")
        guard !addressSet.contains(where: { $0.address == a.address && $0.device == a.device }) else {
            throw Refused(refusal: .exists, description: "add address \(a): exists")
        }
        addressSet.insert(a)
    }

    func remove(_ a: InterfaceAddress) throws {
        writes += 1
        guard let old = addressSet.first(where: { $0.address == a.address && $0.device == a.device }) else {
            throw Refused(refusal: .notFound, description: "remove address \(a): not found")
        }
        addressSet.remove(old)
    }

    func add(_ r: Route) throws {
        writes += 1
        try device(r.device, "add route \(r)")
        guard !routeSet.contains(where: { $0.key == r.key }) else { throw Refused(refusal: .exists, description: "add route \(r): exists") }
        routeSet.insert(r)
    }

    func remove(_ r: Route) throws {
        writes += 1
        guard let old = routeSet.first(where: { $0.key == r.key }) else { throw Refused(refusal: .notFound, description: "remove route \(r): not found") }
        routeSet.remove(old)
    }

    func add(_ r: Rule) throws {
        writes += 1
        guard ruleSet.insert(r).inserted else { throw Refused(refusal: .exists, description: "add rule \(r): exists") }
    }

    func remove(_ r: Rule) throws {
        writes += 1
        guard ruleSet.remove(r) != nil else { throw Refused(refusal: .notFound, description: "remove rule \(r): not found") }
    }
}

/// A metadata source that describes what the test says (`later`: the next looks' descriptions,
/// one per look, before `instance` again), and counts how often it is asked. Like the clouds', a
/// MAC waited for and not listed is pending.
final class FakeMetadata: MetadataProvider, @unchecked Sendable {
    var instance: Instance
    var later: [Instance] = []
    var fetches = 0
    var failure: String?
    init(_ instance: Instance) { self.instance = instance }
    var name: String { "fake" }
    func fetch(waitingFor: Set<MACAddress>) throws -> MetadataResult {
        fetches += 1
        if let failure { throw MetadataError(failure) }
        var i = later.isEmpty ? instance : later.removeFirst()
        for mac in waitingFor where i.eni(mac: mac) == nil && i.unknown[mac] == nil { i.unknown[mac] = .pending("not listed yet") }
        return MetadataResult(instance: i)
    }
}

/// Log lines, as `<level> message`.
final class LogLines: @unchecked Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ s: String) { lines.withLock { $0.append(s) } }
    var logger: Logger {
        Logger(label: "test") { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: LogLines
        var logLevel: Logger.Level = .debug
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { sink.append("\(event.level) \(event.message)") }
    }
}

/// A scratch root and /proc/sys below a temp directory, removed with the value.
final class Scratch {
    let dir: String
    init() throws {
        dir = FileManager.default.temporaryDirectory.appending(path: "eni-fake-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/root", withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: dir) }
    var root: String { dir + "/root" }
    var procSys: String { dir + "/proc" }

    /// The sysctl files the agent reads and writes for these links, as a fresh kernel has them.
    func sysctls(for links: [String]) throws {
        for l in ["all", "default"] + links {
            let d = procSys + "/net/ipv4/conf/\(l)"
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            try Data("1\n".utf8).write(to: URL(filePath: d + "/rp_filter"))
            try Data("0\n".utf8).write(to: URL(filePath: d + "/promote_secondaries"))
        }
    }
}
