import Foundation
import Framework

/// The Large Movie Review Dataset (Maas et al. 2011) as published (`aclImdb/{train,test}/{pos,neg,unsup}/ID_RATING.txt`,
/// one review per file), rewritten in the one-review-per-line layout that `elmo data prepare --imdb` reads:
/// `SPLIT.txt` (each review's bytes with CR and LF turned into spaces, outer white space stripped, in numeric
/// order of ID) and `SPLIT.ids` (each line's original file name). SPLIT is train_pos, train_neg, train_unsup,
/// test_pos, test_neg.
public enum IMDBReviews {
    public static let splits = [("train_pos", "train/pos"), ("train_neg", "train/neg"), ("train_unsup", "train/unsup"),
                                ("test_pos", "test/pos"), ("test_neg", "test/neg")]

    /// Rewrites `aclImdb` (the extracted folder) into `output`; returns the number of reviews per split.
    @discardableResult
    public static func writeLines(from aclImdb: String, to output: String) throws -> [String: Int] {
        try Files.ensureDirectory(output, role: "IMDB output")
        var counts: [String: Int] = [:]
        for (split, folder) in splits {
            let directory = "\(aclImdb)/\(folder)"
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
                throw InputError("\(directory): missing (not an extracted aclImdb_v1.tar.gz?)")
            }
            let reviews = try names.filter { $0.hasSuffix(".txt") }.map { name -> (id: Int, name: String) in
                guard let id = Int(name.prefix(while: { $0 != "_" })) else {
                    throw InputError("\(directory)/\(name): expected a file named ID_RATING.txt")
                }
                return (id, name)
            }.sorted { $0.id < $1.id }
            try Files.writeAtomically(to: "\(output)/\(split).txt") { append in
                for review in reviews {
                    var bytes = try Files.readBytes("\(directory)/\(review.name)", role: "IMDB review")
                    for i in bytes.indices where bytes[i] == 0x0D || bytes[i] == 0x0A { bytes[i] = 0x20 }
                    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0B || $0 == 0x0C }
                    let text = bytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed() + [0x0A]
                    try text.withUnsafeBytes(append)
                }
            }
            try Files.writeAtomically(Array(reviews.map { $0.name + "\n" }.joined().utf8), to: "\(output)/\(split).ids")
            counts[split] = reviews.count
        }
        return counts
    }
}
