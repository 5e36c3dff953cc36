/// Per-token vectors of a batch of sentences: [B, L, D] with L the longest sentence, plus lengths.
/// Rows past a sentence's length are zero and masked out by heads.
public struct TokenVectors: Sendable {
    public var vectors: Tensor<Float>
    public var lengths: [Int]
    public init(vectors: Tensor<Float>, lengths: [Int]) {
        self.vectors = vectors
        self.lengths = lengths
    }
    public var batch: Int { vectors.shape[0] }
    public var maxLength: Int { vectors.shape[1] }
    public var dimension: Int { vectors.shape[2] }
}

/// An encoder's output for a batch, with the pullback that takes the loss's gradient w.r.t. those vectors
/// back into the encoder (a typed closure over whatever the encoder kept from its forward pass).
public struct EncodedBatch {
    public var vectors: TokenVectors
    /// dL/d`vectors` [B, L, D] → accumulates the encoder's parameter gradients (a no-op when frozen).
    public let backward: (Tensor<Float>) -> Void

    public init(vectors: TokenVectors, backward: @escaping (Tensor<Float>) -> Void) {
        self.vectors = vectors
        self.backward = backward
    }
}

/// Token lists → per-token vectors. An encoder may be trainable; its pullback then accumulates into
/// ``parameters``.
public protocol Encoder: AnyObject {
    /// The width D of every token vector, known once the encoder is built.
    var dimension: Int { get }
    /// Parameters the optimizer updates (empty when frozen).
    var parameters: [Parameter<Float>] { get }
    /// Called once with every sentence of the task before training, e.g. to load only the words the
    /// data needs, or to compute frozen features once.
    func prepare(_ sentences: [[String]]) throws
    /// Vectors for a batch [B, L, D] (rows past a sentence's length zero), and their pullback.
    func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> EncodedBatch
    /// Whether a sentence of n tokens gets n + 2 rows, its first and last for `<S>` and `</S>` (ELMo).
    var addsSentenceBoundaries: Bool { get }
}

extension Encoder {
    public var addsSentenceBoundaries: Bool { false }
}

/// A head's logits for a batch, with the pullback to the token vectors.
public struct HeadOutput {
    public var logits: Tensor<Float>
    /// dL/d`logits` [B, C] → dL/d(token vectors) [B, L, D] (zero past each sentence's length); accumulates
    /// the head's parameter gradients.
    public let backward: (Tensor<Float>) -> Tensor<Float>

    public init(logits: Tensor<Float>, backward: @escaping (Tensor<Float>) -> Tensor<Float>) {
        self.logits = logits
        self.backward = backward
    }
}

/// Per-token vectors → class logits [B, C].
public protocol Head: AnyObject {
    var parameters: [Parameter<Float>] { get }
    func forward(_ input: TokenVectors, training: Bool, rng: inout SeededRandom) -> HeadOutput
}

/// What every encoder factory may use besides its own options. It names no concrete model: an encoder's
/// files come through its own options.
public struct EncoderContext: Sendable {
    /// Fine-tune the encoder's own weights too.
    public var trainable: Bool
    public var seed: UInt64
    /// The registry this encoder is made from, so that a composite (`concat`) can make its parts.
    public var encoders: EncoderRegistry?
    /// Option values for the encoder of a given name wherever it is built (alone or as a part), below the
    /// options given explicitly: how a program's aliases (`--init-from-ckpt` for `elmo`'s `checkpoint`)
    /// reach the encoder that reads them.
    public var optionDefaults: [String: [String: String]]

    public init(trainable: Bool = false, seed: UInt64 = 2020, encoders: EncoderRegistry? = nil,
                optionDefaults: [String: [String: String]] = [:]) {
        self.trainable = trainable
        self.seed = seed
        self.encoders = encoders
        self.optionDefaults = optionDefaults
    }
}

public struct HeadContext: Sendable {
    public var inputDimension: Int
    public var classes: Int
    public var seed: UInt64
    public init(inputDimension: Int, classes: Int, seed: UInt64) {
        self.inputDimension = inputDimension
        self.classes = classes
        self.seed = seed
    }
}

public typealias EncoderRegistry = Registry<EncoderContext, any Encoder>
public typealias HeadRegistry = Registry<HeadContext, any Head>

extension Registry where Context == EncoderContext {
    /// Builds the encoder `name` from `options` over the context's ``EncoderContext/optionDefaults`` for it.
    public func makeEncoder(_ name: String, options: [String: String] = [:], context: EncoderContext) throws -> Product {
        let merged = (context.optionDefaults[name] ?? [:]).merging(options) { _, explicit in explicit }
        return try make(name, options: merged, context: context)
    }
}
