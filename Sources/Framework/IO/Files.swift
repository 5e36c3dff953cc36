import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File access with errors a user can act on: every failure names the file, what it was being
/// read as, and what is wrong with it.
public enum Files {
    /// Checks that `path` names a readable regular file; `role` says what it is ("vocab file").
    public static func requireRegularFile(_ path: String, role: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw InputError("\(role) \(path): \(String(cString: strerror(errno)).lowercased())")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw InputError("\(role) \(path): is a directory, expected a file")
        }
        guard access(path, R_OK) == 0 else {
            throw InputError("\(role) \(path): not readable (\(String(cString: strerror(errno)).lowercased()))")
        }
    }

    /// The whole file as bytes.
    public static func readBytes(_ path: String, role: String) throws -> [UInt8] {
        try requireRegularFile(path, role: role)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw InputError("\(role) \(path): cannot open")
        }
        defer { try? handle.close() }
        do {
            let data = try handle.readToEnd() ?? Data()
            return [UInt8](data)
        } catch {
            throw InputError("\(role) \(path): read failed (\(error.localizedDescription))")
        }
    }

    /// Writes `bytes` so that `path` holds either its old content or all of the new one, never a
    /// part: write a temporary file beside it, flush it to disk, rename it over `path`, then flush
    /// the directory entry.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        try writeAtomically(to: path) { append in try bytes.withUnsafeBytes { try append($0) } }
    }

    /// The same, for output too large to hold: `body` streams it through the `append` it is given.
    public static func writeAtomically(to path: String, _ body: (_ append: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RuntimeFailure("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        var ok = false
        defer {
            if !ok { close(fd); unlink(temporary) }
        }
        try body { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw RuntimeFailure("cannot write \(temporary): \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
        guard fsync(fd) == 0 else { throw RuntimeFailure("cannot flush \(temporary): \(String(cString: strerror(errno)))") }
        ok = true
        guard close(fd) == 0 else {
            unlink(temporary)
            throw RuntimeFailure("cannot close \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw RuntimeFailure("cannot rename \(temporary) to \(path): \(reason)")
        }
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 { _ = fsync(dirfd); close(dirfd) }
    }

    /// Writes all of `bytes` to descriptor `fd` at `offset` (retrying short and interrupted writes); `path` names
    /// the file in the error, `advice` follows it.
    public static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, at offset: Int64, path: String, advice: String = "") throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw RuntimeFailure("cannot write \(path): \(String(cString: strerror(errno)))\(advice)")
            }
            done += n
        }
    }

    /// Fills `bytes` from descriptor `fd` at `offset`; a file that ends first is an error naming `path`.
    public static func readAll(into bytes: UnsafeMutableRawBufferPointer, from fd: Int32, at offset: Int64, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pread(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RuntimeFailure("cannot read \(path): \(n < 0 ? String(cString: strerror(errno)) : "the file ends early")") }
            done += n
        }
    }

    /// Creates the directory an output file `path` goes in, if missing (`role` names the flag in errors).
    public static func ensureParentDirectory(of path: String, role: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try ensureDirectory(directory.isEmpty ? "." : directory, role: "\(role) directory")
    }

    /// Creates `path` and its parents if missing; an existing non-directory there is an input error.
    public static func ensureDirectory(_ path: String, role: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw InputError("\(role) \(path): exists and is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw InputError("\(role) \(path): cannot create directory (\(error.localizedDescription))")
        }
    }
}

/// Minimal JSON text helpers for files whose key order and formatting we control.
public enum JSONText {
    /// `s` as a JSON string literal, escaping quotes, backslashes and control characters.
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{FEFF}": out += "\\ufeff"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A tensor's floats as nested JSON arrays, one level per dimension, each float in its shortest round-trip text
    /// (a reader that parses them back to float32 gets the same bits). Written straight into one buffer sized for the
    /// worst case: a String or Array per float cost as much again as formatting it (`elmo serve`'s answers, `.jsonl`).
    public static func nestedArray(_ t: Tensor<Float>) -> [UInt8] {
        // Every float takes at most `longestFloat` bytes and a comma; every array two brackets and a comma.
        let arrays = t.shape.dropLast().indices.reduce(1) { $0 + t.shape[...$1].reduce(1, *) }
        let capacity = max(t.scalars.count, 1) * (longestFloat + 1) + arrays * 3
        return [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            var writer = ByteWriter(buffer: buffer)
            t.withUnsafeBufferPointer { values in
                if t.shape.isEmpty { writer.append(float: values[0]) } else { nested(values, shape: t.shape[...], into: &writer) }
            }
            count = writer.count
        }
    }

    /// The longest text `Float.description` gives a finite float: sign, nine digits, point and a two-digit exponent
    /// ("-1.00303895e-36"; checked over every 9,973rd bit pattern).
    public static let longestFloat = 15

    private static func nested(_ values: UnsafeBufferPointer<Float>, shape: ArraySlice<Int>, into writer: inout ByteWriter) {
        writer.append(byte: 0x5B)
        if shape.count == 1 {
            for (i, value) in values.enumerated() {
                if i > 0 { writer.append(byte: 0x2C) }
                writer.append(float: value)
            }
        } else {
            let stride = shape.dropFirst().reduce(1, *)
            for i in 0..<shape.first! {
                if i > 0 { writer.append(byte: 0x2C) }
                nested(UnsafeBufferPointer(rebasing: values[(i * stride)..<((i + 1) * stride)]), shape: shape.dropFirst(), into: &writer)
            }
        }
        writer.append(byte: 0x5D)
    }

    /// Appends bytes to a buffer whose size was computed beforehand; running past it is a programming error.
    private struct ByteWriter {
        let buffer: UnsafeMutableBufferPointer<UInt8>
        private(set) var count = 0

        init(buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

        mutating func append(byte: UInt8) {
            precondition(count < buffer.count, "ByteWriter: the buffer of \(buffer.count) bytes is full")
            buffer[count] = byte
            count += 1
        }

        /// The float's shortest round-trip text (a small String: no allocation).
        mutating func append(float value: Float) {
            var text = value.description
            text.withUTF8 { bytes in
                precondition(count + bytes.count <= buffer.count, "ByteWriter: \(bytes.count) bytes do not fit in the \(buffer.count - count) left")
                (buffer.baseAddress! + count).update(from: bytes.baseAddress!, count: bytes.count)
                count += bytes.count
            }
        }
    }

    /// A finite number as JSON (non-finite values become `null`, which JSON cannot otherwise hold).
    public static func number(_ x: Double) -> String {
        guard x.isFinite else { return "null" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    /// Whether a JSONSerialization value is a JSON boolean (on Linux any NSNumber also casts to Bool).
    public static func isBoolean(_ value: Any) -> Bool {
        String(describing: type(of: value)).contains("Boolean") || type(of: value) == Bool.self
    }

    /// Foundation's JSON reader on Linux drops a raw U+FEFF inside strings (WikiText has it as a token):
    /// spell it as the escape `\ufeff`, which means the same JSON.
    static func escapingByteOrderMarks(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 3 else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if i + 2 < bytes.count, bytes[i] == 0xEF, bytes[i + 1] == 0xBB, bytes[i + 2] == 0xBF {
                out += Array("\\ufeff".utf8)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// Parses a JSON object, or throws an input error naming `source`.
    public static func parseObject(_ bytes: [UInt8], source: String) throws -> [String: Any] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(escapingByteOrderMarks(bytes)), options: [])
        } catch {
            throw InputError("\(source): not valid JSON")
        }
        guard let object = value as? [String: Any] else { throw InputError("\(source): JSON is not an object") }
        return object
    }
}
