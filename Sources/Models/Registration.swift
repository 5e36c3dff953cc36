import Foundation
import Framework

/// Registers the encoders `elmo`, `word2vec`, `random` and `concat`.
public func register(into registries: inout Registries) throws {
    try registries.encoders.register(ComponentInfo(
        name: "elmo", summary: "pretrained BiLM (--init-from-ckpt), frozen unless --trainable",
        options: [OptionSpec("layers", help: "top | mix (scalar mix) | average", default: "top")])
    ) { options, context in
        let choiceName = options.string("layers", default: "top")
        guard let choice = ELMoEncoder<Float>.LayerChoice(rawValue: choiceName) else {
            throw InputError("encoder elmo: layers \(choiceName) is not one of top, mix, average")
        }
        guard let checkpoint = context.checkpoint else {
            throw InputError("encoder elmo needs --init-from-ckpt DIR/STEP (make one with `elmo pretrain`)")
        }
        if !FileManager.default.fileExists(atPath: BiLMCheckpoint.parametersPath(checkpoint)) {
            throw InputError("--init-from-ckpt \(checkpoint): \(BiLMCheckpoint.parametersPath(checkpoint)) does not exist (make it with `elmo pretrain --save-dir \((checkpoint as NSString).deletingLastPathComponent)`)")
        }
        let embedder = try ELMoEmbedder(checkpoint: checkpoint)
        return ELMoEncoder(embedder: embedder, choice: choice, trainable: context.trainable)
    }
    try registries.encoders.register(ComponentInfo(
        name: "word2vec", summary: "word2vec vectors (--pretrained-word2vec-file, .bin/.txt, gzipped or not), frozen unless --trainable")
    ) { _, context in
        guard let file = context.word2vecFile else {
            throw InputError("encoder word2vec needs --pretrained-word2vec-file (make one with `elmo word2vec`)")
        }
        return LookupEncoder(word2vecFile: file, dimension: 0, trainable: context.trainable, seed: context.seed)
    }
    try registries.encoders.register(ComponentInfo(
        name: "random", summary: "randomly initialised word vectors U(-0.25, 0.25), always trained",
        options: [OptionSpec("dim", help: "vector dimension", default: "300")])
    ) { options, context in
        let dimension = try options.int("dim", default: 300, where: { $0 > 0 }, expected: "a positive integer")
        return LookupEncoder(word2vecFile: nil, dimension: dimension, trainable: true, seed: context.seed)
    }
    try registries.encoders.register(ComponentInfo(
        name: "concat", summary: "parts side by side per token, e.g. ELMo beside word vectors (Peters et al. §3.3)",
        options: [OptionSpec("parts", help: "comma-separated encoder names, e.g. elmo,word2vec"),
                  OptionSpec("PART.KEY", help: "option KEY for that part, e.g. elmo.layers=mix; PART.trainable=false freezes one part")])
    ) { options, context in try ConcatEncoder.make(options: &options, context: context) }
}
