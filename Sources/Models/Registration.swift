import Foundation
import Framework

/// The options of the encoders registered here, each declared once (key, type, default, help).
public enum EncoderOptions {
    public static let layers = PluginOption<ELMoEncoder<Float>.LayerChoice>("layers", default: .top, help: "which ELMo layers (mix: a learned scalar mix, as AllenNLP's)")
    public static let precision = PluginOption<ComputePrecision>("precision", default: .fp32,
                                                           help: "bf16: every product by a frozen weight in bfloat16 (AVX512-BF16 or AMX)")
    public static let checkpoint = PluginOption<String>("checkpoint", default: ShippedModels.elmo,
                                                  help: "pretrained BiLM, DIR/STEP (alias --init-from-ckpt)")
    public static let word2vecFile = PluginOption<String>("file", default: ShippedModels.word2vec,
                                                    help: "word2vec file, .bin or .txt, gzipped or not (alias --pretrained-word2vec-file)")
    public static let dimension = PluginOption<Int>.positive("dim", default: 300, help: "vector dimension")
}

/// Registers the encoders `elmo`, `word2vec`, `random` and `concat`.
public func register(into registries: inout Registries) throws {
    typealias O = EncoderOptions
    try registries.encoders.register(ComponentInfo(
        name: "elmo", summary: "pretrained BiLM, frozen unless --trainable", options: [O.layers.info, O.checkpoint.info, O.precision.info])
    ) { options in
        let (choice, checkpoint) = (try options.value(of: O.layers), try options.value(of: O.checkpoint))
        let precision = try options.value(of: O.precision)
        try precision.requireAvailable("encoder elmo: precision=")
        return { context in
            if precision == .bf16 && context.trainable {
                throw InputError("encoder elmo: precision=bf16 is for a frozen encoder (drop --trainable, or use precision=fp32)")
            }
            if !FileManager.default.fileExists(atPath: BiLMCheckpoint.parametersPath(checkpoint)) {
                let remedy = checkpoint == ShippedModels.elmo
                    ? "it ships in the repository: run from its root, or give another checkpoint"
                    : "make it with `elmo pretrain --save-dir \((checkpoint as NSString).deletingLastPathComponent)`"
                throw InputError("encoder elmo: checkpoint \(checkpoint): \(BiLMCheckpoint.parametersPath(checkpoint)) does not exist (\(remedy))")
            }
            let embedder = try ELMoEmbedder(checkpoint: checkpoint, precision: precision)
            return ELMoEncoder(embedder: embedder, choice: choice, trainable: context.trainable)
        }
    }
    try registries.encoders.register(ComponentInfo(
        name: "word2vec", summary: "word2vec vectors, frozen unless --trainable", options: [O.word2vecFile.info])
    ) { options in
        let file = try options.value(of: O.word2vecFile)
        return { context in
            if file == ShippedModels.word2vec, !FileManager.default.fileExists(atPath: file) {
                throw InputError("encoder word2vec: file \(file) does not exist (it ships in the repository: run from its root, or give another file)")
            }
            return try LookupEncoder(word2vecFile: file, trainable: context.trainable, seed: context.seed)
        }
    }
    try registries.encoders.register(ComponentInfo(
        name: "random", summary: "randomly initialised word vectors U(-0.25, 0.25), always trained", options: [O.dimension.info])
    ) { options in
        let dimension = try options.value(of: O.dimension)
        return { context in LookupEncoder(randomDimension: dimension, seed: context.seed) }
    }
    try registries.encoders.register(ComponentInfo(
        name: "concat", summary: "parts side by side per token, e.g. ELMo beside word vectors (Peters et al. §3.3)",
        options: ConcatEncoder.optionInfos)
    ) { options in
        let build = try ConcatEncoder.configure(options: &options)
        return { context in try build(context) }
    }
}
