#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `NetworkManagerAPI.activate` did on the device.
public enum NMActivation: Equatable, Sendable {
    /// The device already ran the profile: its settings as now loaded were applied to it
    /// (`Device.Reapply`), without a reactivation.
    case reapplied
    /// The device ran another profile (e.g. the automatic DHCP "Wired connection 1") or none: the
    /// profile was activated on it (`ActivateConnection`); the active connection's object path.
    case activated(String)
    /// NetworkManager has no device of that name (not yet, or never): nothing was done. It picks
    /// a loaded profile itself when it manages the device.
    case noDevice
    /// NetworkManager kept the device unmanaged for the whole wait (`NetworkManagerBus.managedWait`):
    /// not yet taken over from udev, or unmanaged by its configuration. Nothing was done.
    case unmanaged
}

/// The part of NetworkManager's D-Bus API the agent uses after writing or removing keyfiles.
public protocol NetworkManagerAPI {
    /// `Settings.LoadConnections`: NetworkManager reads these keyfiles again; one that no longer
    /// exists unloads its profile. Returns the paths it could not load.
    func loadConnections(_ paths: [String]) throws(BusError) -> [String]
    /// Makes the device `interface` run the profile `uuid`: `Device.Reapply` when it runs it
    /// already, else `ActivateConnection`.
    func activate(uuid: String, interface: String) throws(BusError) -> NMActivation
}

/// NetworkManager over the system bus: one connection (one `Hello`) for a pass's calls, all
/// within one deadline. A root caller is authorized by its user id (NetworkManager's D-Bus
/// policy lets root send it anything; its permission checks succeed for uid 0 without polkit),
/// whatever capabilities it holds.
public final class NetworkManagerBus: NetworkManagerAPI {
    public static let service = "org.freedesktop.NetworkManager"
    static let managerPath = "/org/freedesktop/NetworkManager"
    static let settingsPath = "/org/freedesktop/NetworkManager/Settings"
    static let settingsInterface = "org.freedesktop.NetworkManager.Settings"
    static let deviceInterface = "org.freedesktop.NetworkManager.Device"
    static let activeInterface = "org.freedesktop.NetworkManager.Connection.Active"
    static let propertiesInterface = "org.freedesktop.DBus.Properties"

    /// `NM_DEVICE_STATE_UNMANAGED`, the `State` of a device NetworkManager does not manage.
    static let unmanagedState: UInt32 = 10

    let bus: BusConnection
    /// How long `activate` waits for a device NetworkManager does not manage yet. A hot-plugged
    /// NIC is unmanaged until NetworkManager has taken it over from udev, a few hundred
    /// milliseconds after udev finished with it (when the agent configures it): activated in that
    /// window, the profile "is not available on device … because device is strictly unmanaged".
    let managedWait: Duration
    /// Milliseconds between two reads of a device's `State` while waiting.
    static let managedPollMilliseconds: Int32 = 50

    /// Connects to the bus; every call made through this value must be answered within `timeout`
    /// of now.
    public init(socketPath: String = BusConnection.systemSocket, timeout: Duration = .seconds(5),
                managedWait: Duration = .seconds(3)) throws(BusError) {
        bus = try BusConnection(socketPath: socketPath, deadline: .now + timeout)
        self.managedWait = managedWait
    }

    public func loadConnections(_ paths: [String]) throws(BusError) -> [String] {
        let reply = try call(Self.settingsPath, Self.settingsInterface, "LoadConnections", [.strings(paths)])
        guard reply.count == 2, case .boolean = reply[0], case .array("s", let failures) = reply[1] else {
            throw unexpected("LoadConnections", reply, "bas")
        }
        return failures.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }

    public func activate(uuid: String, interface: String) throws(BusError) -> NMActivation {
        let device: String
        do throws(BusError) {
            device = try objectPath("GetDeviceByIpIface", call(Self.managerPath, Self.service, "GetDeviceByIpIface", [.string(interface)]))
        } catch where error.remoteName == Self.service + ".UnknownDevice" {
            return .noDevice
        }
        guard try waitManaged(device) else { return .unmanaged }
        let connection = try objectPath("GetConnectionByUuid",
                                         call(Self.settingsPath, Self.settingsInterface, "GetConnectionByUuid", [.string(uuid)]))
        let active = try property(device, Self.deviceInterface, "ActiveConnection")
        if active != "/", (try? property(active, Self.activeInterface, "Connection")) == connection {
            // The active connection may end between the two reads: then it is not ours to reapply.
            do throws(BusError) {
                // An empty connection: the settings-connection as now loaded; version 0: no check.
                _ = try call(device, Self.deviceInterface, "Reapply",
                             [.array(element: "{sa{sv}}", []), .uint64(0), .uint32(0)])
                return .reapplied
            } catch where error.remoteName == Self.deviceInterface + ".IncompatibleConnection" {
                // A change Reapply cannot make (NetworkManager names it): activate again instead.
            }
        }
        let reply = try objectPath("ActivateConnection", call(Self.managerPath, Self.service, "ActivateConnection",
                                                              [.objectPath(connection), .objectPath(device), .objectPath("/")]))
        return .activated(reply)
    }

    /// Polls the device's `State` until NetworkManager manages it (true) or `managedWait` has
    /// passed (false).
    private func waitManaged(_ device: String) throws(BusError) -> Bool {
        let end = ContinuousClock.now + managedWait
        while true {
            let reply = try call(device, Self.propertiesInterface, "Get", [.string(Self.deviceInterface), .string("State")])
            guard reply.count == 1, case .variant(.uint32(let state)) = reply[0] else { throw unexpected("Get State", reply, "v(u)") }
            if state != Self.unmanagedState { return true }
            guard ContinuousClock.now + .milliseconds(Self.managedPollMilliseconds) < end else { return false }
            _ = poll(nil, 0, Self.managedPollMilliseconds)
        }
    }

    /// A call whose error names the method (an operator reads which step failed).
    private func call(_ path: String, _ interface: String, _ member: String, _ arguments: [DBusValue]) throws(BusError) -> [DBusValue] {
        do throws(BusError) {
            return try bus.call(destination: Self.service, path: path, interface: interface, member: member, arguments)
        } catch { throw error.naming(member) }
    }

    /// An object path property (`Properties.Get`, a variant holding `o`).
    private func property(_ object: String, _ interface: String, _ name: String) throws(BusError) -> String {
        let reply = try call(object, Self.propertiesInterface, "Get", [.string(interface), .string(name)])
        guard reply.count == 1, case .variant(.objectPath(let p)) = reply[0] else { throw unexpected("Get \(name)", reply, "v(o)") }
        return p
    }

    private func objectPath(_ member: String, _ reply: [DBusValue]) throws(BusError) -> String {
        guard reply.count == 1, case .objectPath(let p) = reply[0] else { throw unexpected(member, reply, "o") }
        return p
    }

    private func unexpected(_ member: String, _ reply: [DBusValue], _ expected: String) -> BusError {
        .transport("\(member) replied with signature '\(reply.map(\.signature).joined())', not '\(expected)'")
    }
}

/// systemd-networkd over the system bus.
public enum NetworkdBus {
    /// `networkctl reload`: networkd reads its `.network` files again and reconfigures the links
    /// whose file changed. Allowed to root.
    public static func reload(socketPath: String = BusConnection.systemSocket, timeout: Duration = .seconds(5)) throws(BusError) {
        let bus = try BusConnection(socketPath: socketPath, deadline: .now + timeout)
        do throws(BusError) {
            _ = try bus.call(destination: "org.freedesktop.network1", path: "/org/freedesktop/network1",
                             interface: "org.freedesktop.network1.Manager", member: "Reload", [])
        } catch { throw error.naming("Reload") }
    }
}
