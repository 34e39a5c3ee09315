internal import CNetlink
import ENIModel
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed netlink operation, naming the operation, the object and libnl's reason.
public struct NetlinkError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libnl's error classes that callers act on; everything else is `.other`.
    public enum Code: Equatable, Sendable {
        case exists, notFound, permission, noDevice, invalid, busy, other(Int32)
        /// A system call failed with this errno (not a libnl call).
        case errno(Int32)

        init(nle: Int32) {
            switch nle {
            case NLE_EXIST: self = .exists
            case NLE_OBJ_NOTFOUND, NLE_NOADDR: self = .notFound
            case NLE_PERM, NLE_NOACCESS: self = .permission
            case NLE_NODEV: self = .noDevice
            case NLE_INVAL, NLE_RANGE: self = .invalid
            case NLE_BUSY, NLE_AGAIN: self = .busy
            default: self = .other(nle)
            }
        }
    }

    public var operation: String
    public var object: String
    public var code: Code
    public var reason: String

    public var description: String { "\(operation) \(object): \(reason)" }

    /// A system call's failure, with its errno.
    static func call(_ operation: String, _ object: String, errno e: Int32) -> NetlinkError {
        NetlinkError(operation: operation, object: object, code: e == EPERM || e == EACCES ? .permission : .errno(e),
                     reason: String(cString: strerror(e)))
    }

    /// A libnl allocation that returned nothing.
    static func outOfMemory(_ operation: String, _ object: String, _ what: String) -> NetlinkError {
        NetlinkError(operation: operation, object: object, code: .other(NLE_NOMEM), reason: "\(what) failed: out of memory")
    }

    /// Wraps a libnl return value: negative is an error (`-NLE_*`).
    static func check(_ rc: Int32, _ operation: @autoclosure () -> String, _ object: @autoclosure () -> String) throws(NetlinkError) {
        guard rc < 0 else { return }
        throw NetlinkError(operation: operation(), object: object(), code: Code(nle: -rc), reason: String(cString: nl_geterror(rc)))
    }
}
