/// The pretrained models that ship in the repository's `models/` (each with a model card, `README.md`),
/// used by `--encoder elmo`, `--encoder word2vec` and `elmo embed` when no other file is given. Paths are
/// relative to the repository root, where the commands are run from.
public enum ShippedModels {
    /// ELMo pretrained on IMDB reviews (encoder only: `elmo.safetensors`, `options.json`, `vocab.txt`).
    public static let elmo = "models/elmo-imdb/elmo"
    /// Skip-gram vectors trained on the same corpus (word2vec binary format).
    public static let word2vec = "models/word2vec-imdb/vectors.bin"
}
