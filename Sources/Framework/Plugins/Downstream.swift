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

/// Token lists → per-token vectors. An encoder may be trainable; its backward then
/// accumulates into ``parameters``.
public protocol Encoder: AnyObject {
    var dimension: Int { get }
    /// Parameters the optimizer updates (empty when frozen).
    var parameters: [Parameter<Float>] { get }
    /// Called once with every sentence of the task before training, e.g. to load only the words the
    /// data needs, or to compute frozen features once.
    func prepare(_ sentences: [[String]]) throws
    /// Vectors for a batch, and whatever its backward needs.
    func forward(_ sentences: [[String]], training: Bool, rng: inout SeededRandom) -> (TokenVectors, Any)
    /// Gradient of the loss w.r.t. the vectors → parameter gradients (no-op when frozen).
    func backward(_ dVectors: Tensor<Float>, cache: Any)
    /// Whether a sentence of n tokens gets n + 2 rows, its first and last for `<S>` and `</S>` (ELMo).
    var addsSentenceBoundaries: Bool { get }
}

extension Encoder {
    public var addsSentenceBoundaries: Bool { false }
}

/// Per-token vectors → class logits [B, C].
public protocol Head: AnyObject {
    var parameters: [Parameter<Float>] { get }
    func forward(_ input: TokenVectors, training: Bool, rng: inout SeededRandom) -> (Tensor<Float>, Any)
    /// dLogits → dVectors [B, L, D] (zero past each sentence's length).
    func backward(_ dLogits: Tensor<Float>, cache: Any) -> Tensor<Float>
}

/// What every encoder factory may use besides its own options.
public struct EncoderContext: Sendable {
    /// `--init-from-ckpt` (a pretrained model, DIR/STEP).
    public var checkpoint: String?
    /// `--pretrained-word2vec-file`.
    public var word2vecFile: String?
    /// `--trainable`: fine-tune the encoder's own weights too.
    public var trainable: Bool
    public var seed: UInt64
    /// The registry this encoder is made from, so that a composite (`concat`) can make its parts.
    public var encoders: EncoderRegistry?
    public init(checkpoint: String? = nil, word2vecFile: String? = nil, trainable: Bool = false, seed: UInt64 = 2020,
                encoders: EncoderRegistry? = nil) {
        self.checkpoint = checkpoint
        self.word2vecFile = word2vecFile
        self.trainable = trainable
        self.seed = seed
        self.encoders = encoders
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
