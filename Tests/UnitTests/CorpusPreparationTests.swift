import Foundation
import Framework
import Models
import Testing
import TestSupport

@Suite("Pretraining corpora from raw IMDB reviews and WikiExtractor articles")
struct CorpusPreparationTests {
    @Test func sentenceSplitting() {
        #expect(PretrainingText.splitSentences("Mr. Smith went home. He slept!") == ["Mr. Smith went home.", " He slept!"])
        // Periods without a following space stay inside (IMDB's "awesome.Easy", decimals, URLs).
        #expect(PretrainingText.splitSentences("It was awesome.Easy to use. 3.5 stars") == ["It was awesome.Easy to use.", " 3.5 stars"])
        // Closing quotes and brackets stay with their sentence; runs of ?! are one end.
        #expect(PretrainingText.splitSentences("He said \"no.\" Then (really?!) he left...") ==
                ["He said \"no.\"", " Then (really?!)", " he left..."])
        // Initials are not ends.
        #expect(PretrainingText.splitSentences("J. R. R. Tolkien wrote it. Fine.") == ["J. R. R. Tolkien wrote it.", " Fine."])
        // HTML breaks end a sentence; U+0085 and U+2028 are text, not line ends.
        #expect(PretrainingText.splitSentences("great film<br /><br />bad end") == ["great film", "bad end"])
        #expect(PretrainingText.splitSentences("one\u{85}two\u{2028}three") == ["one\u{85}two\u{2028}three"])
        #expect(PretrainingText.tokenizedSentences("I didn't like it.<br />It's (very) bad!\u{85}") ==
                [["i", "did", "n't", "like", "it"], ["it", "'s", "\\(", "very", "\\)", "bad", "!"]])
    }

    @Test func wikiExtractorHeadings() {
        #expect(PretrainingText.isWikiExtractorHeading("Etymology and terminology."))
        #expect(PretrainingText.isWikiExtractorHeading("First International and the Paris Commune."))
        #expect(!PretrainingText.isWikiExtractorHeading("It rained, and then it stopped."))
        #expect(!PretrainingText.isWikiExtractorHeading("He was born in 1921. He died young."))
        #expect(!PretrainingText.isWikiExtractorHeading("This paragraph has many more words than any section heading would have."))
        #expect(!PretrainingText.isWikiExtractorHeading(" George Woodcock states:"))
    }

    /// A small IMDB folder (with test reviews that must never be read) and a WikiExtractor folder.
    static func sources() throws -> (imdb: String, wiki: String) {
        let d = RepositoryPaths.temporaryDirectory("corpus-sources")
        try FileManager.default.createDirectory(atPath: "\(d)/imdb", withIntermediateDirectories: true)
        var reviews: [String: String] = [:]
        for split in ["train_pos", "train_neg", "train_unsup"] {
            reviews[split] = (0..<20).map { "Review \($0) of \(split) is here. It was fine!<br /><br />The end came soon\n" }.joined()
        }
        reviews["test_pos"] = "Secretword appears only in test reviews here.\n"
        reviews["test_neg"] = "Secretword appears only in test reviews here.\n"
        for (split, text) in reviews { try text.write(toFile: "\(d)/imdb/\(split).txt", atomically: true, encoding: .utf8) }
        try FileManager.default.createDirectory(atPath: "\(d)/wiki/AA", withIntermediateDirectories: true)
        try """
        <doc id="12" url="http://en.wikipedia.org/wiki?curid=12" title="Anarchism">
        Anarchism

        Anarchism is a political philosophy. It has many currents of thought.
        History.
        The earliest themes can be found in antiquity.
        </doc>
        <doc id="25" url="http://en.wikipedia.org/wiki?curid=25" title="Autism">
        Autism

        Autism is a disorder of neural development. Diagnosis is based on behaviour.
        </doc>

        """.write(toFile: "\(d)/wiki/AA/wiki_00", atomically: true, encoding: .utf8)
        return ("\(d)/imdb", "\(d)/wiki")
    }

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func buildsShuffledShardsHeldOutSetAndVocabulary() throws {
        let (imdb, wiki) = try Self.sources()
        let out = RepositoryPaths.temporaryDirectory("corpus-out")
        var builder = PretrainingCorpusBuilder(sources: [.imdb(directory: imdb), .wikiExtractor(directory: wiki)], output: out)
        builder.name = "test"
        builder.shards = 3
        builder.heldoutFraction = 0.3
        builder.minTokens = 2
        builder.minCount = 1
        let summary = try builder.build()
        #expect(summary.trainingFiles.map { ($0 as NSString).lastPathComponent } ==
                ["test.en-00001-of-00003", "test.en-00002-of-00003", "test.en-00003-of-00003"])
        let train = try summary.trainingFiles.flatMap(Self.lines)
        let heldout = try Self.lines(summary.heldoutFile)
        #expect(train.count == summary.trainSentences && heldout.count == summary.heldoutSentences)
        #expect(summary.documents == 62)
        // Every sentence of the sources lands once, cleaned; titles, headings and markup do not; test reviews never.
        var expected: [String] = []
        for split in ["train_pos", "train_neg", "train_unsup"] {
            for i in 0..<20 { expected += [SentencePolarity.cleanString("Review \(i) of \(split) is here"), "it was fine !", "the end came soon"] }
        }
        expected += ["anarchism is a political philosophy", "it has many currents of thought",
                     "the earliest themes can be found in antiquity",
                     "autism is a disorder of neural development", "diagnosis is based on behaviour"]
        #expect((train + heldout).sorted() == expected.sorted())
        #expect(!(train + heldout).contains { $0.contains("secretword") || $0.contains("history") || $0.contains("doc") })
        // Whole documents are held out: each review's three sentences are on one side.
        for i in 0..<20 {
            let first = SentencePolarity.cleanString("Review \(i) of train_unsup is here")
            if heldout.contains(first) { #expect(heldout.firstIndex(of: first).map { heldout[$0 + 1] } == "it was fine !") }
        }
        #expect(summary.heldoutDocuments > 0 && summary.heldoutDocuments < summary.documents)
        // The shards are shuffled, not in source order.
        #expect(train != train.sorted() && train.filter { $0.hasPrefix("review") } != expected.filter { $0.hasPrefix("review") })
        // Vocabulary: bilm-tf's specials, then the training words by count.
        let vocabulary = try Vocabulary(contentsOf: summary.vocabularyFile)
        #expect(Array(vocabulary.tokens.prefix(3)) == ["<S>", "</S>", "<UNK>"])
        for word in Set(train.flatMap { $0.split(separator: " ").map(String.init) }) { #expect(vocabulary.contains(word)) }
        #expect(!vocabulary.contains("secretword"))
        let manifest = try String(contentsOfFile: "\(out)/manifest.json", encoding: .utf8)
        #expect(manifest.contains("\"train_sentences\": \(summary.trainSentences)") && manifest.contains("train_unsup.txt") && !manifest.contains("test_pos"))
        // The same seed gives the same corpus.
        let again = RepositoryPaths.temporaryDirectory("corpus-again")
        builder.output = again
        let second = try builder.build()
        #expect(try second.trainingFiles.map(Self.lines) == summary.trainingFiles.map(Self.lines))
        // Which documents are held out does not depend on how many sentences the others yield.
        builder.output = RepositoryPaths.temporaryDirectory("corpus-longer")
        builder.minTokens = 5
        let third = try builder.build()
        #expect(third.heldoutDocuments == summary.heldoutDocuments)
        #expect(try Self.lines(third.heldoutFile) == Self.lines(summary.heldoutFile).filter { $0.split(separator: " ").count >= 5 })
    }

    @Test func rewritesThePublishedIMDBLayout() throws {
        let d = RepositoryPaths.temporaryDirectory("aclimdb")
        for folder in ["train/pos", "train/neg", "train/unsup", "test/pos", "test/neg"] {
            try FileManager.default.createDirectory(atPath: "\(d)/aclImdb/\(folder)", withIntermediateDirectories: true)
        }
        // Numeric order of ID (2 before 10), CR and LF to spaces, outer white space stripped, U+0085 kept.
        try "  Ten\r\nlines \n".write(toFile: "\(d)/aclImdb/train/pos/10_8.txt", atomically: true, encoding: .utf8)
        try "Two\u{85}here".write(toFile: "\(d)/aclImdb/train/pos/2_9.txt", atomically: true, encoding: .utf8)
        try "unlabelled".write(toFile: "\(d)/aclImdb/train/unsup/0_0.txt", atomically: true, encoding: .utf8)
        let counts = try IMDBReviews.writeLines(from: "\(d)/aclImdb", to: "\(d)/imdb")
        #expect(counts == ["train_pos": 2, "train_neg": 0, "train_unsup": 1, "test_pos": 0, "test_neg": 0])
        #expect(try String(contentsOfFile: "\(d)/imdb/train_pos.txt", encoding: .utf8) == "Two\u{85}here\nTen  lines\n")
        #expect(try String(contentsOfFile: "\(d)/imdb/train_pos.ids", encoding: .utf8) == "2_9.txt\n10_8.txt\n")
        #expect(try String(contentsOfFile: "\(d)/imdb/train_neg.txt", encoding: .utf8) == "")
        #expect(throws: InputError.self) { try IMDBReviews.writeLines(from: "\(d)/nothing", to: "\(d)/out") }
    }

    @Test func commandLine() throws {
        let (imdb, _) = try Self.sources()
        let out = RepositoryPaths.temporaryDirectory("corpus-cli")
        let run = try BadInputTests.run(["data", "prepare", "--imdb", imdb, "--output", out, "--shards", "2", "--min-count", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("held out") && run.stdout.contains("\(out)/vocab.txt"))
        #expect(FileManager.default.fileExists(atPath: "\(out)/training-tokenized-shuffled/imdb.en-00002-of-00002"))
        try BadInputTests.expectRejected(["data", "prepare", "--output", out], mentions: ["--imdb", "--wikipedia"])
        try BadInputTests.expectRejected(["data", "prepare", "--imdb", "\(out)/missing", "--output", out], mentions: ["--imdb file", "train_pos.txt"])
        try BadInputTests.expectRejected(["data", "prepare", "--wikipedia", imdb, "--output", out], mentions: ["--wikipedia", "no WikiExtractor files"])
        try BadInputTests.expectRejected(["data", "prepare", "--imdb", imdb, "--output", out, "--shards", "0"], mentions: ["--shards 0"])
        try BadInputTests.expectRejected(["data", "prepare", "--imdb", imdb, "--output", out, "--heldout-fraction", "1"], mentions: ["--heldout-fraction"])
        try BadInputTests.expectRejected(["data", "prepare", "--imdb", imdb, "--output", out, "--min-tokens", "500"], mentions: ["--max-tokens"])
    }
}
