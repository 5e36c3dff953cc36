import Foundation
import Framework
import Testing
import TestSupport

@Suite("safetensors")
struct SafeTensorsTests {
    static let pythonFixture = RepositoryPaths.path("Tests/Golden/Resources/python-written.safetensors")

    func sample() -> SafeTensors {
        var file = SafeTensors(metadata: ["options": "{\"lstm\": {\"dim\": 4}}", "note": "tab\there"])
        file["a"] = StoredTensor(Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, -6.5]))
        file["b.double"] = StoredTensor(Tensor<Double>(shape: [1], scalars: [.pi]))
        file["step"] = StoredTensor(int64: [42], shape: [])
        file["rng"] = StoredTensor(uint64: [1, UInt64.max, 3, 4])
        return file
    }

    /// WikiText contains U+FEFF as a token; Foundation's JSON reader drops it when raw.
    @Test func metadataKeepsByteOrderMarks() throws {
        let text = "a\n\u{FEFF}\nb"
        var file = SafeTensors(metadata: ["vocab": text])
        file["x"] = StoredTensor(Tensor<Float>(shape: [1], scalars: [1]))
        #expect(try SafeTensors.parse(file.serialized(), source: "t").metadata["vocab"] == text)
        // A file that holds the raw bytes (as written before the escape) reads back too.
        let raw = Array("{\"__metadata__\": {\"v\": \"x\u{FEFF}y\"}}".utf8)
        var bytes: [UInt8] = (0..<8).map { UInt8((raw.count >> (8 * $0)) & 0xFF) }
        bytes += raw
        #expect(try SafeTensors.parse(bytes, source: "t").metadata["v"] == "x\u{FEFF}y")
    }

    @Test func roundTripIsExactAndHeaderAligned() throws {
        let original = sample()
        let bytes = original.serialized()
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        #expect(headerLength % 8 == 0)
        let parsed = try SafeTensors.parse(bytes, source: "memory")
        #expect(parsed.names == ["a", "b.double", "step", "rng"])
        #expect(parsed.metadata == original.metadata)
        for name in original.names { #expect(parsed[name] == original[name], "\(name)") }
        #expect(try parsed["a"]!.floatingPoint(Float.self, name: "a", source: "m").scalars == [1, 2, 3, 4, 5, -6.5])
        #expect(try parsed["step"]!.integers(name: "step", source: "m") == [42])
        #expect(try parsed["rng"]!.words(name: "rng", source: "m") == [1, UInt64.max, 3, 4])
    }

    @Test func readsAFileWrittenByPythonSafetensors() throws {
        let file = try SafeTensors.read(path: Self.pythonFixture)
        #expect(file.metadata["format"] == "pt")
        #expect(file.metadata["note"] == "ünïcödé \"quoted\"\nnewline")
        let f32 = try file["weights.f32"]!.floatingPoint(Float.self, name: "", source: "")
        #expect(f32.shape == [3, 4])
        #expect(f32.scalars == (0..<12).map { Float($0) / 8 - 0.75 })
        let f64 = try file["weights.f64"]!.floatingPoint(Double.self, name: "", source: "")
        #expect(f64.shape == [2, 3] && f64.scalars == (0..<6).map { Double($0) * 1e-3 + .pi })
        let half = try file["half.f16"]!.floatingPoint(Float.self, name: "", source: "")
        #expect(half.scalars == [0.5, -2, 65504, 6.1035156e-05])
        #expect(try file["step"]!.integers(name: "", source: "") == [1_234_567_890_123] && file["step"]!.shape == [])
        #expect(try file["ids.i32"]!.integers(name: "", source: "") == [-1, 0, 7, 2_147_483_647])
        #expect(file["empty"]!.shape == [0, 5] && file["empty"]!.bytes.isEmpty)
    }

    @Test func writesAtomicallyAndReadsBack() throws {
        let dir = RepositoryPaths.temporaryDirectory("safetensors")
        let path = "\(dir)/x.safetensors"
        try sample().write(to: path)
        let back = try SafeTensors.read(path: path)
        #expect(back["a"] == sample()["a"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(leftovers == ["x.safetensors"])
    }

    /// A header of `json` followed by `data` bytes.
    func file(_ json: String, data: [UInt8] = [], declaredLength: Int? = nil) -> [UInt8] {
        let header = Array(json.utf8)
        let n = declaredLength ?? header.count
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + header + data
    }

    func expectRejected(_ bytes: [UInt8], mentioning fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SafeTensors.parse(bytes, source: "bad.safetensors")
            Issue.record("accepted a bad file (expected: \(fragment))", sourceLocation: sourceLocation)
        } catch let error as InputError {
            #expect(error.message.hasPrefix("bad.safetensors: "), sourceLocation: sourceLocation)
            #expect(error.message.contains(fragment), "\(error.message)", sourceLocation: sourceLocation)
            #expect(!error.message.contains("\n"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func hostileFilesGiveOneLineErrors() {
        let good = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let eight = [UInt8](repeating: 0, count: 8)
        expectRejected([1, 2, 3], mentioning: "too short")
        expectRejected(file(good, data: eight, declaredLength: 10_000), mentioning: "runs past the end")
        expectRejected(file(good, data: eight, declaredLength: 200_000_000), mentioning: "exceeds")
        expectRejected(file("not json at all", data: eight), mentioning: "not valid JSON")
        expectRejected(file("[1,2]"), mentioning: "not an object")
        expectRejected(file(#"{"t":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}"#, data: eight), mentioning: "unknown dtype F99")
        expectRejected(file(#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight), mentioning: "needs 12 bytes, offsets give 8")
        expectRejected(file(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, data: eight), mentioning: "outside the 8-byte data section")
        expectRejected(file(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: eight), mentioning: "outside")
        expectRejected(file(#"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight), mentioning: "invalid dimension")
        expectRejected(file(#"{"t":{"dtype":"F32","shape":[2]}}"#, data: eight), mentioning: "data_offsets")
        expectRejected(
            file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                 data: [UInt8](repeating: 0, count: 12)), mentioning: "overlaps")
        expectRejected(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), mentioning: "gap before tensor a")
        expectRejected(file(good, data: eight + [0]), mentioning: "tensors cover 8")
        expectRejected(file(#"{"__metadata__":{"k":5}}"#), mentioning: "not a string")
        expectRejected(
            file(#"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: eight),
            mentioning: "overflows")
        // Truncation of a valid file anywhere is caught.
        let valid = sample().serialized()
        for cut in [4, 20, valid.count - 1] {
            #expect(throws: InputError.self) { try SafeTensors.parse(Array(valid.prefix(cut)), source: "cut") }
        }
    }

    @Test func missingAndDirectoryPathsAreInputErrors() {
        #expect(throws: InputError("checkpoint /nonexistent/x.safetensors: no such file or directory")) {
            try SafeTensors.read(path: "/nonexistent/x.safetensors", role: "checkpoint")
        }
        #expect(throws: InputError("checkpoint /tmp: is a directory, expected a file")) {
            try SafeTensors.read(path: "/tmp", role: "checkpoint")
        }
    }

    @Test func integerTensorsAreNotFloats() {
        let t = StoredTensor(int64: [1, 2])
        #expect(throws: InputError("f: tensor n has dtype I64, expected a floating-point dtype")) {
            try t.floatingPoint(Float.self, name: "n", source: "f")
        }
    }
}
