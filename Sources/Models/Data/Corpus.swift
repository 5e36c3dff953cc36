import Foundation
import Framework
#if canImport(Glibc)
import Glibc
#endif

/// A tokenized text corpus: the files a glob matches, one sentence per line, whitespace-separated tokens.
///
/// Files are read lazily, a line at a time (bounded memory on multi-GB shards); each epoch visits the
/// files in an order shuffled from the seed and the epoch number, so a position (epoch, file, byte
/// offset) is all a resumed run needs. Empty lines are kept: an empty sentence still has its `</S>`
/// (WikiText counts one end-of-line token per line, blank lines included).
public struct Corpus: Sendable, CustomStringConvertible {
    public let pattern: String
    public let files: [String]
    public let role: String

    /// Expands `pattern` (a path or a shell glob); `role` names it in errors ("--train-data-path").
    public init(glob pattern: String, role: String) throws {
        self.pattern = pattern
        self.role = role
        var matches = glob_t()
        defer { globfree(&matches) }
        let status = Glibc.glob(pattern, 0, nil, &matches)
        var files: [String] = []
        if status == 0 {
            for i in 0..<Int(matches.gl_pathc) {
                if let p = matches.gl_pathv[i] { files.append(String(cString: p)) }
            }
        }
        guard !files.isEmpty else { throw InputError("\(role) \(pattern): matches no file") }
        for file in files { try Files.requireRegularFile(file, role: "\(role) file") }
        self.files = files.sorted()
    }

    public var description: String { "\(role) \(pattern)" }

    /// The file order of `epoch`: sorted, then shuffled by a generator seeded from (seed, epoch).
    public func order(epoch: Int, seed: UInt64, shuffle: Bool) -> [Int] {
        var order = Array(files.indices)
        guard shuffle else { return order }
        var rng = SeededRandom(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
        rng.shuffle(&order)
        return order
    }

    /// Calls `body` with the tokens of every line of every file, in sorted file order.
    public func forEachSentence(_ body: ([String]) throws -> Void) throws {
        for file in files {
            let reader = try LineReader(path: file, role: "\(role) file")
            while let line = try reader.nextLine() { try body(line.tokens) }
        }
    }
}

/// Reads a text file line by line with `getline`, remembering the byte offset of the next line.
public final class LineReader {
    public let path: String
    let role: String
    private let file: UnsafeMutablePointer<FILE>
    private var buffer: UnsafeMutablePointer<CChar>? = nil
    private var capacity = 0
    public private(set) var offset: Int64
    public private(set) var lineNumber = 0

    public struct Line {
        public var tokens: [String]
        public var number: Int
    }

    public init(path: String, role: String, offset: Int64 = 0) throws {
        try Files.requireRegularFile(path, role: role)
        guard let file = fopen(path, "rb") else {
            throw InputError("\(role) \(path): cannot open (\(String(cString: strerror(errno)).lowercased()))")
        }
        self.file = file
        self.path = path
        self.role = role
        self.offset = offset
        if offset > 0, fseeko(file, off_t(offset), SEEK_SET) != 0 {
            fclose(file)
            throw InputError("\(role) \(path): cannot seek to byte \(offset)")
        }
    }

    deinit {
        fclose(file)
        free(buffer)
    }

    /// The next line split on ASCII whitespace, or nil at the end of the file.
    /// A line that is not UTF-8 (binary garbage, another encoding) is an input error naming the file and line.
    public func nextLine() throws -> Line? {
        guard let bytes = try nextRawLine() else { return nil }
        let length = bytes.count
        var tokens: [String] = []
        var start = -1
        for i in 0...length {
            let isSpace = i == length || bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A
                || bytes[i] == 0x0D || bytes[i] == 0x0B || bytes[i] == 0x0C
            if isSpace {
                if start >= 0 {
                    guard let token = String(validatingUTF8Bytes: UnsafeBufferPointer(rebasing: bytes[start..<i])) else {
                        throw InputError("\(role) \(path) line \(lineNumber): not valid UTF-8 text")
                    }
                    tokens.append(token)
                    start = -1
                }
            } else if start < 0 {
                start = i
            }
        }
        return Line(tokens: tokens, number: lineNumber)
    }

    /// The next line as text, without its `\n` (and a `\r` before it), or nil at the end of the file.
    /// Only `\n` ends a line: U+0085 and U+2028 inside a line stay text.
    public func nextText() throws -> String? {
        guard var bytes = try nextRawLine() else { return nil }
        if bytes.last == 0x0A { bytes = UnsafeBufferPointer(rebasing: bytes.dropLast()) }
        if bytes.last == 0x0D { bytes = UnsafeBufferPointer(rebasing: bytes.dropLast()) }
        guard let text = String(validatingUTF8Bytes: bytes) else {
            throw InputError("\(role) \(path) line \(lineNumber): not valid UTF-8 text")
        }
        return text
    }

    /// The next line's bytes (valid until the next read), its `\n` included; NUL bytes are an input error.
    private func nextRawLine() throws -> UnsafeBufferPointer<UInt8>? {
        let length = getline(&buffer, &capacity, file)
        guard length >= 0 else {
            if ferror(file) != 0 { throw RuntimeFailure("\(role) \(path): read error after byte \(offset)") }
            return nil
        }
        offset += Int64(length)
        lineNumber += 1
        if memchr(buffer!, 0, length) != nil {
            throw InputError("\(role) \(path) line \(lineNumber): contains NUL bytes (a binary file?)")
        }
        return UnsafeRawBufferPointer(start: buffer, count: length).bindMemory(to: UInt8.self)
    }
}
