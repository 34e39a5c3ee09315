@testable import ENIApply
@testable import ENIAgent
import ENIModel
import ENINetlink
import ENIPlanner
import ENIRender
import Foundation
import XCTest

final class FileTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appending(path: "eni-agent-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    func testAtomicWriteCreatesDirectoriesMode0644AndReplaces() throws {
        let fs = FileStore(root: root)
        try fs.write("one\n", to: "/etc/sysconfig/network-scripts/ifcfg-eth1")
        try fs.write("two\n", to: "/etc/sysconfig/network-scripts/ifcfg-eth1")
        let path = root + "/etc/sysconfig/network-scripts/ifcfg-eth1"
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "two\n")
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attrs[.posixPermissions] as! NSNumber).intValue, 0o644)
        // No temp file left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/etc/sysconfig/network-scripts"), ["ifcfg-eth1"])
    }

    /// `renderer = "auto"` (the default): networkd's files where systemd-networkd runs, else ifcfg
    /// files where network-scripts' directory exists; an explicit renderer is taken as it is.
    func testRendererAutoFollowsTheSystem() throws {
        var c = AgentConfig()
        XCTAssertEqual(c.renderer, .auto)
        let fs = FileStore(root: root)
        XCTAssertEqual(c.rendererChoice(fs), RendererChoice(kind: .none,
            reason: "auto: neither NetworkManager nor systemd-networkd is running and there is no /etc/sysconfig/network-scripts: nothing on this system reads the files the agent can write"))
        c.renderer = .ifcfg
        XCTAssertEqual(c.rendererChoice(fs), RendererChoice(kind: .ifcfg, reason: "renderer = ifcfg"))
        // A root not made yet (the lock's directories create it) is writable where it would be made.
        XCTAssertEqual(c.rendererChoice(FileStore(root: root + "/not/yet")), RendererChoice(kind: .ifcfg, reason: "renderer = ifcfg"))
        try FileManager.default.createDirectory(atPath: root + "/etc/sysconfig/network-scripts", withIntermediateDirectories: true)
        c.renderer = .auto
        XCTAssertEqual(c.rendererChoice(fs).kind, .ifcfg)
        XCTAssertEqual(c.rendererChoice(fs).reason, "auto: /etc/sysconfig/network-scripts exists (network-scripts or NetworkManager's ifcfg-rh reads it)")
        c.renderer = .none
        XCTAssertEqual(c.rendererChoice(fs), RendererChoice(kind: .none, reason: "renderer = none"))
        // A symlink in its place is not network-scripts' directory.
        try FileManager.default.removeItem(atPath: root + "/etc/sysconfig/network-scripts")
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/sysconfig/network-scripts", withDestinationPath: "/tmp")
        c.renderer = .auto
        XCTAssertEqual(c.rendererChoice(fs).kind, .none)
        // systemd-networkd running (its state file) comes first.
        try FileManager.default.createDirectory(atPath: root + "/run/systemd/netif", withIntermediateDirectories: true)
        try Data("OPER_STATE=routable\n".utf8).write(to: URL(filePath: root + "/run/systemd/netif/state"))
        XCTAssertEqual(c.rendererChoice(fs), RendererChoice(kind: .networkd,
            reason: "auto: systemd-networkd is running (/run/systemd/netif/state exists)"))
        // Its directories alone (systemd's tmpfiles make them whether it runs or not) are not enough.
        try FileManager.default.removeItem(atPath: root + "/run/systemd/netif/state")
        XCTAssertEqual(c.rendererChoice(fs).kind, .none)
    }

    /// NetworkManager running (its pid file below the root) comes before systemd-networkd and
    /// network-scripts' directory; `renderer = "networkmanager"` is taken as it is.
    func testRendererAutoPrefersNetworkManager() throws {
        var c = AgentConfig()
        let fs = FileStore(root: root)
        try FileManager.default.createDirectory(atPath: root + "/run/systemd/netif", withIntermediateDirectories: true)
        try Data("OPER_STATE=routable\n".utf8).write(to: URL(filePath: root + "/run/systemd/netif/state"))
        try FileManager.default.createDirectory(atPath: root + "/etc/sysconfig/network-scripts", withIntermediateDirectories: true)
        XCTAssertEqual(c.rendererChoice(fs).kind, .networkd)
        try FileManager.default.createDirectory(atPath: root + "/run/NetworkManager/devices", withIntermediateDirectories: true)
        XCTAssertEqual(c.rendererChoice(fs), RendererChoice(kind: .networkmanager,
            reason: "auto: NetworkManager is running (/run/NetworkManager/devices exists)"))
        // Its run directory alone is not enough: the devices' state is there while it runs.
        try FileManager.default.removeItem(atPath: root + "/run/NetworkManager/devices")
        XCTAssertEqual(c.rendererChoice(fs).kind, .networkd)
        // Nor is a file in the directory's place.
        try Data("1\n".utf8).write(to: URL(filePath: root + "/run/NetworkManager/devices"))
        XCTAssertEqual(c.rendererChoice(fs).kind, .networkd)
        c.renderer = .networkmanager
        XCTAssertEqual(c.rendererChoice(fs), RendererChoice(kind: .networkmanager, reason: "renderer = networkmanager"))
        // Its directory cannot be written: nothing is written, and the problem says why.
        try FileManager.default.createDirectory(atPath: root + "/etc/NetworkManager/system-connections", withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: root + "/etc/NetworkManager/system-connections")
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root + "/etc/NetworkManager/system-connections") }
        if getuid() != 0 {
            let choice = c.rendererChoice(fs)
            XCTAssertEqual(choice.kind, .none)
            XCTAssertTrue(choice.problem?.hasPrefix("renderer networkmanager: /etc/NetworkManager/system-connections cannot be written") ?? false,
                          choice.problem ?? "no problem")
        }
    }

    /// A file gets the mode its renderer states from its creation on; the mode is observed, and a
    /// write puts a changed mode back.
    func testWriteModeAndObservedMode() throws {
        let fs = FileStore(root: root)
        let path = "/etc/NetworkManager/system-connections/eni-agent-eth1.nmconnection"
        let old = umask(0o077)
        defer { umask(old) }
        try fs.write("a\n", to: path, mode: 0o600)
        var attrs = try FileManager.default.attributesOfItem(atPath: root + path)
        XCTAssertEqual((attrs[.posixPermissions] as! NSNumber).intValue, 0o600)
        XCTAssertEqual(try fs.observe(directories: ["/etc/NetworkManager/system-connections"], files: [])[path],
                       ObservedFile(.regular(content: "a\n"), mode: 0o600))
        // The umask (077 here) takes nothing from the default mode either.
        try fs.write("b\n", to: "/etc/x.conf")
        XCTAssertEqual(try fs.observe(directories: [], files: ["/etc/x.conf"])["/etc/x.conf"]?.mode, 0o644)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: root + path)
        XCTAssertEqual(try fs.observe(directories: [], files: [path])[path]?.mode, 0o644)
        try fs.write("a\n", to: path, mode: 0o600)
        attrs = try FileManager.default.attributesOfItem(atPath: root + path)
        XCTAssertEqual((attrs[.posixPermissions] as! NSNumber).intValue, 0o600)
    }

    /// udev's database tells which links it has finished with; without its control socket, every
    /// link is finished (no udev: containers, namespaces).
    func testUdevUnsettledLinks() throws {
        var udev = Udev(runDirectory: root + "/run/udev")
        udev.checksNamespace = false
        let mac = try MACAddress("52:54:00:00:02:0a")
        let links = [Link(index: 2, name: "ens3", mac: mac, isUp: true), Link(index: 7, name: "eth1", mac: mac, isUp: false),
                     Link(index: 1, name: "lo", mac: nil, isUp: true)]
        XCTAssertFalse(udev.isActive)
        XCTAssertNil(udev.finished())
        XCTAssertEqual(Udev.unsettled(links, finished: udev.finished()), [])
        try FileManager.default.createDirectory(atPath: root + "/run/udev/data", withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: root + "/run/udev/control", contents: nil))
        XCTAssertTrue(FileManager.default.createFile(atPath: root + "/run/udev/data/n2", contents: Data("I:123\n".utf8)))
        XCTAssertTrue(udev.isActive)
        XCTAssertTrue(FileManager.default.createFile(atPath: root + "/run/udev/data/b8:0", contents: nil))
        XCTAssertEqual(udev.finished(), [2])
        XCTAssertEqual(Udev.unsettled(links, finished: udev.finished()), ["eth1"])
        XCTAssertNotNil(Udev.namespace("/proc/self/ns/net"))
    }

    /// A link renamed during a pass (udev's `eth0` -> `ens6`): its settings are gone under the old
    /// name, which is no failure (the rename starts the next pass); another sysctl failure is.
    func testASysctlOfALinkRenamedDuringThePassIsSkipped() throws {
        try FileManager.default.createDirectory(atPath: root + "/net/ipv4/conf/all", withIntermediateDirectories: true)
        var c = AgentConfig()
        c.root = root
        c.renderer = .none
        let machine = Machine(kernel: try Netlink(), files: FileStore(root: root), procSys: ProcSys(base: root))
        let renamed = Action(.setSysctl(key: "net.ipv4.conf.eth0.rp_filter", from: nil, to: "2"), interface: "eth0", reason: "t")
        let machineWide = Action(.setSysctl(key: "net.ipv4.conf.nosuch.rp_filter", from: nil, to: "0"), interface: nil, reason: "t")
        let plan = Plan(actions: [renamed, machineWide], problems: [], enis: [], design: NetworkDesign(interfaces: [], sysctls: []))
        let r = machine.apply(plan)
        XCTAssertEqual(r.outcomes.count, 2)
        guard case .skipped(let why) = r.outcomes[0].result else { return XCTFail("\(r.outcomes[0].result)") }
        XCTAssertTrue(why.hasPrefix("eth0 was renamed or went away during the pass"), why)
        guard case .failed = r.outcomes[1].result else { return XCTFail("a machine-wide failure is a failure: \(r.outcomes[1].result)") }
    }

    func testNeverWritesThroughASymlink() throws {
        let fs = FileStore(root: root)
        let target = root + "/target"
        try "precious\n".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/ifcfg-eth1", withDestinationPath: target)
        XCTAssertEqual(try fs.observe(directories: ["/etc"], files: [])["/etc/ifcfg-eth1"], ObservedFile(.symlink))
        // Writing replaces the link itself; the target is untouched.
        try fs.write("new\n", to: "/etc/ifcfg-eth1")
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "precious\n")
        XCTAssertNil(try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/etc/ifcfg-eth1"))
    }

    func testRefusesASymlinkedDirectoryOnTheWay() throws {
        let fs = FileStore(root: root)
        let elsewhere = root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/etc/sysconfig", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/etc/sysconfig/network-scripts", withDestinationPath: elsewhere)
        XCTAssertThrowsError(try fs.write("x\n", to: "/etc/sysconfig/network-scripts/ifcfg-eth1")) {
            XCTAssertTrue("\($0)".contains("(network-scripts) is a symlink or not a directory; not followed"), "\($0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: elsewhere), [])
    }

    func testRemoveAndObserve() throws {
        let fs = FileStore(root: root)
        try fs.write("a\n", to: "/d/x")
        try fs.write("b\n", to: "/d/y")
        try fs.remove("/d/x")
        try fs.remove("/d/absent")
        XCTAssertEqual(try fs.observe(directories: ["/d", "/missing"], files: ["/d/y", "/nope/z"]),
                       ["/d/y": ObservedFile(.regular(content: "b\n"), mode: 0o644)])
    }

    /// Only regular files are read: a FIFO (which would block in open or read until a writer
    /// came), a directory or a device is an error naming its kind, returned at once.
    func testReadFileRefusesWhatIsNotARegularFile() throws {
        let fifo = root + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try FileStore.readFile(atPath: fifo, limit: 4096)) {
            XCTAssertEqual("\($0)", "read \(fifo): a FIFO, not a regular file")
        }
        XCTAssertThrowsError(try FileStore.readFile(atPath: root, limit: 4096)) {
            XCTAssertEqual("\($0)", "read \(root): a directory, not a regular file")
        }
        XCTAssertThrowsError(try FileStore.readFile(atPath: "/dev/zero", limit: 4096)) {
            XCTAssertEqual("\($0)", "read /dev/zero: a character device, not a regular file")
        }
        // A symlink to a FIFO is the FIFO.
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: fifo)
        XCTAssertThrowsError(try FileStore.readFile(atPath: root + "/link", limit: 4096)) {
            XCTAssertEqual("\($0)", "read \(root)/link: a FIFO, not a regular file")
        }
        // Regular files, /proc/sys's included, still read; the size cap holds.
        try "abc\n".write(toFile: root + "/f", atomically: false, encoding: .utf8)
        XCTAssertEqual(try FileStore.readFile(atPath: root + "/f", limit: 4096), Array("abc\n".utf8))
        XCTAssertThrowsError(try FileStore.readFile(atPath: root + "/f", limit: 2)) {
            XCTAssertEqual("\($0)", "read \(root)/f: larger than 2 bytes")
        }
        XCTAssertNotNil(ProcSys().read("net.ipv4.conf.lo.rp_filter"))
    }

    func testLockIsExclusive() throws {
        let files = FileStore(root: root)
        let path = "/run/eni-agent/lock"  // both directories missing
        do {
            let first = try RunLock(files: files, path: path, timeoutSeconds: 0)
            XCTAssertThrowsError(try RunLock(files: files, path: path, timeoutSeconds: 0)) {
                XCTAssertEqual("\($0)", "lock \(self.root)\(path): another eni-agent run holds it (waited 0 s)")
            }
            withExtendedLifetime(first) {}
        }
        _ = try RunLock(files: files, path: path, timeoutSeconds: 0)  // released with the first
    }

    /// `root + lock_path` with `..` in it would climb out of the root; nothing is created.
    func testLockStaysBelowTheRoot() throws {
        let name = "eni-agent-escape-\(UUID().uuidString)"
        let outside = (root as NSString).deletingLastPathComponent + "/" + name
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let files = FileStore(root: root)
        XCTAssertThrowsError(try RunLock(files: files, path: "/../\(name)/lock", timeoutSeconds: 0)) {
            XCTAssertEqual("\($0)", "resolve /../\(name)/lock: not a clean absolute path")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: outside))
        XCTAssertThrowsError(try RunLock(files: files, path: "/./lock", timeoutSeconds: 0))
        XCTAssertThrowsError(try RunLock(files: files, path: "run/lock", timeoutSeconds: 0))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), [])
        // A symlink below the root is not followed to make the lock's directory elsewhere.
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: root + "/run", withDestinationPath: outside)
        XCTAssertThrowsError(try RunLock(files: files, path: "/run/eni-agent/lock", timeoutSeconds: 0)) {
            XCTAssertTrue("\($0)".contains("is a symlink or not a directory; not followed"), "\($0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside), [])
    }

    /// `bash -c '. FILE'` yields exactly the values, whatever characters they hold.
    func testShellValuesSurviveSourcing() throws {
        let values = ["plain", "with space", "quote'inside", "dollar $(reboot) `x`", "semi;colon", "back\\slash", "\"dq\"", ""]
        var text = ""
        for (i, v) in values.enumerated() { text += try ShellValue.assignment("V\(i)", v) + "\n" }
        let file = root + "/vars"
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(filePath: "/bin/bash")
        p.arguments = ["-c", ". \"$1\"; for i in \(values.indices.map(String.init).joined(separator: " ")); do v=V$i; printf '%s\\0' \"${!v}\"; done", "bash", file]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let got = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
        XCTAssertEqual(got, values)
        XCTAssertThrowsError(try ShellValue.quote("a\nb", for: "IPADDR")) {
            XCTAssertEqual("\($0)", "IPADDR: value \"a\\nb\" has a control character (U+a); not written")
        }
    }

    func testUnifiedDiffMatchesDiffU() throws {
        let old = (1...20).map { "line \($0)" }.joined(separator: "\n") + "\n"
        var lines = old.split(separator: "\n").map(String.init)
        lines[2] = "changed 3"; lines.remove(at: 10); lines.insert("new", at: 15); lines.append("tail")
        let new = lines.joined(separator: "\n") + "\n"
        try old.write(toFile: root + "/a", atomically: false, encoding: .utf8)
        try new.write(toFile: root + "/b", atomically: false, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(filePath: "/usr/bin/diff")
        p.arguments = ["-u", "--label", "F", "--label", "F", root + "/a", root + "/b"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(UnifiedDiff.render(path: "F", old: old, new: new), expected)
    }
}
