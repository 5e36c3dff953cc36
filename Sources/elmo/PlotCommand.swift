import ArgumentParser
import CLISupport
import Foundation
import Framework

/// `elmo plot RUN_DIR`: the curves of `metrics.jsonl` as an SVG a person would look at.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot", abstract: "Draw the loss and perplexity curves of a run directory's metrics.jsonl as SVG.")

    @Argument(help: "Run directory (with metrics.jsonl).") var runDir: String
    @Option(help: "Output SVG (default RUN_DIR/curves.svg).") var output: String?

    func run() throws {
        let path = "\(runDir)/metrics.jsonl"
        let bytes = try Files.readBytes(path, role: "metrics file")
        guard let text = String(validatingUTF8Bytes: bytes) else { throw InputError("metrics file \(path): not valid UTF-8") }
        var series: [String: [(Double, Double)]] = [:]
        var xKey = "step"
        for (n, line) in text.split(separator: "\n").enumerated() {
            let object = try JSONText.parseObject(Array(line.utf8), source: "metrics file \(path) line \(n + 1)")
            if object["step"] == nil, object["epoch"] != nil { xKey = "epoch" }
            guard let x = (object[xKey] as? NSNumber)?.doubleValue else { continue }
            let fold = (object["fold"] as? NSNumber)?.intValue ?? 0
            let xValue = xKey == "epoch" && fold > 0 ? x + Double(fold) * 1000 : x
            if fold > 0 { continue }   // one curve per quantity: the first fold
            for (key, value) in object where key != xKey && key != "fold" {
                guard let number = value as? NSNumber, !JSONText.isBoolean(value), number.doubleValue.isFinite else { continue }
                series[key, default: []].append((xValue, number.doubleValue))
            }
        }
        let panels = ["loss", "perplexity", "dev_acc"].filter { series[$0] != nil }
        guard !panels.isEmpty else { throw InputError("metrics file \(path): has no loss, perplexity or dev_acc values") }
        let svg = Self.svg(panels: panels.map { ($0, series[$0]!) }, xLabel: xKey, title: runDir)
        let destination = output ?? "\(runDir)/curves.svg"
        try Files.writeAtomically(Array(svg.utf8), to: destination)
        print("wrote \(destination)")
    }

    /// One panel per quantity, stacked; linear axes with round tick values; log scale for perplexity.
    static func svg(panels: [(String, [(Double, Double)])], xLabel: String, title: String) -> String {
        let width = 720.0, panelHeight = 260.0, left = 70.0, right = 20.0, top = 40.0, gap = 60.0
        let height = top + Double(panels.count) * (panelHeight + gap)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(left)\" y=\"22\" font-size=\"15\">\(escape(title))</text>\n"
        for (index, (name, points)) in panels.enumerated() {
            let logScale = name == "perplexity"
            let y0 = top + Double(index) * (panelHeight + gap) + 10, plotHeight = panelHeight - 30
            let xs = points.map(\.0), ys = points.map { logScale ? Foundation.log10(max($0.1, 1e-9)) : $0.1 }
            let (xMin, xMax) = (xs.min()!, max(xs.max()!, xs.min()! + 1))
            var (yMin, yMax) = (ys.min()!, ys.max()!)
            if yMax - yMin < 1e-9 { yMin -= 0.5; yMax += 0.5 }
            func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * (width - left - right) }
            func py(_ y: Double) -> Double { y0 + plotHeight - (y - yMin) / (yMax - yMin) * plotHeight }
            out += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(width - left - right)\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"#888\"/>\n"
            for k in 0...4 {
                let y = yMin + (yMax - yMin) * Double(k) / 4, label = logScale ? Foundation.pow(10, y) : y
                out += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(py(y))\" y2=\"\(py(y))\" stroke=\"#eee\"/>"
                out += "<text x=\"\(left - 6)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(format(label))</text>\n"
                let x = xMin + (xMax - xMin) * Double(k) / 4
                out += "<text x=\"\(px(x))\" y=\"\(y0 + plotHeight + 16)\" text-anchor=\"middle\">\(format(x))</text>\n"
            }
            out += "<text x=\"\(left)\" y=\"\(y0 - 4)\" font-weight=\"bold\">\(escape(name))\(logScale ? " (log scale)" : "") vs \(xLabel)</text>\n"
            let path = zip(xs, ys).map { "\(px($0)),\(py($1))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.8\" points=\"\(path)\"/>\n"
        }
        return out + "</svg>\n"
    }

    static func format(_ x: Double) -> String {
        abs(x) >= 100 || x == x.rounded() ? String(format: "%.0f", x) : String(format: "%.3g", x)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
