import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr: on a terminal one line redrawn in place (a bar, rate, loss, ETA); otherwise
/// nothing here — callers print periodic plain lines, which is what logs and pipes want.
public final class ProgressLine {
    public let total: Int?
    public let unit: String
    /// What the rate counts ("tokens" for training, the unit itself for `embed`).
    public let rateUnit: String
    public let isTerminal = isatty(STDERR_FILENO) != 0
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var drawn = false

    public init(total: Int?, unit: String, rateUnit: String = "tokens") {
        self.total = total
        self.unit = unit
        self.rateUnit = rateUnit
    }

    /// Redraws at most 5 times a second.
    public func update(done: Int, rate: Double, detail: String) {
        guard isTerminal, Date().timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = Date()
        var line = ""
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * 24)
            line += "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: 24 - filled) + "] "
            line += "\(done)/\(total) \(unit)"
            let elapsed = Date().timeIntervalSince(start)
            if fraction > 0 { line += "  ETA " + Self.duration(elapsed / fraction - elapsed) }
        } else {
            line += "\(done) \(unit)"
        }
        line += String(format: "  %.0f ", rate) + rateUnit + "/s  " + detail
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        drawn = true
    }

    /// Clears the line before a normal log line is printed.
    public func clear() {
        guard isTerminal, drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
        drawn = false
    }

    public static func duration(_ seconds: Double) -> String {
        let s = Int(max(seconds, 0).rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
