import Foundation
import Framework
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP/1.1 server for one file, honouring `Range: bytes=N-`; it can cut its first
/// response after `cutAfter` bytes to simulate a dropped connection.
final class LoopbackServer: @unchecked Sendable {
    let body: [UInt8]
    var cutAfter: Int?
    private(set) var port: UInt16 = 0
    private(set) var ranges: [String] = []
    private let socketFD: Int32

    init(body: [UInt8], cutAfter: Int?) throws {
        self.body = body
        self.cutAfter = cutAfter
        socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(socketFD, $0, length) == 0, listen(socketFD, 8) == 0, getsockname(socketFD, $0, &length) == 0 else {
                    throw RuntimeFailure("loopback server: cannot listen")
                }
            }
        }
        port = UInt16(bigEndian: address.sin_port)
        Thread { [self] in serve() }.start()
    }

    deinit { close(socketFD) }

    private func serve() {
        while true {
            let client = accept(socketFD, nil, nil)
            guard client >= 0 else { return }
            var request = [UInt8](repeating: 0, count: 4096)
            let n = recv(client, &request, request.count, 0)
            let text = String(decoding: request.prefix(max(n, 0)), as: UTF8.self)
            var start = 0
            if let line = text.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("range: bytes=") }) {
                start = Int(line.dropFirst("range: bytes=".count).split(separator: "-").first ?? "0") ?? 0
                ranges.append(String(line))
            }
            let slice = Array(body[start...])
            var header = start > 0 ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n"
            header += "Content-Length: \(slice.count)\r\nConnection: close\r\n"
            if start > 0 { header += "Content-Range: bytes \(start)-\(body.count - 1)/\(body.count)\r\n" }
            header += "\r\n"
            _ = header.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            let count = cutAfter.map { min($0, slice.count) } ?? slice.count
            cutAfter = nil
            _ = slice.withUnsafeBytes { send(client, $0.baseAddress!, count, Int32(MSG_NOSIGNAL)) }
            close(client)
        }
    }
}

@Suite("elmo data fetch / verify against a loopback server", .serialized)
struct DataFetchTests {
    /// `folder` (inside `directory`) packed as a .tar.gz at `path`, like the published archives; returns its bytes.
    static func tarGz(_ directory: String, _ folder: String, to path: String) throws -> [UInt8] {
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-czf", path, "-C", directory, folder]
        try tar.run()
        tar.waitUntilExit()
        return try Files.readBytes(path, role: "test")
    }

    @Test func checksums() {
        var sha = SHA256Digest()
        sha.update(Array("abc".utf8))
        #expect(sha.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var long = SHA256Digest()
        long.update(Array(repeating: UInt8(ascii: "a"), count: 1000))
        #expect(long.hexDigest() == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
        var md5 = MD5Digest()
        md5.update(Array("The quick brown fox jumps over the lazy dog".utf8))
        #expect(md5.hexDigest() == "9e107d9d372bb6826bd81d3542a419d6")
    }

    @Test func resumesVerifiesAndExtracts() throws {
        let d = RepositoryPaths.temporaryDirectory("fetch")
        // A small tar.gz like the published archives.
        try FileManager.default.createDirectory(atPath: "\(d)/src/set", withIntermediateDirectories: true)
        var text = ""
        for i in 0..<3000 { text += "sentence number \(i) of the test set\n" }
        try text.write(toFile: "\(d)/src/set/corpus.txt", atomically: true, encoding: .utf8)
        let archive = try Self.tarGz("\(d)/src", "set", to: "\(d)/set.tar.gz")
        var digest = SHA256Digest()
        digest.update(archive)
        let sha = digest.hexDigest()

        let server = try LoopbackServer(body: archive, cutAfter: archive.count / 3)
        let url = "http://127.0.0.1:\(server.port)/set.tar.gz"
        let target = "\(d)/downloads"
        // First attempt: the connection drops; a part file stays and the error says to run again.
        let first = try BadInputTests.run(["data", "fetch", "--url", url, "--sha256", sha, "--dir", target])
        #expect(first.status == 1, "\(first.stderr)")
        #expect(first.stderr.contains("run the same command again"))
        let partSize = (try FileManager.default.attributesOfItem(atPath: "\(target)/set.tar.gz.part")[.size] as? Int) ?? 0
        #expect(partSize == archive.count / 3)
        // Second attempt resumes with a Range request, verifies and extracts.
        let second = try BadInputTests.run(["data", "fetch", "--url", url, "--sha256", sha, "--dir", target])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(server.ranges == ["Range: bytes=\(archive.count / 3)-"] || server.ranges == ["range: bytes=\(archive.count / 3)-"])
        #expect(try String(contentsOfFile: "\(target)/set/corpus.txt", encoding: .utf8) == text)
        let verify = try BadInputTests.run(["data", "verify", "--url", url, "--sha256", sha, "--dir", target])
        #expect(verify.status == 0, "\(verify.stderr)")
        // A damaged archive fails verification with one line naming it.
        var damaged = archive
        damaged[damaged.count / 2] ^= 0xFF
        #expect(FileManager.default.createFile(atPath: "\(target)/set.tar.gz", contents: Data(damaged)))
        try BadInputTests.expectRejected(["data", "verify", "--url", url, "--sha256", sha, "--dir", target],
                                         mentions: ["set.tar.gz", "sha256", "expected \(sha)"])
        try BadInputTests.expectRejected(["data", "fetch", "enwik9"], mentions: ["enwik9", "rt-polarity, googlenews, 1b-word, imdb"])
    }
    @Test func fetchesIMDBAndWritesOneReviewPerLine() throws {
        let d = RepositoryPaths.temporaryDirectory("fetch-imdb")
        for folder in ["train/pos", "train/neg", "train/unsup", "test/pos", "test/neg"] {
            try FileManager.default.createDirectory(atPath: "\(d)/src/aclImdb/\(folder)", withIntermediateDirectories: true)
            try "A review in \(folder).\nSecond line.".write(toFile: "\(d)/src/aclImdb/\(folder)/0_7.txt", atomically: true, encoding: .utf8)
        }
        let archive = try Self.tarGz("\(d)/src", "aclImdb", to: "\(d)/aclImdb_v1.tar.gz")
        var md5 = MD5Digest()
        md5.update(archive)
        let server = try LoopbackServer(body: archive, cutAfter: nil)
        let url = "http://127.0.0.1:\(server.port)/aclImdb_v1.tar.gz"
        // The published checksum is checked by default: this small archive fails it, naming both sums.
        let wrong = try BadInputTests.run(["data", "fetch", "imdb", "--url", url, "--dir", "\(d)/wrong"])
        #expect(wrong.status == 2 && wrong.stderr.split(separator: "\n").last?.contains("expected 7c2ac02c03563afcf9b574c7e56c153a") == true,
                "\(wrong.stderr)")
        let fetched = try BadInputTests.run(["data", "fetch", "imdb", "--url", url, "--md5", md5.hexDigest(), "--dir", "\(d)/downloads"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(try String(contentsOfFile: "\(d)/downloads/imdb/train_unsup.txt", encoding: .utf8) == "A review in train/unsup. Second line.\n")
        #expect(try String(contentsOfFile: "\(d)/downloads/imdb/test_neg.ids", encoding: .utf8) == "0_7.txt\n")
    }
}
