import Foundation

/// Several encoders side by side: each token's vector is the concatenation of its parts' vectors, as
/// Peters et al. (2018, §3.3) feed a task model `[x_k; ELMo_k]` — a word embedding beside the ELMo vector.
///
/// Parts are registered encoders, built through the same registry with the same context. Options
/// `PART.KEY=VALUE` go to that part (`elmo.layers=mix`); `PART.trainable=true|false` overrides
/// `--trainable` for that part alone, so ELMo can stay frozen (its features cached) while word vectors train.
///
/// Token alignment: an encoder that adds sentence boundaries (ELMo's `<S>`/`</S>`) gives n + 2 rows
/// per sentence. When any part does, the output has n + 2 rows and the other parts' n rows sit at
/// rows 1…n, with zero vectors at the boundaries.
public final class ConcatEncoder: Encoder {
    public let names: [String]
    public let parts: [any Encoder]

    public init(names: [String], parts: [any Encoder]) {
        precondition(names.count == parts.count && !parts.isEmpty)
        self.names = names
        self.parts = parts
    }

    public var dimension: Int { parts.reduce(0) { $0 + $1.dimension } }
    public var addsSentenceBoundaries: Bool { parts.contains { $0.addsSentenceBoundaries } }
    public var parameters: [Parameter<Float>] { parts.flatMap(\.parameters) }

    public func prepare(_ sentences: [[String]]) throws {
        for part in parts { try part.prepare(sentences) }
        // Optimizers keep their state by parameter name, so two parts must not share one.
        var owner: [String: String] = [:]
        for (name, part) in zip(names, parts) {
            for p in part.parameters {
                if let other = owner[p.name] {
                    throw InputError("encoder concat: parts \(other) and \(name) both have a parameter named \(p.name); they cannot train side by side")
                }
                owner[p.name] = name
            }
        }
    }

    struct Cache {
        var partCaches: [Any]
        /// Per part: its [B, L, D] shape and the output row its row 0 lands on.
        var shapes: [[Int]]
        var rowOffsets: [Int]
        var columnOffsets: [Int]
    }

    public func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> (TokenVectors, Any) {
        let boundaries = addsSentenceBoundaries
        let lengths = sentences.map { $0.count + (boundaries ? 2 : 0) }
        let b = sentences.count, l = max(lengths.max() ?? 0, 1), d = dimension
        var out = Tensor<Float>(shape: [b, l, d])
        var cache = Cache(partCaches: [], shapes: [], rowOffsets: [], columnOffsets: [])
        var column = 0
        for part in parts {
            let (vectors, partCache) = part.forward(sentences, training: training, rng: &rng)
            let rowOffset = boundaries && !part.addsSentenceBoundaries ? 1 : 0
            let partL = vectors.maxLength, partD = vectors.dimension
            precondition(partD == part.dimension && vectors.batch == b, "encoder concat: a part returned vectors of shape \(vectors.vectors.shape)")
            for (r, s) in sentences.enumerated() {
                precondition(vectors.lengths[r] == s.count + (part.addsSentenceBoundaries ? 2 : 0), "encoder concat: a part's lengths disagree with its boundary flag")
            }
            vectors.vectors.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for r in 0..<b {
                        for t in 0..<vectors.lengths[r] {
                            (dst.baseAddress! + (r * l + t + rowOffset) * d + column).update(from: src.baseAddress! + (r * partL + t) * partD, count: partD)
                        }
                    }
                }
            }
            cache.partCaches.append(partCache)
            cache.shapes.append(vectors.vectors.shape)
            cache.rowOffsets.append(rowOffset)
            cache.columnOffsets.append(column)
            column += partD
        }
        return (TokenVectors(vectors: out, lengths: lengths), cache)
    }

    public func backward(_ dVectors: Tensor<Float>, cache: Any) {
        let cache = cache as! Cache
        let l = dVectors.shape[1], d = dVectors.shape[2]
        for (k, part) in parts.enumerated() where !part.parameters.isEmpty {
            let shape = cache.shapes[k], b = shape[0], partL = shape[1], partD = shape[2]
            let rowOffset = cache.rowOffsets[k], column = cache.columnOffsets[k]
            var dPart = Tensor<Float>(shape: shape)
            dVectors.withUnsafeBufferPointer { src in
                dPart.withUnsafeMutableBufferPointer { dst in
                    for r in 0..<b {
                        for t in 0..<min(partL, l - rowOffset) {
                            (dst.baseAddress! + (r * partL + t) * partD).update(from: src.baseAddress! + (r * l + t + rowOffset) * d + column, count: partD)
                        }
                    }
                }
            }
            part.backward(dPart, cache: cache.partCaches[k])
        }
    }

    /// The `concat` factory: `parts=a,b`, then each `PART.KEY=VALUE` routed to its part.
    public static func make(options: inout ComponentOptions, context: EncoderContext) throws -> ConcatEncoder {
        guard let registry = context.encoders else {
            throw RuntimeFailure("encoder concat needs the encoder registry in its context")
        }
        let names = options.string("parts", default: "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
            throw InputError("encoder concat: option parts=NAME,NAME… is required (encoders: \(registry.names.filter { $0 != "concat" }.joined(separator: ", ")))")
        }
        if let repeated = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw InputError("encoder concat: part \(repeated) is named twice")
        }
        if names.contains("concat") { throw InputError("encoder concat: concat cannot be one of its own parts") }
        // PART.trainable is read here; every other PART.KEY goes to that part's factory.
        var trainable: [String: Bool] = [:]
        for name in names { trainable[name] = try options.bool("\(name).trainable", default: context.trainable) }
        var partOptions: [String: [String: String]] = Dictionary(uniqueKeysWithValues: names.map { ($0, [:]) })
        for key in options.values.keys.sorted() where key != "parts" && !names.contains(where: { key == "\($0).trainable" }) {
            let value = options.optionalString(key)!
            let pieces = key.split(separator: ".", maxSplits: 1).map(String.init)
            guard pieces.count == 2, partOptions[pieces[0]] != nil else {
                throw InputError("encoder concat: option \(key) names no part; expected PART.KEY=VALUE with PART one of \(names.joined(separator: ", "))")
            }
            partOptions[pieces[0]]![pieces[1]] = value
        }
        let parts: [any Encoder] = try names.map { name in
            var partContext = context
            partContext.trainable = trainable[name]!
            return try registry.make(name, options: partOptions[name]!, context: partContext)
        }
        return ConcatEncoder(names: names, parts: parts)
    }
}
