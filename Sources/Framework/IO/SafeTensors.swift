import Foundation

#if _endian(big)
#error("safetensors data is little-endian; this reader assumes a little-endian host")
#endif

/// Element types of the safetensors format.
public enum DType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool: 1
        }
    }
}

/// One tensor of a safetensors file: dtype, shape and raw little-endian bytes.
public struct StoredTensor: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]

    public var elementCount: Int { shape.reduce(1, *) }

    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        precondition(shape.reduce(1, *) * dtype.byteSize == bytes.count, "tensor bytes do not match shape \(shape) × \(dtype)")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    public init<T: Scalar>(_ tensor: Tensor<T>) {
        self.init(dtype: T.dtype, shape: tensor.shape, values: tensor.scalars)
    }

    public init(int64 values: [Int64], shape: [Int]? = nil) {
        self.init(dtype: .i64, shape: shape ?? [values.count], values: values)
    }

    public init(uint64 values: [UInt64], shape: [Int]? = nil) {
        self.init(dtype: .u64, shape: shape ?? [values.count], values: values)
    }

    private init<V>(dtype: DType, shape: [Int], values: [V]) {
        precondition(MemoryLayout<V>.size == dtype.byteSize)
        self.init(dtype: dtype, shape: shape, bytes: values.withUnsafeBytes { [UInt8]($0) })
    }

    private func load<V>(_: V.Type) -> [V] {
        let n = elementCount
        return [V](unsafeUninitializedCapacity: n) { buffer, count in
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
            }
            count = n
        }
    }

    /// The values as floating-point scalars of type `T`, converting from any float dtype.
    /// Integer dtypes are an error (`name` and `source` go into its message).
    public func floatingPoint<T: Scalar>(_: T.Type = T.self, name: String, source: String) throws -> Tensor<T> {
        let values: [T]
        switch dtype {
        case .f32: values = load(Float.self).map { T($0) }
        case .f64: values = load(Double.self).map { T($0) }
        case .bf16: values = load(UInt16.self).map { T(Float(bitPattern: UInt32($0) << 16)) }
        case .f16: values = load(UInt16.self).map { T(Self.halfToFloat($0)) }
        default:
            throw InputError("\(source): tensor \(name) has dtype \(dtype.rawValue), expected a floating-point dtype")
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// The values as Int64 (from any integer dtype).
    public func integers(name: String, source: String) throws -> [Int64] {
        switch dtype {
        case .i64: return load(Int64.self)
        case .u64: return load(UInt64.self).map { Int64(bitPattern: $0) }
        case .i32: return load(Int32.self).map(Int64.init)
        case .u32: return load(UInt32.self).map(Int64.init)
        case .i16: return load(Int16.self).map(Int64.init)
        case .u16: return load(UInt16.self).map(Int64.init)
        case .i8: return load(Int8.self).map(Int64.init)
        case .u8, .bool: return load(UInt8.self).map(Int64.init)
        default:
            throw InputError("\(source): tensor \(name) has dtype \(dtype.rawValue), expected an integer dtype")
        }
    }

    /// The raw 64-bit words of a U64/I64 tensor (generator states and other bit patterns).
    public func words(name: String, source: String) throws -> [UInt64] {
        guard dtype == .u64 || dtype == .i64 else {
            throw InputError("\(source): tensor \(name) has dtype \(dtype.rawValue), expected U64")
        }
        return load(UInt64.self)
    }

    /// IEEE binary16 → binary32 without relying on `Float16` availability.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1.0p-24   // subnormal (or zero)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))   // inf / nan
        }
        return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }
}

/// The safetensors container (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length N, N bytes of JSON (`name → {dtype, shape, data_offsets}` plus an
/// optional `__metadata__` string map), then the tensor bytes, contiguous, in offset order.
///
/// Reading validates everything a damaged or hostile file could get wrong and reports it in one
/// line naming the file; writing is atomic (see ``Files/writeAtomically(_:to:)``).
public struct SafeTensors: Sendable {
    /// Tensors by name; ``names`` keeps file / insertion order.
    public private(set) var tensors: [String: StoredTensor] = [:]
    public private(set) var names: [String] = []
    public var metadata: [String: String] = [:]

    /// The largest header accepted (the reference implementation's limit).
    public static let maximumHeaderBytes = 100_000_000

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    public subscript(name: String) -> StoredTensor? {
        get { tensors[name] }
        set {
            if tensors[name] == nil, newValue != nil { names.append(name) }
            if newValue == nil { names.removeAll { $0 == name } }
            tensors[name] = newValue
        }
    }

    // MARK: Reading

    public static func read(path: String, role: String = "safetensors file") throws -> SafeTensors {
        try parse(Files.readBytes(path, role: role), source: "\(role) \(path)")
    }

    public static func parse(_ file: [UInt8], source: String) throws -> SafeTensors {
        func fail(_ what: String) -> InputError { InputError("\(source): \(what)") }
        guard file.count >= 8 else { throw fail("too short to be a safetensors file (\(file.count) bytes)") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(file[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(maximumHeaderBytes) else {
            throw fail("header length \(headerLength) exceeds the \(maximumHeaderBytes)-byte limit (not a safetensors file?)")
        }
        guard headerLength <= UInt64(file.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(file.count) bytes): truncated?")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = Array(file[8..<headerEnd])
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw fail("header is not UTF-8") }
        let header = try JSONText.parseObject(headerBytes, source: "\(source): header")
        let dataLength = file.count - headerEnd

        var result = SafeTensors()
        var spans: [(begin: Int, end: Int, name: String)] = []
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let map = entry as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, value) in map {
                    guard let text = value as? String else { throw fail("__metadata__ value for \(key) is not a string") }
                    result.metadata[key] = text
                }
                continue
            }
            guard let fields = entry as? [String: Any] else { throw fail("entry \(name) is not an object") }
            guard let dtypeName = fields["dtype"] as? String else { throw fail("tensor \(name) has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else { throw fail("tensor \(name) has unknown dtype \(dtypeName)") }
            guard let shapeValues = fields["shape"] as? [Any] else { throw fail("tensor \(name) has no shape") }
            var shape: [Int] = []
            var elements = 1
            for value in shapeValues {
                guard let d = exactInt(value), d >= 0 else { throw fail("tensor \(name) has an invalid dimension in its shape") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \(name) shape \(shapeValues) overflows") }
                elements = product
                shape.append(d)
            }
            guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
                  let begin = exactInt(offsets[0]), let end = exactInt(offsets[1])
            else { throw fail("tensor \(name) has no valid data_offsets") }
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail("tensor \(name) data_offsets [\(begin), \(end)] outside the \(dataLength)-byte data section")
            }
            let (bytesNeeded, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, bytesNeeded == end - begin else {
                throw fail("tensor \(name) of shape \(shape) and dtype \(dtypeName) needs \(overflow ? -1 : bytesNeeded) bytes, offsets give \(end - begin)")
            }
            spans.append((begin, end, name))
            result.tensors[name] = StoredTensor(
                dtype: dtype, shape: shape, bytes: Array(file[(headerEnd + begin)..<(headerEnd + end)]))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for span in spans {
            if span.begin < expected { throw fail("tensor \(span.name) overlaps the previous tensor's bytes") }
            if span.begin > expected { throw fail("gap before tensor \(span.name) in the data section") }
            expected = span.end
        }
        if expected != dataLength {
            throw fail("data section has \(dataLength) bytes but tensors cover \(expected)")
        }
        result.names = spans.map(\.name)
        return result
    }

    /// An integral JSON number as Int (JSONSerialization yields NSNumber / Int / Double).
    private static func exactInt(_ value: Any) -> Int? {
        if let i = value as? Int { return i }
        if let d = value as? Double, d == d.rounded(), abs(d) < 9e15 { return Int(d) }
        return nil
    }

    // MARK: Writing

    /// The file's bytes: header padded with spaces to a multiple of 8, tensors in ``names`` order.
    public func serialized() -> [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(JSONText.quote($0)):\(JSONText.quote(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let shape = t.shape.map(String.init).joined(separator: ",")
            entries.append("\(JSONText.quote(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let length = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        out += header
        for name in names { out += tensors[name]!.bytes }
        return out
    }

    public func write(to path: String) throws {
        try Files.writeAtomically(serialized(), to: path)
    }
}
