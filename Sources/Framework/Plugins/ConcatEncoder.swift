import Foundation

/// Several encoders side by side: each token's vector is the concatenation of its parts' vectors, as
/// Peters et al. (2018, §3.3) feed a task model `[x_k; ELMo_k]` — a word embedding beside the ELMo vector.
///
/// Parts are registered encoders, built through the same registry with the same context. Options
/// `PART.KEY=VALUE` go to that part (`elmo.layers=mix`); `PART.trainable=true|false` overrides
/// `--trainable` for that part alone, so ELMo can stay frozen (its features cached) while word vectors train.
///
/// `normalize=layer` puts each part's token vectors through a ``LayerNorm`` (mean 0, variance 1 per token) before
/// they are joined. Parts arrive at very different scales (pooled word2vec dimensions vary about 7× less than ELMo's
/// top layer), and a head trained by Adam then learns from the larger part first and overfits it before the smaller
/// part is used; normalized, both start even. Peters et al. (2018) likewise layer-normalize biLM layers before mixing.
///
/// Token alignment: an encoder that adds sentence boundaries (ELMo's `<S>`/`</S>`) gives n + 2 rows
/// per sentence. When any part does, the output has n + 2 rows and the other parts' n rows sit at
/// rows 1…n, with zero vectors at the boundaries.
public final class ConcatEncoder: Encoder {
    /// The name it was registered and asked for by, for messages.
    public let name: String
    public let partNames: [String]
    public let parts: [any Encoder]
    public let normalization: Normalization

    /// What is done to each part's vectors before they are joined.
    public enum Normalization: String, CaseIterable, Sendable, OptionValue { case none, layer }

    public init(name: String, partNames: [String], parts: [any Encoder], normalization: Normalization = .none) {
        precondition(partNames.count == parts.count && !parts.isEmpty)
        self.name = name
        self.partNames = partNames
        self.parts = parts
        self.normalization = normalization
    }

    public var dimension: Int { parts.reduce(0) { $0 + $1.dimension } }
    public var addsSentenceBoundaries: Bool { parts.contains { $0.addsSentenceBoundaries } }
    public var parameters: [Parameter<Float>] { parts.flatMap(\.parameters) }

    public func prepare(_ sentences: [[String]]) throws {
        for part in parts { try part.prepare(sentences) }
        // Optimizers keep their state by parameter name, so two parts must not share one.
        var owner: [String: String] = [:]
        for (partName, part) in zip(partNames, parts) {
            for p in part.parameters {
                if let other = owner[p.name] {
                    throw InputError("encoder \(name): parts \(other) and \(partName) both have a parameter named \(p.name); they cannot train side by side")
                }
                owner[p.name] = partName
            }
        }
    }

    /// Where one part's vectors sit in the output: its row 0 lands on row `rowOffset`, its column 0 on `column`.
    struct Placement {
        var shape: [Int]
        var rowOffset: Int
        var column: Int
    }

    public func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> EncodedBatch {
        let boundaries = addsSentenceBoundaries
        let lengths = sentences.map { $0.count + (boundaries ? 2 : 0) }
        let b = sentences.count, l = max(lengths.max() ?? 0, 1), d = dimension
        var out = Tensor<Float>(shape: [b, l, d])
        var pullbacks: [(placement: Placement, backward: (Tensor<Float>) -> Void)] = []
        var column = 0
        for part in parts {
            let encoded = part.forward(sentences, training: training, rng: &rng)
            var vectors = encoded.vectors
            var partBackward = encoded.backward
            if normalization == .layer {
                let norm = LayerNorm<Float>()
                let (normalized, cache) = norm.forward(vectors.vectors)
                vectors = TokenVectors(vectors: normalized, lengths: vectors.lengths)
                partBackward = { [backward = encoded.backward] dy in backward(norm.backward(dy, cache: cache)) }
            }
            let rowOffset = boundaries && !part.addsSentenceBoundaries ? 1 : 0
            let partL = vectors.maxLength, partD = vectors.dimension
            precondition(partD == part.dimension && vectors.batch == b, "encoder \(name): a part returned vectors of shape \(vectors.vectors.shape)")
            for (r, s) in sentences.enumerated() {
                precondition(vectors.lengths[r] == s.count + (part.addsSentenceBoundaries ? 2 : 0), "encoder \(name): a part's lengths disagree with its boundary flag")
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
            if !part.parameters.isEmpty {
                pullbacks.append((Placement(shape: vectors.vectors.shape, rowOffset: rowOffset, column: column), partBackward))
            }
            column += partD
        }
        // The pullback hands each trainable part exactly its own rows and columns of the gradient.
        return EncodedBatch(vectors: TokenVectors(vectors: out, lengths: lengths)) { dVectors in
            let l = dVectors.shape[1], d = dVectors.shape[2]
            for (placement, partBackward) in pullbacks {
                let shape = placement.shape, b = shape[0], partL = shape[1], partD = shape[2]
                var dPart = Tensor<Float>(shape: shape)
                dVectors.withUnsafeBufferPointer { src in
                    dPart.withUnsafeMutableBufferPointer { dst in
                        for r in 0..<b {
                            for t in 0..<min(partL, l - placement.rowOffset) {
                                (dst.baseAddress! + (r * partL + t) * partD)
                                    .update(from: src.baseAddress! + (r * l + t + placement.rowOffset) * d + placement.column, count: partD)
                            }
                        }
                    }
                }
                partBackward(dPart)
            }
        }
    }

    static let partsOption = PluginOption<String>("parts", default: nil, help: "comma-separated encoder names, e.g. elmo,word2vec")
    static let normalizeOption = PluginOption<Normalization>("normalize", default: Normalization.none,
                                                             help: "none, or layer: each part's token vectors to mean 0, variance 1 before joining")
    public static let optionInfos = [
        partsOption.info,
        normalizeOption.info,
        OptionInfo(key: "PART.KEY", help: "option KEY for that part, e.g. elmo.layers=mix; PART.trainable=false freezes one part"),
    ]

    /// The composite's factory: `parts=a,b`, then each `PART.KEY=VALUE` routed to its part, whose own
    /// factory checks it when the composite is built.
    public static func configure(options: inout ComponentOptions) throws -> (EncoderContext) throws -> ConcatEncoder {
        let name = options.name
        let names = try options.value(of: partsOption).split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
            throw InputError("encoder \(name): option parts=NAME,NAME… names no encoder")
        }
        if let repeated = names.first(where: { part in names.filter { $0 == part }.count > 1 }) {
            throw InputError("encoder \(name): part \(repeated) is named twice")
        }
        if names.contains(name) { throw InputError("encoder \(name): \(name) cannot be one of its own parts") }
        let normalization = try options.value(of: normalizeOption)
        // PART.trainable is read here; every other PART.KEY goes to that part's factory.
        var trainable: [String: Bool] = [:]
        for part in names {
            let key = "\(part).trainable"
            if let text = options.text(key) {
                guard let value = Bool(optionText: text) else {
                    throw InputError("encoder \(name): option \(key)=\(text) is invalid, expected true or false")
                }
                trainable[part] = value
            }
        }
        var partOptions: [String: [String: String]] = Dictionary(uniqueKeysWithValues: names.map { ($0, [:]) })
        for key in options.values.keys.sorted() where key != partsOption.key && key != normalizeOption.key && !names.contains(where: { key == "\($0).trainable" }) {
            let value = options.text(key)!
            let pieces = key.split(separator: ".", maxSplits: 1).map(String.init)
            guard pieces.count == 2, partOptions[pieces[0]] != nil else {
                throw InputError("encoder \(name): option \(key) names no part; expected PART.KEY=VALUE with PART one of \(names.joined(separator: ", "))")
            }
            partOptions[pieces[0]]![pieces[1]] = value
        }
        return { context in
            guard let registry = context.encoders else {
                throw RuntimeFailure("encoder \(name) needs the encoder registry in its context")
            }
            let parts: [any Encoder] = try names.map { part in
                var partContext = context
                partContext.trainable = trainable[part] ?? context.trainable
                return try registry.makeEncoder(part, options: partOptions[part]!, context: partContext)
            }
            return ConcatEncoder(name: name, partNames: names, parts: parts, normalization: normalization)
        }
    }
}
