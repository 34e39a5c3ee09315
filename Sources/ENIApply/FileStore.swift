import ENIModel
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed file operation, naming the operation, the path and the system's reason.
public struct FileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var reason: String
    /// The system's error number, when a system call failed.
    public var errno: Int32?
    public init(_ operation: String, _ path: String, _ reason: String) {
        self.operation = operation; self.path = path; self.reason = reason
    }
    init(_ operation: String, _ path: String, errno e: Int32) {
        self.init(operation, path, Errno(rawValue: e).description)
        self.errno = e
    }
    public var description: String { "\(operation) \(path): \(reason)" }
}

/// Files below a root prefix. Every path below the root is walked one component at a time with
/// `O_NOFOLLOW`: a symlink anywhere below the root is never followed, for reading or writing.
/// Writes are atomic: a temp file in the same directory, fsync, rename, fsync of the directory.
public struct FileStore: Sendable {
    /// The prefix (`--root`); `/` on a real system.
    public let root: String
    public init(root: String) { self.root = root }

    /// The path on this machine for a target-system path.
    public func hostPath(_ path: String) -> String {
        root == "/" ? path : (root.hasSuffix("/") ? String(root.dropLast()) : root) + path
    }

    /// Components of an absolute target path: (directories, file name).
    private func split(_ path: String) throws(FileError) -> ([String], String) {
        let parts = path.split(separator: "/").map(String.init)
        guard path.hasPrefix("/"), let name = parts.last, !parts.contains(".."), !parts.contains(".") else {
            throw FileError("resolve", path, "not a clean absolute path")
        }
        return (Array(parts.dropLast()), name)
    }

    /// Opens the directory `components` below the root without following symlinks.
    /// Returns nil when it does not exist and `create` is false.
    private func openDirectory(_ components: [String], create: Bool, for path: String) throws(FileError) -> Int32? {
        var fd = Glibc.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        // A root that does not exist holds nothing to read (a test's runtime-only root).
        if fd < 0, errno == ENOENT, !create { return nil }
        guard fd >= 0 else { throw FileError("open", root, errno: errno) }
        for c in components {
            var next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, create {
                if mkdirat(fd, c, 0o755) < 0, errno != EEXIST {
                    let e = errno; close(fd); throw FileError("create directory for", hostPath(path), errno: e)
                }
                next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let e = errno
            close(fd)
            if next < 0 {
                if e == ENOENT { return nil }
                if e == ELOOP || e == ENOTDIR {
                    throw FileError("open", hostPath(path), "a directory on the way (\(c)) is a symlink or not a directory; not followed")
                }
                throw FileError("open", hostPath(path), errno: e)
            }
            fd = next
        }
        return fd
    }

    /// Reads a whole regular file (following nothing special: for input files named by the
    /// operator, and /proc/sys). Anything else (a FIFO, a directory, a device, a socket) is an
    /// error naming its kind: it is never opened for a blocking read, so a FIFO cannot hang a run.
    public static func readFile(atPath path: String, limit: Int) throws(FileError) -> [UInt8] {
        // Refuse what is not a regular file before opening it (opening a device may do something);
        // the descriptor is checked again below, as the path may change in between.
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileError("read", path, errno: errno) }
        try requireRegular(st, path)
        // O_NONBLOCK: opening a FIFO for reading would otherwise block until a writer comes.
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("read", path, errno: errno) }
        defer { close(fd) }
        guard fstat(fd, &st) == 0 else { throw FileError("read", path, errno: errno) }
        try requireRegular(st, path)
        return try readAll(fd, path: path, limit: limit)
    }

    private static func requireRegular(_ st: stat, _ path: String) throws(FileError) {
        let kind: String
        switch st.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFIFO: kind = "a FIFO"
        case S_IFDIR: kind = "a directory"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "of file type 0o\(String(st.st_mode & S_IFMT, radix: 8))"
        }
        throw FileError("read", path, "\(kind), not a regular file")
    }

    private static func readAll(_ fd: Int32, path: String, limit: Int) throws(FileError) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n: Int
            do { n = try buf.withUnsafeMutableBytes { try FileDescriptor(rawValue: fd).read(into: $0) } } catch {
                throw FileError("read", path, errno: (error as? Errno)?.rawValue ?? EIO)
            }
            if n == 0 { return out }
            out += buf[..<n]
            if out.count > limit { throw FileError("read", path, "larger than \(limit) bytes") }
        }
    }

    /// Reads the file at `name` in an open directory; nil when absent.
    private func observe(dir: Int32, name: String, path: String) throws(FileError) -> ObservedFile? {
        var st = stat()
        if fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 {
            if errno == ENOENT { return nil }
            throw FileError("stat", hostPath(path), errno: errno)
        }
        switch st.st_mode & S_IFMT {
        case S_IFLNK: return ObservedFile(.symlink)
        case S_IFREG:
            let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw FileError("read", hostPath(path), errno: errno) }
            defer { close(fd) }
            let bytes = try Self.readAll(fd, path: hostPath(path), limit: 1 << 20)
            return ObservedFile(.regular(content: String(decoding: bytes, as: UTF8.self)), mode: UInt16(st.st_mode & 0o7777))
        default: return ObservedFile(.other)
        }
    }

    /// The files in `directories` (every entry) and the single `files`, keyed by target path, with
    /// the temporary files that writes of them left behind (a run that died mid-write).
    public func observe(directories: [String], files: [String]) throws(FileError) -> [String: ObservedFile] {
        var out: [String: ObservedFile] = [:]
        for d in directories {
            let (comps, last) = try split(d)
            guard let fd = try openDirectory(comps + [last], create: false, for: d) else { continue }
            defer { close(fd) }
            let names = try Self.names(inDirectory: fd, path: hostPath(d))
            for n in names {
                let p = d + "/" + n
                if let f = try observe(dir: fd, name: n, path: p) { out[p] = f }
            }
        }
        for p in files {
            let (comps, name) = try split(p)
            guard let fd = try openDirectory(comps, create: false, for: p) else { continue }
            defer { close(fd) }
            if let f = try observe(dir: fd, name: name, path: p) { out[p] = f }
            let tmp = FileMarker.temporaryName(name)
            let tp = String(p.dropLast(name.count)) + tmp
            if let f = try observe(dir: fd, name: tmp, path: tp) { out[tp] = f }
        }
        return out
    }

    /// The names in the directory open at `fd` (not `.` or `..`), sorted; `fd` stays open.
    static func names(inDirectory fd: Int32, path: String) throws(FileError) -> [String] {
        let dup = Glibc.dup(fd)
        guard dup >= 0, let dir = fdopendir(dup) else { throw FileError("list", path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Writes `content` to `path` atomically with `mode` (0644 unless the renderer says otherwise:
    /// NetworkManager's keyfiles are 0600), creating parent directories (0755). The file has its
    /// mode from its creation on: a 0600 file is never readable by others, even for a moment.
    /// A symlink at `path` is replaced, never written through.
    public func write(_ content: String, to path: String, mode: UInt16 = FileMarker.defaultMode) throws(FileError) {
        let (comps, name) = try split(path)
        guard let dir = try openDirectory(comps, create: true, for: path) else {
            throw FileError("write", hostPath(path), "parent directory missing")
        }
        defer { close(dir) }
        let tmp = FileMarker.temporaryName(name)
        _ = unlinkat(dir, tmp, 0)  // a leftover of a run that died
        let fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode & 0o777))
        guard fd >= 0 else { throw FileError("write", hostPath(path), errno: errno) }
        var ok = false
        defer { if !ok { _ = unlinkat(dir, tmp, 0) } }
        do {
            defer { close(fd) }
            // The umask may have taken bits away at creation.
            guard fchmod(fd, mode_t(mode)) == 0 else { throw FileError("chmod", hostPath(path), errno: errno) }
            do { _ = try FileDescriptor(rawValue: fd).writeAll(content.utf8) } catch {
                throw FileError("write", hostPath(path), errno: (error as? Errno)?.rawValue ?? EIO)
            }
            guard fsync(fd) == 0 else { throw FileError("fsync", hostPath(path), errno: errno) }
        }
        guard renameat(dir, tmp, dir, name) == 0 else { throw FileError("rename into", hostPath(path), errno: errno) }
        ok = true
        guard fsync(dir) == 0 else { throw FileError("fsync directory of", hostPath(path), errno: errno) }
    }

    /// A regular file at `path` below the root (no symlink followed, on the way or at the end).
    public func isRegularFile(_ path: String) -> Bool {
        guard let (comps, name) = try? split(path), let fd = try? openDirectory(comps, create: false, for: path) else { return false }
        defer { close(fd) }
        var st = stat()
        return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFREG
    }

    /// A directory at `path` below the root (no symlink followed on the way).
    public func isDirectory(_ path: String) -> Bool {
        guard let (comps, last) = try? split(path), let fd = try? openDirectory(comps + [last], create: false, for: path) else {
            return false
        }
        close(fd)
        return true
    }

    /// Why the directory `path` (or, when missing, the nearest directory above it, where it would
    /// be created) cannot be written: a read-only file system (`ProtectSystem=strict` without the
    /// path among `ReadWritePaths=`), permissions; nil when it can.
    public func cannotWrite(_ path: String) -> String? {
        let parent = Self.parent(of:)
        var p = path
        while !p.isEmpty, !isDirectory(p) { p = parent(p) }
        var target = p.isEmpty ? root : hostPath(p)
        // A root that does not exist yet is created with the lock's directories: its nearest
        // existing ancestor is what must be writable.
        while p.isEmpty, target != "/", access(target, F_OK) != 0 {
            target = parent(target)
            if target.isEmpty { target = "/" }
        }
        guard access(target, W_OK) != 0 else { return nil }
        let e = errno
        return p == path ? Errno(rawValue: e).description : "\(p.isEmpty ? "/" : p): \(Errno(rawValue: e).description)"
    }

    /// `/a/b` -> `/a`; `/a` -> `` (the root).
    public static func parent(of path: String) -> String { String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }

    /// Opens the file at `path` for a lock, creating it (0600) and its missing directories (0755),
    /// following no symlink below the root: a lock cannot be made to land outside the root.
    public func openLockFile(_ path: String) throws(FileError) -> Int32 {
        let (comps, name) = try split(path)
        // The root itself is the operator's: created when missing, like the lock's directories.
        var dir = ""
        for c in root.split(separator: "/") {
            dir += "/" + c
            if mkdir(dir, 0o755) != 0, errno != EEXIST { throw FileError("create", dir, errno: errno) }
        }
        guard let dir = try openDirectory(comps, create: true, for: path) else {
            throw FileError("open lock", hostPath(path), "parent directory missing")
        }
        defer { close(dir) }
        let fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileError("open lock", hostPath(path), errno: errno) }
        return fd
    }

    /// Removes `path` (the entry itself; a symlink is not followed). Absent is fine.
    public func remove(_ path: String) throws(FileError) {
        let (comps, name) = try split(path)
        guard let dir = try openDirectory(comps, create: false, for: path) else { return }
        defer { close(dir) }
        if unlinkat(dir, name, 0) < 0, errno != ENOENT { throw FileError("remove", hostPath(path), errno: errno) }
        guard fsync(dir) == 0 else { throw FileError("fsync directory of", hostPath(path), errno: errno) }
    }
}

/// An exclusive lock on a file (`flock`), held until released or the process ends.
public final class RunLock {
    private let fd: Int32
    /// The lock's path on this machine, for messages.
    public let path: String

    /// Takes the lock at `path` below `files`' root, creating it and its directories without
    /// following a symlink; waits up to `timeoutSeconds` for another run to release it, then fails
    /// naming the path.
    public init(files: FileStore, path: String, timeoutSeconds: Int) throws(FileError) {
        self.path = files.hostPath(path)
        let fd = try files.openLockFile(path)
        var waitedMs = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let e = errno; close(fd); throw FileError("lock", self.path, errno: e)
            }
            guard waitedMs < timeoutSeconds * 1000 else {
                close(fd)
                throw FileError("lock", self.path, "another eni-agent run holds it (waited \(timeoutSeconds) s)")
            }
            usleep(20_000)
            waitedMs += 20
        }
        self.fd = fd
    }

    deinit { close(fd) }
}

/// Kernel parameters through /proc/sys (per network namespace for `net.*`). Never a subprocess.
public struct ProcSys: Sendable {
    public var base: String
    public init(base: String = "/proc/sys") { self.base = base }

    public func read(_ key: String) -> String? {
        guard let bytes = try? FileStore.readFile(atPath: base + "/" + SysctlSetting.procPath(key), limit: 4096) else { return nil }
        return String(decoding: bytes, as: UTF8.self).trimmingTrailingWhitespace
    }

    public func write(_ key: String, _ value: String) throws(FileError) {
        let path = base + "/" + SysctlSetting.procPath(key)
        let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("set", key, errno: errno) }
        defer { close(fd) }
        do { _ = try FileDescriptor(rawValue: fd).writeAll((value + "\n").utf8) } catch {
            throw FileError("set", key, errno: (error as? Errno)?.rawValue ?? EIO)
        }
    }
}

extension String {
    public var trimmingTrailingWhitespace: String {
        var s = Substring(self)
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
