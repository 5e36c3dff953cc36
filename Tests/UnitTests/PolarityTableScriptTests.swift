import Foundation
import Testing
import TestSupport

/// `scripts/polarity-table` with a stand-in for `elmo` (prints a `train` result line, records its arguments): the
/// committed log (`LOG=`) is appended once per run and reused by name and flags, so a table whose run directory was
/// lost continues without running again what it holds; a failed run stops the table and is not logged.
@Suite("scripts/polarity-table: the run log", .serialized)
struct PolarityTableScriptTests {
    struct Table { var outcome: ProcessOutcome; var calls: [String] }

    static let directory = RepositoryPaths.temporaryDirectory("polarity-table")

    /// A fake `elmo`: accuracy 0.71 for seed 1, 0.72 for fold 2, 0.70 otherwise; no result line when FAKE_FAIL is set.
    static let fakeBinary: String = {
        let path = "\(directory)/fake-elmo"
        let script = """
            #!/bin/sh
            echo "$*" >> "$FAKE_CALLS"
            [ -n "${FAKE_FAIL:-}" ] && { echo "fake failure" >&2; exit 1; }
            acc=0.70
            case "$* " in *"--seed 1 "*) acc=0.71 ;; *"--fold 2 "*) acc=0.72 ;; esac
            echo "epoch 1/1  loss 0.5"
            echo "{\\"test_acc\\": $acc, \\"encoder\\": \\"fake\\"}"

            """
        try! script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }()

    static func table(out: String, log: String, rows: String, extra: [String: String] = [:]) throws -> Table {
        let calls = "\(directory)/calls-\(UUID().uuidString)"
        precondition(FileManager.default.createFile(atPath: calls, contents: nil))
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in ["OUT": "\(directory)/\(out)", "LOG": log, "ROWS": rows, "FOLDS": "2", "BIN": fakeBinary,
                             "W2V": "vectors-a.bin", "FAKE_CALLS": calls] { environment[key] = value }
        for (key, value) in extra { environment[key] = value }
        let outcome = try runToEnd(RepositoryPaths.path("scripts/polarity-table"), [], environment: environment)
        return Table(outcome: outcome, calls: try String(contentsOfFile: calls, encoding: .utf8).split(separator: "\n").map(String.init))
    }

    static func logLines(_ log: String) -> [[String]] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
    }

    @Test func runsAreLoggedOnceAndReusedByNameAndFlags() throws {
        let log = "\(Self.directory)/runs.tsv"
        let first = try Self.table(out: "first", log: log, rows: "random")
        #expect(first.outcome.status == 0, "\(first.outcome.stderr)")
        #expect(first.calls.count == 5)   // three seeds, two folds
        #expect(first.outcome.stdout.contains("| random | 0.7000 / 0.7100 / 0.7000 (0.7033 ± 0.0047) | 0.7100 ± 0.0100 |"), "\(first.outcome.stdout)")
        let lines = Self.logLines(log)
        #expect(lines.map { $0[0] } == ["random-split-2020", "random-split-1", "random-split-2", "random-fold-1-of-2", "random-fold-2-of-2"])
        #expect(lines.map { $0[1] } == ["0.70", "0.71", "0.70", "0.70", "0.72"])
        #expect(lines[3][2] == "--encoder random --folds 2 --fold 1")

        // The run directory lost: a new OUT with the same log runs nothing and prints the same row.
        let again = try Self.table(out: "second", log: log, rows: "random")
        #expect(again.outcome.status == 0 && again.calls.isEmpty, "\(again.calls)")
        #expect(again.outcome.stdout == first.outcome.stdout)
        #expect(Self.logLines(log).count == 5)

        // A run missing from the log is the only one run again.
        let kept = Self.logLines(log).filter { $0[0] != "random-fold-2-of-2" }.map { $0.joined(separator: "\t") }
        try (kept.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        let one = try Self.table(out: "third", log: log, rows: "random")
        #expect(one.calls == ["train --encoder random --folds 2 --fold 2 --save-dir \(Self.directory)/third/random-fold-2-of-2"])
        #expect(one.outcome.stdout == first.outcome.stdout)

        // Other flags (another word2vec file) are other runs: nothing reused.
        _ = try Self.table(out: "w2v-a", log: log, rows: "w2v-frozen")
        let otherFile = try Self.table(out: "w2v-b", log: log, rows: "w2v-frozen", extra: ["W2V": "vectors-b.bin"])
        #expect(otherFile.calls.count == 5)
        #expect(Self.logLines(log).count == 15)
    }

    @Test func aFailedRunStopsTheTableAndIsNotLogged() throws {
        let log = "\(Self.directory)/failing.tsv"
        let failed = try Self.table(out: "failing", log: log, rows: "random", extra: ["FAKE_FAIL": "1"])
        #expect(failed.outcome.status == 1)
        #expect(failed.outcome.stderr.contains("random-split-2020.json failed"), "\(failed.outcome.stderr)")
        #expect(failed.calls.count == 1)
        #expect(!FileManager.default.fileExists(atPath: log) || Self.logLines(log).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(Self.directory)/failing/random-split-2020.json"))
    }
}
